"""``ldmatte video``: portrait matting of a video from a first-frame mask, per-frame masks or a segmenter."""
from __future__ import annotations

import os
import sys

ORDER = 75


def register(sub) -> None:
    p = sub.add_parser(
        "video", help="matte a video: masks -> trimaps -> alpha, temporally stabilised; PNGs, alpha video, preview",
        description="Segments each frame (a first-frame mask carried by optical flow, per-frame masks from a folder, "
        "or a segmenter), builds a trimap around each mask, mattes it (the model trained by 'ldmatte train', or "
        "closed-form matting without weights), stabilises the alpha in the unknown band with the previous frame's, "
        "and writes OUT/alpha/000000.png..., OUT/rgba/000000.png... (format png), OUT/alpha.webm (VP9 with alpha), "
        "OUT/alpha.mov (ProRes 4444), OUT/preview.mp4 (source beside the matte on a checkerboard, with the source's "
        "audio) and OUT/video.json. A rerun into the same folder skips the frames already written.",
    )  # fmt: skip
    p.add_argument("input", help="a video file OpenCV or PyAV reads")
    p.add_argument("-o", "--output", required=True, help="output folder (made if missing; not inside the input's)")
    seg = p.add_mutually_exclusive_group(required=True)
    seg.add_argument("--mask", help="first-frame mask image (subject > 50%%), propagated through the video")
    seg.add_argument("--masks", help="folder of per-frame masks, paired with frames in sorted name order")
    seg.add_argument("--segmenter", help="'sam2' (needs the sam2 package, --segmenter-checkpoint and "
                     "--first-mask) or MODULE:FACTORY returning an object with segment(frame, index)")
    p.add_argument("--first-mask", help="first-frame mask for --segmenter (sam2 starts from it)")
    p.add_argument("--segmenter-checkpoint", help="local SAM 2 weights (.safetensors)")
    p.add_argument("--segmenter-config", default="configs/sam2.1/sam2.1_hiera_t.yaml", help="SAM 2 model config")
    p.add_argument("--model", default="closed-form",
                   help="'closed-form' (no weights; default) or a training run / checkpoint folder from ldmatte train")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--batch-size", type=int, default=4, help="frames matted at once by a model (default 4)")
    p.add_argument("--trimap-width", type=int, default=None, metavar="PX",
                   help="width of the unknown band in pixels (default 3%% of the shorter side)")
    p.add_argument("--format", default="png,preview",
                   help="comma list of png, webm, mov, preview (default png,preview; alpha PNGs are always written)")
    p.add_argument("--stabilise", type=float, default=0.5, metavar="S",
                   help="weight of the previous frame's warped alpha in the unknown band, 0 turns it off (default 0.5)")
    p.add_argument("--detail-reach", type=float, default=3.0, metavar="K",
                   help="the unknown band may reach K band widths out from the mask over hair strands, seen in the "
                        "previous frame's alpha or against the background plate; 0 turns the hint off (default 3)")
    p.add_argument("--background-history", type=int, default=16, metavar="N",
                   help="remember the clean background of the last N frames and correct each trimap with it "
                        "(background pixels leave the band, strands join it); 0 turns it off (default 16)")
    p.add_argument("--no-feedback", action="store_true",
                   help="propagate the mask alone (by default the matte corrects the propagated mask each frame)")
    p.add_argument("--estimate-foreground", action="store_true",
                   help="RGBA colour by foreground estimation (pymatting) instead of the source colour")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty folder not made by this command")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no summary")
    p.set_defaults(func=run)


