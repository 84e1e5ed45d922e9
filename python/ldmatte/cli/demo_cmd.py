"""``ldmatte demo``: synthetic Layer-Diffusion-like portraits, refined, with a contact sheet and error figures.

This module parses the options and prints; the work is :func:`ldmatte.demo.run_demo`.
"""
from __future__ import annotations

import os
import sys

ORDER = 5


def register(sub) -> None:
    from .refine_cmd import add_refine_options, add_run_options

    p = sub.add_parser(
        "demo", help="refine synthetic portraits and write a before/after contact sheet (no input needed)",
        description="Make N synthetic Layer-Diffusion-like portraits (ground truth known), refine them like "
        "'ldmatte refine', write OUTDIR/index.html and print SAD/MSE before and after.",
    )  # fmt: skip
    p.add_argument("-o", "--output", default="ldmatte-demo", metavar="OUTDIR", help="folder (default %(default)s)")
    p.add_argument("-n", type=int, default=6, help="number of portraits (default %(default)s)")
    p.add_argument("--size", type=int, default=1024, help="side in pixels (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first portrait (default %(default)s)")
    add_run_options(p)
    add_refine_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..batch import check_count
    from ..batch.refine_files import check_settings, choose_device
    from ..batch.demo import prepare_folder, run_demo
    from ..fileio.ownership import stop_on_signals
    from .refine_cmd import exit_status, refine_kwargs

    settings = refine_kwargs(args)
    try:
        check_settings(settings)
        check_count("--jobs", args.jobs, 1, 1024)
        device = choose_device(args.device)
        prepare_folder(args.output, args.n, args.size, args.seed)
    except (ValueError, TypeError, OSError) as exc:
        print(f"ldmatte demo: {exc}", file=sys.stderr)
        return 2
    with stop_on_signals() as stop:
        done, table, summary, fault = run_demo(args.output, args.n, args.size, args.seed, settings, device=device,
                                               workers=args.jobs, stop=stop,
                                               progress=not args.quiet and sys.stderr.isatty())  # fmt: skip
    for f in summary["failures"]:
        print(f"failed: {f['input']}: {f['reason']}", file=sys.stderr)
    for line in ([done.stopped] if done.stopped else []) + ([f"summary not written: {fault}"] if fault else []):
        print(f"ldmatte demo: {line}", file=sys.stderr)
    if not args.quiet:
        print("\n".join(table))
        if summary.get("no_clear_background"):
            from ..batch.refine_files import hazy_line

            print("note: " + hazy_line(summary["no_clear_background"]))
        print(f"open {os.path.join(os.path.abspath(args.output), 'index.html')} in a browser")
    return exit_status(done, fault)
