"""``ldmatte video``: portrait matting of a video from a first-frame mask, per-frame masks or a segmenter."""
from __future__ import annotations

import os
import sys
import time

from ._options import finite_float

ORDER = 75


def register(sub) -> None:
    p = sub.add_parser(
        "video", help="matte a video: masks -> trimaps -> alpha, temporally stabilised; PNGs, alpha video, preview",
        description="Segments each frame (a first-frame mask carried by optical flow, per-frame masks from a folder, "
        "or a segmenter), builds a trimap around each mask, mattes it (the model trained by 'ldmatte train', or "
        "closed-form matting without weights), stabilises the alpha in the unknown band with the previous frame's, "
        "and writes OUT/alpha/000000.png..., OUT/rgba/000000.png... (format png), OUT/alpha.webm (VP9 with alpha), "
        "OUT/alpha.mov (ProRes 4444), OUT/preview.mp4 (source beside the matte on a checkerboard, with the source's "
        "audio) and OUT/video.json. A rerun into the same folder skips the frames already written (all are redone "
        "when the video, a mask or the model changed since). Masks may be binary, grey or object-id masks "
        "(palette PNGs as DAVIS ships them: every id above 0 is the subject, or --mask-ids).",
    )  # fmt: skip
    p.add_argument("input", help="a video file OpenCV or PyAV reads, or a folder of frame images (JPEG, PNG, ...; "
                   "natural name order: frame_2 before frame_10)")  # fmt: skip
    p.add_argument("-o", "--output", required=True, help="output folder (made if missing; not inside the input's)")
    seg = p.add_mutually_exclusive_group()  # none: the person prior finds the first frame's mask (--person-model)
    seg.add_argument("--mask", help="first-frame mask image (subject > 50%%, or ids > 0), propagated through the video")
    seg.add_argument("--masks", help="folder of per-frame masks, one per frame, paired in natural name order; or "
                     "fewer, named by frame number (00000.png, 00014.png, ...: key frames, frame 0 among them): "
                     "the first is carried, each other re-anchors it")  # fmt: skip
    seg.add_argument("--segmenter", help="'sam2' (needs the sam2 package, --segmenter-checkpoint and --first-mask "
                     "or --person-model) or MODULE:FACTORY returning an object with segment(frame, index)")
    p.add_argument("--first-mask", help="first-frame mask for --segmenter (sam2 starts from it)")
    p.add_argument("--person-model", help="without --mask / --first-mask: the person in the first frame is the mask, "
                   "found by MediaPipe's selfie-segmentation model (a .tflite, or a mediapipe 0.10.x wheel holding it)")
    p.add_argument("--mask-ids", metavar="ID,...", help="object ids of id masks (palette PNGs) that are the subject "
                   "(default: every id above 0)")  # fmt: skip
    p.add_argument("--fps", type=finite_float, default=None, help="frame rate of a folder of frames, for the videos "
                   "written (default 25; a video file keeps its own)")  # fmt: skip
    p.add_argument("--segmenter-checkpoint", help="local SAM 2 weights: the published .pt (read with "
                   "torch.load(weights_only=True); sam2 loads no safetensors) or a .safetensors of the same weights")
    p.add_argument("--segmenter-config", help="its SAM 2 model config: a name in the sam2 package or a YAML file "
                   "(default: from the checkpoint's published name, else configs/sam2.1/sam2.1_hiera_t.yaml)")
    p.add_argument("--model", default="closed-form",
                   help="'closed-form' (no weights; default) or a training run / checkpoint folder from ldmatte train")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--batch-size", type=int, default=4, help="frames matted at once by a model (default 4)")
    p.add_argument("--trimap-width", type=int, default=None, metavar="PX",
                   help="width of the unknown band in pixels (default 3%% of the shorter side)")
    p.add_argument("--format", default="png,preview",
                   help="comma list of png, webm, mov, preview (default png,preview; alpha PNGs are always written)")
    p.add_argument("--stabilise", type=finite_float, default=0.5, metavar="S",
                   help="weight of the previous frame's warped alpha in the unknown band, 0 turns it off (default 0.5)")
    p.add_argument("--detail-reach", type=finite_float, default=3.0, metavar="K",
                   help="the unknown band may reach K band widths out from the mask over hair strands, seen in the "
                        "previous frame's alpha or against the background plate; 0 turns the hint off (default 3)")
    p.add_argument("--background-history", type=int, default=16, metavar="N",
                   help="remember the clean background of the last N frames and correct each trimap with it "
                        "(background pixels leave the band, strands join it); 0 turns it off (default 16)")
    p.add_argument("--estimate-foreground", action="store_true",
                   help="RGBA colour by foreground estimation (pymatting) instead of the source colour")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--max-pixels", type=int, default=960 * 540, metavar="N", help="work on frames scaled to at most N "
                   "pixels, alpha brought to full size by a guided filter; 0: full size (default 518400 = 960x540)")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty folder not made by this command, "
                   "or redo the frames of one made with other settings")  # fmt: skip
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no summary")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..fileio.ownership import OutputFault, UsageError, fault_message, stop_on_signals
    from ..video.backends import load_matting
    from ..video.background import BackgroundSettings
    from ..video.outputs import parse_formats
    from ..video.pipeline import VideoMattingSettings, matte_video
    from ..video.reader import VideoReadError, probe
    from ..video.segmentation import PropagationSettings, SegmenterUnavailable
    from ..video.stabilise import StabiliseSettings
    from .video_args import check_options, exit_status, segmenter

    name = "ldmatte video"
    try:  # everything a corrected command could fix, before the output folder is claimed
        check_options(args)
        formats, _ = parse_formats(args.format)
        info = probe(args.input, fps=args.fps)
        seg, label, inputs, _notes, reseed = segmenter(args, info)
        settings = VideoMattingSettings(
            model=args.model if args.model == "closed-form" else os.path.abspath(args.model), device=args.device,
            band_width=args.trimap_width, formats=tuple(f.strip() for f in args.format.split(",") if f.strip()),
            estimate_foreground=args.estimate_foreground, batch_size=args.batch_size,
            max_frames=args.max_frames, segmentation=label, propagation=PropagationSettings(), fps=args.fps,
            stabilise=StabiliseSettings(strength=args.stabilise), detail_reach=args.detail_reach,
            background=BackgroundSettings(history=args.background_history), max_pixels=args.max_pixels)  # fmt: skip
        matting = load_matting(args.model, args.device, args.batch_size)
    except (UsageError, ValueError, SegmenterUnavailable, RuntimeError, OSError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    try:
        started = time.perf_counter()
        with stop_on_signals() as stop:
            result = matte_video(args.input, args.output, seg, settings, matting=matting, stop=stop,
                                 progress=not args.quiet and sys.stderr.isatty(), overwrite=args.overwrite,
                                 extra_inputs=inputs, reseed=reseed)  # fmt: skip
    except OutputFault as exc:  # read-only, disk full, permission denied: a fault, not a usage mistake
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    except UsageError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    except (VideoReadError, ValueError) as exc:  # the input or a mask failed on the way
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{name}: {fault_message(exc, args.output)}", file=sys.stderr)
        return 1
    for msg in result.messages:
        print(f"{name}: {msg}", file=sys.stderr)
    if not args.quiet:
        rate = {k: (result.frames / v if v > 0 else 0.0) for k, v in result.seconds.items()}
        took = time.perf_counter() - started
        print(f"{result.frames} frames ({result.matted} matted, {result.skipped} already done) -> {args.output} "
              f"in {took:.1f} s ({result.frames / max(took, 1e-9):.1f} frames/s)")  # fmt: skip
        for path in result.files:
            print(f"  {path}")
        print("frames/s by stage: " + ", ".join(f"{k} {v:.1f}" for k, v in rate.items() if v))
    skipped_formats = len(set(formats)) < len({f.strip() for f in args.format.split(",") if f.strip()})
    return exit_status(result, skipped_formats)
