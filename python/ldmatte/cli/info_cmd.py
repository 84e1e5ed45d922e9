"""``ldmatte info``: version, backends, GPU, threads."""
from __future__ import annotations

import json

ORDER = 90


def register(sub) -> None:
    p = sub.add_parser("info", help="show version, built and usable backends, GPU and thread count")
    p.add_argument("--json", action="store_true", help="print the facts as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from .._info import info, info_dict

    if args.json:
        print(json.dumps(info_dict(), indent=2))
    else:
        info()
    return 0
