"""``ldmatte refine``: refine RGBA PNGs (files and folders) into an output folder, kill-safe and resumable.

This module parses the options and prints; the work is :mod:`ldmatte.batch.refine_files` on the batch engine.
"""
from __future__ import annotations

import sys

from ._options import exit_status  # noqa: F401 (demo uses it from here)

ORDER = 10


def add_refine_options(p) -> None:
    """The options that map to :func:`ldmatte.refine` keywords."""
    from .. import DEFAULTS
    from .._params import HAZE_FLOOR_DEFAULT

    g = p.add_argument_group("refinement (see ldmatte.refine)")
    g.add_argument("--fg-tol", type=int, default=DEFAULTS["fg_tol"], help="opaque tolerance in levels "
                   "(alpha >= 255 - fg_tol is core; default %(default)s)")  # fmt: skip
    g.add_argument("--bg-tol", type=int, default=DEFAULTS["bg_tol"], help="clear tolerance in levels "
                   "(alpha <= bg_tol is background; default %(default)s)")  # fmt: skip
    g.add_argument("--connectivity", type=int, choices=(4, 8), default=DEFAULTS["connectivity"])
    g.add_argument("--no-snap", action="store_true", help="keep the values of the core and background")
    g.add_argument("--keep-translucent-interior", action="store_true",
                   help="do not fill translucent regions enclosed by the core (glass, veils)")  # fmt: skip
    hy = g.add_mutually_exclusive_group()
    hy.add_argument("--hysteresis", dest="hysteresis", action="store_true", default=DEFAULTS["hysteresis"],
                    help="keep the faint (1..bg_tol) and near-opaque pixels next to the kept border band "
                    "(hair tips, the top of a soft ramp)"
                    + (" (default)" if DEFAULTS["hysteresis"] else ""))  # fmt: skip
    hy.add_argument("--no-hysteresis", dest="hysteresis", action="store_false",
                    help="snap them too" + ("" if DEFAULTS["hysteresis"] else " (default)"))
    sub = g.add_mutually_exclusive_group()
    sub.add_argument("--min-subject-fraction", type=float, default=DEFAULTS["min_subject_fraction"],
                     help="keep parts at least this fraction of the largest (default %(default)s)")  # fmt: skip
    sub.add_argument("--no-subject-rule", action="store_true", help="keep every separate part")
    g.add_argument("--haze-floor", type=haze_floor_arg, default=HAZE_FLOOR_DEFAULT, metavar="auto|N|off",
                   help="a background without clear pixels (a generator's haze) is background: auto removes the "
                   "haze floor fitted to the frame when most of the frame is above --bg-tol (images with a clear "
                   "background are refined as with off); N removes a uniform floor of N levels; off checks nothing "
                   "(default %(default)s)")  # fmt: skip


def haze_floor_arg(text: str):
    """``--haze-floor`` as :func:`ldmatte.refine` takes it: "auto", "off" or an int level 0..254."""
    import argparse

    from .._params import check_haze_floor

    value = text.strip().lower()
    try:
        return check_haze_floor(value if value in ("auto", "off") else int(value))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto, off or a level 0..254, got {text!r}") from None


def refine_kwargs(args) -> dict:
    """The :func:`ldmatte.refine` keywords (``haze_floor`` only when not the default, as ``RefineParams.as_dict``)."""
    from .._params import HAZE_FLOOR_DEFAULT

    kwargs = dict(fg_tol=args.fg_tol, bg_tol=args.bg_tol, connectivity=args.connectivity, snap=not args.no_snap,
                  fill_interior=not args.keep_translucent_interior,
                  min_subject_fraction=None if args.no_subject_rule else args.min_subject_fraction,
                  hysteresis=args.hysteresis)  # fmt: skip
    if args.haze_floor != HAZE_FLOOR_DEFAULT:
        kwargs["haze_floor"] = args.haze_floor
    return kwargs


