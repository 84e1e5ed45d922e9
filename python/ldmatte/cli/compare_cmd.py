"""``ldmatte compare``: side-by-side statistics and a sheet of two dataset builds (e.g. Layer Diffusion and
green screen + keying) made from the same prompts.

This module parses the options and prints; the work is :mod:`ldmatte.keying.compare`.
"""
from __future__ import annotations

import os
import sys

ORDER = 45


def register(sub) -> None:
    p = sub.add_parser(
        "compare", help="compare two dataset builds side by side (green tint, leftover haze, QC rejections)",
        description="Measure two dataset folders made by 'ldmatte build' (no ground truth needed): green tint of "
        "the foreground in the edge band, translucent background left far from the subject, alpha shares, and "
        "quality-control rejections by reason; samples of the same id (or prompt) side by side in "
        "OUTDIR/index.html, the table in OUTDIR/compare.md, everything in OUTDIR/compare.json. A non-empty "
        "OUTDIR that compare did not make is refused (--overwrite takes it). Exit status 1 when some samples "
        "could not be read or the output cannot be written (read-only, disk full), 2 on usage errors, 130 when "
        "interrupted.",
    )  # fmt: skip
    p.add_argument("dataset_a", metavar="DATASET_A")
    p.add_argument("dataset_b", metavar="DATASET_B")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="output folder (created)")
    p.add_argument("--labels", nargs=2, default=None, metavar=("A", "B"),
                   help="names of the two datasets in the table (default: their folder names)")
    p.add_argument("--sheet-limit", type=int, default=200, help="pairs shown on the sheet (default %(default)s)")
    p.add_argument("--overwrite", action="store_true", help="write into an existing folder compare did not make")
    p.add_argument("-j", "--jobs", type=int, default=None, help="worker threads (default: CPU cores, at most 8)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no table")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..batch import check_count
    from ..fileio.ownership import OutputFault, OutputFolder, UsageError, check_disjoint, fault_message, stop_on_signals
    from ..keying.compare import KIND, compare_datasets, markdown
    from ._options import fail

    labels = args.labels or [os.path.basename(os.path.normpath(d)) or d for d in (args.dataset_a, args.dataset_b)]
    try:
        check_count("--jobs", args.jobs, 1, 1024)
        check_count("--sheet-limit", args.sheet_limit, 0)
        for d in (args.dataset_a, args.dataset_b):
            if not os.path.isdir(d):
                raise UsageError(f"{d}: no such dataset folder")
        check_disjoint([args.dataset_a, args.dataset_b], [args.output])
        OutputFolder.claim(args.output, KIND, overwrite=args.overwrite)
    except OutputFault as exc:  # read-only, disk full: a fault, not a usage mistake
        return fail("compare", exc, 1)
    except (UsageError, ValueError) as exc:
        return fail("compare", exc)
    except OSError as exc:
        return fail("compare", fault_message(exc), 1)
    try:
        with stop_on_signals() as stop:
            res = compare_datasets(args.dataset_a, args.dataset_b, args.output, labels=tuple(labels),
                                   sheet_limit=args.sheet_limit, workers=args.jobs,
                                   progress=not args.quiet and sys.stderr.isatty(), stop=stop)
    except (ValueError, FileNotFoundError) as exc:
        return fail("compare", exc)
    except OSError as exc:
        return fail("compare", fault_message(exc), 1)
    for f in res.failures:
        print(f"failed: {f['input']}: {f['reason']}", file=sys.stderr)
    if not args.quiet:
        print(markdown(res.summary))
        print(f"sheet: {os.path.join(args.output, 'index.html')}")
    return 130 if res.interrupted else 1 if res.failures else 0
