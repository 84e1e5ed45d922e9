"""``ldmatte trimap``: trimaps (0 / 128 / 255) from alpha mattes with elliptical kernels."""
from __future__ import annotations

import sys

ORDER = 65


def _size(text: str):
    """'10' -> 10; '5:15' -> (5, 15), a range drawn per image."""
    parts = text.split(":")
    if len(parts) not in (1, 2) or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"kernel size must be N or LOW:HIGH, got {text!r}")
    return int(parts[0]) if len(parts) == 1 else (int(parts[0]), int(parts[1]))


def register(sub) -> None:
    p = sub.add_parser(
        "trimap", help="trimaps from alpha mattes (known regions eroded with elliptical kernels)",
        description="Known foreground (alpha >= --fg-threshold) is eroded by an ellipse of --erode pixels, known "
        "background (alpha <= --bg-threshold) by one of --dilate pixels; the rest is unknown (128). Sizes may be "
        "ranges LOW:HIGH, drawn per image from --seed and the file name. Writes OUT/<name>.png and "
        "OUT/trimaps.jsonl (the sizes used).",
    )  # fmt: skip
    p.add_argument("source", help="dataset folder (its alpha/ is used) or a folder of alpha images")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--erode", default="10", help="foreground kernel size in pixels, or LOW:HIGH (default 10)")
    p.add_argument("--dilate", default="10", help="background kernel size in pixels, or LOW:HIGH (default 10)")
    p.add_argument("--fg-threshold", type=int, default=255, help="alpha at or above this is known foreground")
    p.add_argument("--bg-threshold", type=int, default=0, help="alpha at or below this is known background")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..training import trimap_folder

    try:
        records = trimap_folder(args.source, args.output, erode=_size(args.erode), dilate=_size(args.dilate),
                                seed=args.seed, fg_threshold=args.fg_threshold,
                                bg_threshold=args.bg_threshold)  # fmt: skip
    except (ValueError, FileNotFoundError) as exc:
        print(f"ldmatte trimap: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(records)} trimaps to {args.output}", file=sys.stderr)
    return 0
