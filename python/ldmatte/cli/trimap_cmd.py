"""``ldmatte trimap``: trimaps (0 / 128 / 255) from alpha mattes with elliptical kernels."""
from __future__ import annotations

import sys

ORDER = 65


def _size(text: str):
    """'10' -> 10; '5:15' -> (5, 15), a range drawn per image."""
    parts = text.split(":")
    if len(parts) not in (1, 2) or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"kernel size must be N or LOW:HIGH (whole pixels, 0 or more), got {text!r}")
    return int(parts[0]) if len(parts) == 1 else (int(parts[0]), int(parts[1]))


def add_batch_options(p, what: str) -> None:
    """--overwrite, --workers, --max-pixels, --no-progress: shared by trimap and composite."""
    p.add_argument("--overwrite", action="store_true", help=f"write into an existing folder that 'ldmatte {what}' "
                   "did not make (its files of the same names are replaced; others are left alone)")  # fmt: skip
    p.add_argument("--workers", type=int, default=None, help="worker threads (default: CPU cores, at most 4)")
    p.add_argument("--max-pixels", type=int, default=None, help="refuse larger images, checked before decoding "
                   "(default 8192 x 8192)")  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def check_batch_options(args) -> None:
    """ValueError naming the option (before anything is written)."""
    from ..batch import check_count
    from ..fileio.readwrite import DECODER_MAX_PIXELS

    check_count("--workers", args.workers, 1, 1024)
    check_count("--max-pixels", args.max_pixels, 1, DECODER_MAX_PIXELS)


def report(command: str, run, noun: str, output: str) -> int:
    """Print the failures, how the run ended and the count; return the exit status (0, 1, or 130 if interrupted)."""
    for f in run.failures:
        print(f"failed: {f.input}: {f.reason}", file=sys.stderr)
    if run.report.stopped:
        print(f"ldmatte {command}: {run.report.stopped}", file=sys.stderr)
    failed = f", {len(run.failures)} failed" if run.failures else ""
    print(f"wrote {len(run.records)} {noun} to {output}{failed}", file=sys.stderr)
    return 130 if run.interrupted else 1 if (run.failures or run.report.fault) else 0


def run_batch(command: str, fn, noun: str, output: str, **kwargs) -> int:
    """Run ``fn(**kwargs, stop=...)`` with Ctrl-C / SIGTERM as a stop flag; usage errors exit 2, faults 1."""
    from ..fileio.ownership import OutputFault, UsageError, fault_message, stop_on_signals

    try:
        with stop_on_signals() as stop:
            run = fn(**kwargs, stop=stop)
    except OutputFault as exc:  # the output folder cannot be made: read-only, disk full
        print(f"ldmatte {command}: {exc}", file=sys.stderr)
        return 1
    except (UsageError, ValueError, TypeError, FileNotFoundError, NotADirectoryError) as exc:
        print(f"ldmatte {command}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a fault before the batch (listing a folder, making the output folder)
        print(f"ldmatte {command}: {fault_message(exc)}", file=sys.stderr)
        return 1
    return report(command, run, noun, output)


def register(sub) -> None:
    p = sub.add_parser(
        "trimap", help="trimaps from alpha mattes (known regions eroded with elliptical kernels)",
        description="Known foreground (alpha >= --fg-threshold) is eroded by an ellipse of --erode pixels, known "
        "background (alpha <= --bg-threshold) by one of --dilate pixels; the rest is unknown (128). Sizes may be "
        "ranges LOW:HIGH, drawn per image from --seed and the file name. Mattes are grayscale, RGBA (the alpha) or "
        "RGB with equal channels; other RGB images (photos, foregrounds) fail one by one. Writes OUT/<name>.png and "
        "OUT/trimaps.jsonl (the sizes used). OUT must be new, empty or an earlier trimap output, and may not "
        "overlap the alpha folder. Exit status 1 when some images failed or a write failed, 2 on usage errors, "
        "130 when interrupted (Ctrl-C: the images in flight finish).",
    )  # fmt: skip
    p.add_argument("source", help="dataset folder (its alpha/ is used) or a folder of alpha images")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--erode", default="10", help="foreground kernel size in pixels (0 to 1024), or LOW:HIGH "
                   "(default 10)")  # fmt: skip
    p.add_argument("--dilate", default="10", help="background kernel size in pixels (0 to 1024), or LOW:HIGH "
                   "(default 10)")  # fmt: skip
    p.add_argument("--fg-threshold", type=int, default=255, help="alpha at or above this is known foreground")
    p.add_argument("--bg-threshold", type=int, default=0, help="alpha at or below this is known background")
    p.add_argument("--seed", type=int, default=0)
    add_batch_options(p, "trimap")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..dataset.composite_trimap import trimap_folder

    try:
        check_batch_options(args)
        erode, dilate = _size(args.erode), _size(args.dilate)
    except ValueError as exc:
        print(f"ldmatte trimap: {exc}", file=sys.stderr)
        return 2
    return run_batch("trimap", trimap_folder, "trimaps", args.output, source=args.source, out=args.output,
                     erode=erode, dilate=dilate, seed=args.seed, fg_threshold=args.fg_threshold,
                     bg_threshold=args.bg_threshold, overwrite=args.overwrite, workers=args.workers,
                     progress=not args.no_progress and sys.stderr.isatty(), max_pixels=args.max_pixels)  # fmt: skip
