"""``ldmatte composite``: a dataset's foregrounds over random backgrounds (DIM / ViTMatte style)."""
from __future__ import annotations

import sys

ORDER = 60


def register(sub) -> None:
    from .trimap_cmd import add_batch_options

    p = sub.add_parser(
        "composite", help="composite a dataset's kept foregrounds over random backgrounds (deterministic)",
        description="For every kept sample, pick a random background, resize it to cover the foreground (never "
        "shrinking it), crop it to the foreground's size at a random place and alpha-blend. Writes "
        "OUT/merged/<id>_<k>.png, OUT/alpha/<id>_<k>.png and OUT/mapping.jsonl. The same seed gives the same "
        "composites, whatever the order of work. OUT must be new, empty or an earlier composite output, and may "
        "not overlap the dataset's fg/ and alpha/ or the backgrounds. Exit status 1 when some samples failed or a "
        "write failed, 2 on usage errors, 130 when interrupted (Ctrl-C: the images in flight finish).",
    )  # fmt: skip
    p.add_argument("dataset", help="dataset folder (fg/, alpha/, manifest.jsonl)")
    p.add_argument("--backgrounds", required=True, help="folder of background images")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--per-fg", type=int, default=1, help="composites per foreground (default 1)")
    p.add_argument("--seed", type=int, default=0)
    add_batch_options(p, "composite")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..batch import check_count
    from ..dataset.composite_trimap import composite_dataset
    from .trimap_cmd import check_batch_options, run_batch

    try:
        check_batch_options(args)
        check_count("--per-fg", args.per_fg, 1, 10_000)
    except ValueError as exc:
        print(f"ldmatte composite: {exc}", file=sys.stderr)
        return 2
    return run_batch("composite", composite_dataset, "composites", args.output, dataset=args.dataset,
                     backgrounds=args.backgrounds, out=args.output, per_fg=args.per_fg, seed=args.seed,
                     overwrite=args.overwrite, workers=args.workers,
                     progress=not args.no_progress and sys.stderr.isatty(), max_pixels=args.max_pixels)  # fmt: skip