def _segmenter(args):
    """(segmenter or first-frame mask, label, input paths)."""
    from ..video.segmentation import FolderMasks, SAM2Segmenter, read_mask

    if args.mask:
        return read_mask(args.mask), f"mask:{os.path.abspath(args.mask)}", [args.mask]
    if args.masks:
        return FolderMasks(args.masks), f"masks:{os.path.abspath(args.masks)}", [args.masks]
    first = read_mask(args.first_mask) if args.first_mask else None
    inputs = [p for p in (args.first_mask, args.segmenter_checkpoint) if p]
    if args.segmenter == "sam2":
        if first is None:
            raise ValueError("--segmenter sam2 needs --first-mask (the subject in the first frame)")
        return SAM2Segmenter(first, args.segmenter_checkpoint, args.segmenter_config, args.device), "sam2", inputs
    if ":" not in args.segmenter:
        raise ValueError(f"--segmenter must be 'sam2' or MODULE:FACTORY, got {args.segmenter!r}")
    import importlib

    module, _, attr = args.segmenter.partition(":")
    try:
        factory = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"--segmenter {args.segmenter}: cannot load it ({exc})") from None
    seg = factory(first_mask=first) if first is not None else factory()
    if not hasattr(seg, "segment"):
        raise ValueError(f"--segmenter {args.segmenter}: the factory's result has no segment(frame, index) method")
    return seg, args.segmenter, inputs


def run(args) -> int:
    from ..fileio.ownership import UsageError, fault_message, stop_on_signals
    from ..video.backends import load_matting
    from ..video.background import BackgroundSettings
    from ..video.outputs import parse_formats
    from ..video.pipeline import VideoMattingSettings, matte_video
    from ..video.reader import VideoReadError
    from ..video.segmentation import PropagationSettings, SegmenterUnavailable
    from ..video.stabilise import StabiliseSettings

    name = "ldmatte video"
    try:
        for opt, value, low in (("--trimap-width", args.trimap_width, 0), ("--batch-size", args.batch_size, 1),
                                ("--max-frames", args.max_frames, 1), ("--detail-reach", args.detail_reach, 0),
                                ("--background-history", args.background_history, 0)):  # fmt: skip
            if value is not None and value < low:
                raise UsageError(f"{opt} must be >= {low}, got {value}")
        formats, _ = parse_formats(args.format)
        segmenter, label, inputs = _segmenter(args)
        settings = VideoMattingSettings(
            model=args.model if args.model == "closed-form" else os.path.abspath(args.model), device=args.device,
            band_width=args.trimap_width, formats=tuple(f.strip() for f in args.format.split(",") if f.strip()),
            feedback=not args.no_feedback, estimate_foreground=args.estimate_foreground, batch_size=args.batch_size,
            max_frames=args.max_frames, segmentation=label, propagation=PropagationSettings(),
            stabilise=StabiliseSettings(strength=args.stabilise), detail_reach=args.detail_reach,
            background=BackgroundSettings(history=args.background_history))  # fmt: skip
        matting = load_matting(args.model, args.device, args.batch_size)
    except (UsageError, ValueError, SegmenterUnavailable, RuntimeError, OSError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    try:
        with stop_on_signals() as stop:
            result = matte_video(args.input, args.output, segmenter, settings, matting=matting, stop=stop,
                                 progress=not args.quiet and sys.stderr.isatty(), overwrite=args.overwrite,
                                 extra_inputs=inputs)  # fmt: skip
    except (UsageError, VideoReadError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a bad mask (wrong count, unreadable) found on the way
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{name}: {fault_message(exc, args.output)}", file=sys.stderr)
        return 1
    for msg in result.messages:
        print(f"{name}: {msg}", file=sys.stderr)
    if not args.quiet:
        rate = {k: (result.frames / v if v > 0 else 0.0) for k, v in result.seconds.items()}
        print(f"{result.frames} frames ({result.matted} matted, {result.skipped} already done) -> {args.output}")
        for path in result.files:
            print(f"  {path}")
        print("frames/s by stage: " + ", ".join(f"{k} {v:.1f}" for k, v in rate.items() if v))
    if result.interrupted:
        return 130
    skipped_formats = len(set(formats)) < len({f.strip() for f in args.format.split(",") if f.strip()})
    return 1 if skipped_formats or any("skipped" in m for m in result.messages) else 0