def add_run_options(p) -> None:
    from . import _options

    _options.add_run_options(p, jobs_help="worker threads (default: CPU cores, at most 8; each holds about 10 bytes "
                             "per pixel of the image it works on)", device_help="cuda: refine on the GPU (torch + "
                             "the CUDA build); auto: the GPU when usable; default cpu (outputs then do not depend "
                             "on the machine)")  # fmt: skip


def register(sub) -> None:
    from ._options import add_folder_options, add_image_options

    p = sub.add_parser(
        "refine", help="refine RGBA PNGs (alpha repair + colour padding) into an output folder",
        description="Refine Layer Diffusion RGBA PNGs: repair the alpha with the connectivity prior and re-pad "
        "the colour. Outputs mirror the inputs' relative paths under OUTDIR, each with a JSON report; a rerun "
        "skips finished images. Writes a before/after contact sheet OUTDIR/index.html. Grayscale PNGs are "
        "refined as alpha mattes. A non-empty OUTDIR that refine did not make is refused (--overwrite takes it). "
        "Ctrl-C stops after the images in flight and writes the summary. Exit status 1 when some inputs could not "
        "be refined or a write failed, 2 on usage errors, 130 when interrupted.",
    )  # fmt: skip
    add_folder_options(p, inputs_help="PNG files or folders of PNGs",
                       follow_help="with -r, also enter links to folders (each real folder and file once)",
                       overwrite_help="redo images that are already done, and write into an existing folder that "
                       "'ldmatte refine' did not make (its files of the same names are replaced)")  # fmt: skip
    add_image_options(p, max_pixels_help="refuse larger images, checked before decoding (default 8192 x 8192, at "
                      "most 2^30)")  # fmt: skip
    add_run_options(p)
    add_refine_options(p)
    p.set_defaults(func=run)


def check_options(args, settings: dict) -> None:
    """Raise ValueError naming the option when a value cannot work (before anything is written)."""
    from ..batch.refine_files import check_settings
    from ._options import check_run_options

    check_settings(settings)
    check_run_options(args)


def run(args) -> int:
    from ..batch import FileRefiner, plan_refine, refine_files
    from ..batch.refine_files import KIND, choose_device, finish
    from ..fileio.ownership import OutputFault, OutputFolder, UsageError, fault_message, stop_on_signals

    settings = refine_kwargs(args)
    try:
        check_options(args, settings)
        device = choose_device(args.device)
        jobs, failures = plan_refine(args.inputs, args.output, recursive=args.recursive,
                                     follow_symlinks=args.follow_symlinks)  # fmt: skip
        if not jobs and not failures:
            raise UsageError("no PNG files found in the inputs" + ("" if args.recursive else " (try --recursive)"))
        OutputFolder.claim(args.output, KIND, overwrite=args.overwrite)
    except OutputFault as exc:  # the output folder cannot be made or marked: a fault, not a usage mistake
        print(f"ldmatte refine: {exc}", file=sys.stderr)
        return 1
    except (UsageError, ValueError) as exc:
        print(f"ldmatte refine: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"ldmatte refine: {fault_message(exc)}", file=sys.stderr)
        return 1
    refiner = FileRefiner(args.output, settings, device, args.max_pixels, args.thumb_width)
    with stop_on_signals() as stop:
        done = refine_files(jobs, refiner, overwrite=args.overwrite, workers=args.jobs, stop=stop,
                            progress=not args.quiet and sys.stderr.isatty(), failures=failures)  # fmt: skip
    summary, fault = finish(args.output, done, settings)
    report(summary, args.output, args.quiet, fault)
    return exit_status(done, fault)


def report(summary: dict, outdir: str, quiet: bool, fault: str | None = None) -> None:
    """Print the counts (stdout) and the failures and faults (stderr)."""
    from ._options import report as report_run

    from ..batch.refine_files import hazy_line

    other = len(summary["other_settings"])
    notes = [f"note: {other} finished outputs were made with other settings (--overwrite redoes them)"] if other else []
    if summary.get("no_clear_background"):
        notes.append("note: " + hazy_line(summary["no_clear_background"]))
    report_run("refine", summary, outdir, quiet, fault, "refined", notes)
