"""``ldmatte predict``: alpha mattes from images and trimaps with a trained ViTMatte (a run or a checkpoint)."""
from __future__ import annotations

import os
import sys

ORDER = 75


def register(sub) -> None:
    p = sub.add_parser(
        "predict", help="alpha mattes of images + trimaps with a trained model (ldmatte train run or checkpoint)",
        description="Runs a ViTMatte checkpoint (a run folder of 'ldmatte train', or a folder with config.json + "
        "model.safetensors) over IMAGES with the trimaps of --trimaps (paired by name stem), or over a benchmark "
        "layout, and writes OUT/<name>.png (8-bit alpha; the trimap's known regions kept). Images of the same size "
        "are batched; a GPU is used when there is one. Exit status 1 when some images failed.",
    )  # fmt: skip
    p.add_argument("model", metavar="RUN|CHECKPOINT", help="training run folder or checkpoint folder")
    p.add_argument("images", metavar="IMAGES", nargs="?", help="folder of RGB images (or --benchmark)")
    p.add_argument("--trimaps", metavar="DIR", help="folder of trimaps (0 / 128 / 255), paired by name")
    p.add_argument("--benchmark", nargs=2, metavar=("NAME", "ROOT"),
                   help="images and trimaps from a benchmark layout: p3m-np, p3m-p, ppm100, am2k, ldmatte")
    p.add_argument("-o", "--output", required=True, help="output folder (made; owned by this command)")
    p.add_argument("--batch", type=int, default=4, help="images per forward pass (default 4)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty folder not made by predict")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..fileio.ownership import fault_message, stop_on_signals
    from ._options import fail as fail_with

    def fail(msg) -> int:
        return fail_with("predict", msg)

    if (args.images is None) == (args.benchmark is None):
        return fail("give IMAGES with --trimaps, or --benchmark NAME ROOT")
    if args.images is not None and args.trimaps is None:
        return fail("--trimaps DIR is needed with IMAGES (the model is trimap-based)")
    if args.batch < 1:
        return fail("--batch must be >= 1")
    try:
        from ..matting.predictor import predict_files
    except ImportError as exc:
        return fail(f"needs torch and transformers (pip install 'ldmatte[train]'): {exc}")
    with stop_on_signals() as stop:  # from here on: Ctrl-C or SIGTERM while the model loads ends the run too
        code, prepared = _prepare(args, stop)
        if code is not None:
            return code
        predictor, jobs, problems = prepared
        print(f"model {predictor.name} on {predictor.device}: {len(jobs)} image(s)", file=sys.stderr)
        try:
            written, failures = predict_files(predictor, jobs, args.output, stop=stop,
                                              progress=not args.no_progress)  # fmt: skip
        except OSError as exc:  # a write fault (read-only, disk full): one line, exit 1
            return fail_with("predict", fault_message(exc, args.output), 1)
    failures = list(problems) + list(failures)
    for name, reason in failures:
        print(f"ldmatte predict: {name}: {reason}", file=sys.stderr)
    print(f"wrote {len(written)} matte(s) to {os.path.abspath(args.output)}"
          + (f"; {len(failures)} failed" if failures else ""), file=sys.stderr)  # fmt: skip
    if stop.is_set():
        print(f"stopped by {stop.signal_name}", file=sys.stderr)
        return 130
    return 1 if failures else 0


def _prepare(args, stop):
    """(None, (predictor, jobs, problems)), or (exit status, None) after printing why not."""
    from ..fileio.ownership import OutputFault, OutputFolder, UsageError, check_disjoint, fault_message
    from ..matting.predictor import load_predictor, prediction_jobs
    from ._options import fail

    try:
        inputs = [args.model] + ([args.images, args.trimaps] if args.images else [args.benchmark[1]])
        check_disjoint(inputs, [args.output])
        jobs, problems = prediction_jobs(args.images, args.trimaps,
                                         tuple(args.benchmark) if args.benchmark else None)  # fmt: skip
        if not jobs:
            detail = f" ({problems[0][1]})" if problems else ""
            raise UsageError(f"nothing to predict: no image with a trimap{detail}")
        predictor = load_predictor(args.model, args.device, batch_size=args.batch)
        if stop.is_set():  # stopped while the model loaded: nothing claimed
            print(f"stopped by {stop.signal_name}", file=sys.stderr)
            return 130, None
        OutputFolder.claim(args.output, "predict", overwrite=args.overwrite)
    except OutputFault as exc:  # the output folder cannot be made or marked (read-only, full): a fault
        return fail("predict", exc, 1), None
    except (UsageError, ValueError) as exc:
        return fail("predict", exc), None
    except OSError as exc:  # named by the file it concerns, which need not be the output folder
        return fail("predict", fault_message(exc), 1), None
    return None, (predictor, jobs, problems)
