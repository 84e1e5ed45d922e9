"""Options, checks and printing shared by the commands that turn image files into an output folder (``refine``,
``key``): where the inputs come from and the outputs go, how the run runs, what it prints, its exit status; and
the keyer parameters of ``key`` and ``build greenscreen``.

Each command keeps its own help texts (they speak of what it makes); the flags, types, defaults, limits and
messages are written here once. The work itself is :mod:`ldmatte.batch.file_jobs` and the command's library module.
"""
from __future__ import annotations

import argparse
import math
import os
import sys


def finite_float(text) -> float:
    """The argparse type of every float option: a number, neither ``inf`` nor ``nan`` (argparse exits 2).

    Examples
    --------
    >>> finite_float("0.5")
    0.5
    >>> finite_float("inf")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a finite number, got 'inf'
    """
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def finite_floats(parser) -> None:
    """Give every ``type=float`` option of ``parser`` and its subcommands the type :func:`finite_float`."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                finite_floats(sub)
        elif action.type is float:
            action.type = finite_float


def add_folder_options(p, *, inputs_help: str, follow_help: str, overwrite_help: str) -> None:
    """INPUT..., -o/--output OUTDIR, -r/--recursive, --follow-symlinks, --overwrite."""
    p.add_argument("inputs", nargs="+", metavar="INPUT", help=inputs_help)
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="output folder (created)")
    p.add_argument("-r", "--recursive", action="store_true", help="also look in subfolders of INPUT folders")
    p.add_argument("--follow-symlinks", action="store_true", help=follow_help)
    p.add_argument("--overwrite", action="store_true", help=overwrite_help)


def add_image_options(p, *, max_pixels_help: str) -> None:
    """--max-pixels, --thumb-width."""
    p.add_argument("--max-pixels", type=int, default=None, help=max_pixels_help)
    p.add_argument("--thumb-width", type=int, default=None, help="contact sheet thumbnail width (default 224)")


def add_run_options(p, *, jobs_help: str, device_help: str) -> None:
    """-j/--jobs, --device {cpu,cuda,auto} (default cpu), -q/--quiet."""
    p.add_argument("-j", "--jobs", type=int, default=None, help=jobs_help)
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu", help=device_help)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary (failures still)")


def check_run_options(args) -> None:
    """Raise ValueError naming the option when --jobs, --max-pixels or --thumb-width cannot work."""
    from ..batch import check_count
    from ..batch.refine_files import MAX_PIXELS_LIMIT

    check_count("--jobs", args.jobs, 1, 1024)
    check_count("--max-pixels", args.max_pixels, 1, MAX_PIXELS_LIMIT)
    check_count("--thumb-width", args.thumb_width, 8, 4096)


def progress_wanted(args) -> bool:
    """A progress bar unless --quiet or stderr is not a terminal."""
    return not args.quiet and sys.stderr.isatty()


def report(command: str, summary: dict, outdir: str, quiet: bool, fault: str | None, done_name: str,
           notes=()) -> None:  # fmt: skip
    """Print a run's failures and faults (stderr), then, unless ``quiet``, its counts and ``notes`` (stdout)."""
    for f in summary["failures"]:
        print(f"failed: {f['input']}: {f['reason']}", file=sys.stderr)
    if summary.get("stopped"):
        print(f"ldmatte {command}: {summary['stopped']}", file=sys.stderr)
    if fault:
        print(f"ldmatte {command}: summary not written: {fault}", file=sys.stderr)
    if quiet:
        return
    c = summary["counts"]
    print(f"{done_name} {c[done_name]}, skipped {c['skipped']} (already done), failed {c['failed']} "
          f"in {summary['seconds']:.1f} s")  # fmt: skip
    for note in notes:
        print(note)
    if not fault:
        print(f"contact sheet: {os.path.join(outdir, 'index.html')}")


# The keyer parameters offered on the command line (ldmatte key, ldmatte build greenscreen), by method.
KEYER_OPTIONS = {"chromakey": ("similarity", "blend"), "colorkey": ("similarity", "blend"),
                 "obs": ("similarity", "smoothness", "spill"), "vlahos": ("balance", "clip_black", "clip_white")}
_KEYER_HELP = {"similarity": "chromakey/colorkey/obs: distance keyed fully",
               "blend": "chromakey/colorkey: ramp width above similarity", "smoothness": "obs: ramp width above "
               "similarity", "spill": "obs: spill-reduction ramp width", "balance": "vlahos: weight of max of the "
               "other channels", "clip_black": "vlahos: raw alpha at or below becomes 0",
               "clip_white": "vlahos: raw alpha at or above becomes 255"}  # fmt: skip
_KEYER_FIELDS = tuple(_KEYER_HELP)


def add_keyer_options(group, help: str | None = None) -> None:
    """--similarity, --blend, --smoothness, --spill, --balance, --clip-black, --clip-white (floats, default None:
    the method's own); ``help`` replaces each one's own text."""
    for field in _KEYER_FIELDS:
        group.add_argument("--" + field.replace("_", "-"), type=finite_float, help=help or _KEYER_HELP[field])


def keyer_params(args):
    """The parameter object of ``args.method`` from the keyer options given; ValueError names one it has not."""
    from ..keying import PARAMS

    given = {f: getattr(args, f) for f in _KEYER_FIELDS if getattr(args, f) is not None}
    foreign = sorted(set(given) - set(KEYER_OPTIONS[args.method]))
    if foreign:
        raise ValueError(f"--method {args.method} has no " + ", ".join("--" + f.replace("_", "-") for f in foreign))
    return PARAMS[args.method](**given)


def fail(command: str, message, status: int = 2) -> int:
    """Print ``ldmatte COMMAND: message`` on stderr; return the exit ``status`` (2 a usage error, 1 a fault)."""
    print(f"ldmatte {command}: {message}", file=sys.stderr)
    return status


def exit_status(done, fault) -> int:
    """130 when interrupted, 1 when something failed, else 0."""
    return 130 if done.interrupted else 1 if (done.failures or fault or done.fault) else 0
