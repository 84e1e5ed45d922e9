"""``ldmatte info``: version, backends, GPU, threads; ``--ray``: the Ray cluster's nodes, CPUs and GPUs."""
from __future__ import annotations

import json
import sys

ORDER = 90


def register(sub) -> None:
    p = sub.add_parser("info", help="show version, built and usable backends, GPU and thread count")
    p.add_argument("--json", action="store_true", help="print the facts as JSON")
    p.add_argument("--ray", action="store_true",
                   help="also show the Ray cluster's nodes, CPUs and GPUs (what 'ldmatte build --engine ray' would "
                   "use; starts no run)")  # fmt: skip
    p.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="Ray cluster to ask (default: RAY_ADDRESS, else a local Ray instance)")
    p.set_defaults(func=run)


def run(args) -> int:
    from .._info import info, info_dict

    cluster = None
    if args.ray or args.ray_address:
        from ..dataset.ray_engine import cluster_resources

        try:
            cluster = cluster_resources(args.ray_address)
        except (RuntimeError, ValueError) as exc:
            print(f"ldmatte info: {exc}", file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps({**info_dict(), **({"ray": cluster} if cluster is not None else {})}, indent=2))
        return 0
    info()
    if cluster is not None:
        from ..dataset.ray_engine import format_resources

        for line in format_resources(cluster):
            print(line)
    return 0
