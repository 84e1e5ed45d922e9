"""``ldmatte key``: key green- or blue-screen images into RGBA PNGs (chroma keyers + despill), resumable.

This module parses the options and prints; the work is :mod:`ldmatte.keying.key_files` on the batch engine.
"""
from __future__ import annotations

import sys

ORDER = 15


def register(sub) -> None:
    from ..keying import METHODS
    from ._options import add_folder_options, add_image_options, add_keyer_options, add_run_options

    p = sub.add_parser(
        "key", help="key green-screen images into RGBA PNGs (chromakey, colorkey, obs, vlahos)",
        description="Key images shot over a green or blue backing: alpha from a chroma keyer, colour from a "
        "despill. Outputs mirror the inputs' relative paths under OUTDIR as RGBA PNGs, each with a JSON record; "
        "a rerun skips finished images. Inputs are read with their EXIF orientation applied. An image without a "
        "green or blue backing (or keyed out entirely) is keyed and gets a warning line. Writes a contact sheet "
        "OUTDIR/index.html. A non-empty OUTDIR that key "
        "did not make is refused (--overwrite takes it). Ctrl-C stops after the images in flight. Exit status 1 "
        "when some inputs could not be keyed or a write failed, 2 on usage errors, 130 when interrupted.",
    )  # fmt: skip
    add_folder_options(p, inputs_help="image files (PNG, JPEG, ...) or folders of them",
                       follow_help="with -r, also enter links to folders",
                       overwrite_help="redo finished images, and write into an existing folder that 'ldmatte key' "
                       "did not make (its files of the same names are replaced)")  # fmt: skip
    p.add_argument("--method", choices=METHODS, default="chromakey", help="the keyer (default %(default)s)")
    p.add_argument("--key-color", default="auto", help="auto (from each image's border, default), #rrggbb, "
                   "green or blue")
    g = p.add_argument_group("keyer parameters (each method uses its own; defaults are the method's)")
    add_keyer_options(g)
    d = p.add_argument_group("despill (FFmpeg style; obs uses its own spill reduction unless these are given)")
    d.add_argument("--unmix", action="store_true", help="take the backing out of translucent pixels first "
                   "(F = (I - (1 - a) K) / a), then despill")
    d.add_argument("--no-despill", action="store_true", help="keep the input colour")
    d.add_argument("--despill-mix", type=float, help="despill mix (default 0.5)")
    d.add_argument("--despill-expand", type=float, help="despill expand (default 0)")
    d.add_argument("--despill-brightness", type=float, help="despill brightness (default 0)")
    add_image_options(p, max_pixels_help="refuse larger images (default 8192 x 8192)")
    add_run_options(p, jobs_help="worker threads (default: CPU cores, at most 8)",
                    device_help="cuda: key with torch on the GPU; auto: the GPU when usable; default cpu")
    p.set_defaults(func=run)


def settings_from(args):
    """The KeySettings of the options; ValueError naming the option when one cannot work."""
    from ..keying import DespillParams
    from ..keying.key_files import KeySettings
    from ._options import keyer_params

    params = keyer_params(args)
    dkw = {k: getattr(args, "despill_" + k) for k in ("mix", "expand", "brightness")
           if getattr(args, "despill_" + k) is not None}
    if args.no_despill and dkw:
        raise ValueError("--no-despill and --despill-* options exclude each other")
    despill = None if args.no_despill else (DespillParams(**dkw) if dkw else "auto")
    return KeySettings(args.method, params, args.key_color, despill, unmix=args.unmix)


def choose_device(requested: str) -> str:
    """"cpu" or "cuda" for --device: keying on the GPU needs torch with CUDA only (no ldmatte CUDA build)."""
    from ..fileio.ownership import UsageError

    if requested == "cpu":
        return "cpu"
    try:
        import torch

        usable = torch.cuda.is_available()
    except ImportError:
        usable = False
    if not usable and requested == "cuda":
        raise UsageError("--device cuda: torch with a usable CUDA GPU is needed; use --device cpu")
    return "cuda" if usable else "cpu"


def run(args) -> int:
    import dataclasses

    from ..fileio.ownership import OutputFault, OutputFolder, UsageError, fault_message, stop_on_signals
    from ..keying.key_files import KIND, finish, key_files, plan_key
    from ._options import check_run_options, exit_status, fail, progress_wanted, report

    try:
        settings = settings_from(args)
        check_run_options(args)
        settings = dataclasses.replace(settings, device=choose_device(args.device))
        jobs, failures = plan_key(args.inputs, args.output, recursive=args.recursive,
                                  follow_symlinks=args.follow_symlinks)
        if not jobs and not failures:
            raise UsageError("no image files found in the inputs" + ("" if args.recursive else " (try --recursive)"))
        OutputFolder.claim(args.output, KIND, overwrite=args.overwrite)
    except OutputFault as exc:  # read-only, disk full: a fault, not a usage mistake
        return fail("key", exc, 1)
    except (UsageError, ValueError, TypeError) as exc:
        return fail("key", exc)
    except OSError as exc:
        return fail("key", fault_message(exc), 1)
    with stop_on_signals() as stop:
        done = key_files(jobs, args.output, settings, overwrite=args.overwrite, workers=args.jobs, stop=stop,
                         progress=progress_wanted(args), failures=failures, max_pixels=args.max_pixels,
                         thumb_width=args.thumb_width)  # fmt: skip
    summary, fault = finish(args.output, done, settings)
    for rec in sorted(done.records, key=lambda r: r["output"]):
        if rec.get("warning"):
            print(f"warning: {rec['input']}: {rec['warning']}", file=sys.stderr)
    report("key", summary, args.output, args.quiet, fault, "keyed")
    return exit_status(done, fault)
