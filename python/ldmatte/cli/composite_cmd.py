"""``ldmatte composite``: a dataset's foregrounds over random backgrounds (DIM / ViTMatte style)."""
from __future__ import annotations

import sys

ORDER = 60


def register(sub) -> None:
    p = sub.add_parser(
        "composite", help="composite a dataset's kept foregrounds over random backgrounds (deterministic)",
        description="For every kept sample, pick a random background, resize it to cover the foreground (never "
        "shrinking it), crop it to the foreground's size at a random place and alpha-blend. Writes "
        "OUT/merged/<id>_<k>.png, OUT/alpha/<id>_<k>.png and OUT/mapping.jsonl. The same seed gives the same "
        "composites, whatever the order of work.",
    )  # fmt: skip
    p.add_argument("dataset", help="dataset folder (fg/, alpha/, manifest.jsonl)")
    p.add_argument("--backgrounds", required=True, help="folder of background images")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--per-fg", type=int, default=1, help="composites per foreground (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..training import composite_dataset

    try:
        records = composite_dataset(args.dataset, args.backgrounds, args.output, per_fg=args.per_fg,
                                    seed=args.seed, workers=args.workers, progress=not args.no_progress)  # fmt: skip
    except (ValueError, FileNotFoundError) as exc:
        print(f"ldmatte composite: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(records)} composites to {args.output}", file=sys.stderr)
    return 0
