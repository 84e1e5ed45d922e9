"""The checks of ``ldmatte video`` that run before its output folder is claimed: options, the input, the masks.

Everything a corrected command could fix is found here, so a failed start leaves
no folder behind that would refuse the next try.
"""
from __future__ import annotations

import os

# option -> (lowest, highest or None); None values pass (the default applies)
LIMITS = {"trimap_width": (0, 100_000), "batch_size": (1, 4096), "max_frames": (1, None),
          "detail_reach": (0, 100), "background_history": (0, 10_000), "fps": (1e-3, 10_000),
          "max_pixels": (0, None)}  # fmt: skip


def check_options(args) -> None:
    """Raise UsageError naming the option whose value cannot work (floats are finite already: argparse)."""
    from ..fileio.ownership import UsageError

    for dest, (low, high) in LIMITS.items():
        value = getattr(args, dest)
        opt = "--" + dest.replace("_", "-")
        if value is not None and value < low:
            raise UsageError(f"{opt} must be >= {low}, got {value}")
        if value is not None and high is not None and value > high:
            raise UsageError(f"{opt} must be <= {high}, got {value}")
    if args.mask_ids is not None and not (args.mask or args.masks or args.first_mask):
        raise UsageError("--mask-ids picks objects of --mask, --masks or --first-mask; none is given")
    if args.fps is not None and not os.path.isdir(args.input):
        raise UsageError(f"--fps is for a folder of frames; {args.input} has its own frame rate")


def _first_mask(path, ids, shape, option: str, fitted: bool = False):
    """The first-frame mask read and checked against the frames: its size or aspect ratio, some subject.

    ``fitted``: return it at the frames' size (for a segmenter), else as read (the pipeline fits it and says so).
    """
    from ..video.masks import check_coverage, fit_mask, read_mask

    mask = read_mask(path, ids)
    at_size = fit_mask(mask, shape, name=f"{option} {path}")[0]
    check_coverage(at_size, f"{option} {path}", path)
    return at_size if fitted else mask


def _module_file(spec: str) -> list[str]:
    """The source file of a ``MODULE:FACTORY`` segmenter, stamped with the inputs (its code decides the masks)."""
    import importlib.util

    try:
        found = importlib.util.find_spec(spec.split(":")[0])
    except (ImportError, ValueError):
        return []
    origin = getattr(found, "origin", None)
    return [origin] if origin and os.path.isfile(origin) else []


def segmenter(args, info):
    """(segmenter or first-frame mask, label recorded in the output marker, input paths, notes, reseed).

    ``reseed`` is the person prior's mask function when the prior gave the first mask (it re-finds a lost
    person), else None.

    Every mask is read and checked here (count, size, content); a segmenter is built (loading errors are
    one line). Raises ValueError, SegmenterUnavailable or UsageError.
    """
    from ..video.masks import FolderMasks, load_segmenter, parse_ids
    from ..video.reader import count_frames
    from ..video.sam2_segmenter import SAM2Segmenter

    ids = parse_ids(args.mask_ids)
    shape = (info.height, info.width)
    tag = f":ids={','.join(map(str, ids))}" if ids else ""
    if args.mask:
        mask = _first_mask(args.mask, ids, shape, "--mask")
        return mask, f"mask:{os.path.abspath(args.mask)}{tag}", [args.mask], [], None
    if args.masks:
        masks = FolderMasks(args.masks, ids)
        notes = masks.check(count_frames(args.input), shape, source=args.input)  # or key frames, by number
        return masks, f"masks:{os.path.abspath(args.masks)}{tag}", masks.files, notes, None
    first = _first_mask(args.first_mask, ids, shape, "--first-mask", fitted=True) if args.first_mask else None
    inputs = [p for p in (args.first_mask, args.segmenter_checkpoint, args.person_model) if p]
    if first is None and args.segmenter in (None, "sam2"):
        first, prior = _person_mask(args, shape)
        if args.segmenter is None:  # the prior also re-finds the person when the carry loses them
            return first, f"person:{prior.source}", inputs, [], prior.mask
    if args.segmenter == "sam2":
        seg = SAM2Segmenter(first, args.segmenter_checkpoint, args.segmenter_config, args.device)
        return seg, f"sam2:{os.path.abspath(args.segmenter_checkpoint)}", inputs, [], None
    seg = load_segmenter(args.segmenter, first)
    return seg, args.segmenter, inputs + _module_file(args.segmenter), [], None


def _person_mask(args, shape):
    """The person prior's mask of the first frame (at the frames' size), and the prior."""
    import cv2

    from ..video.masks import check_coverage
    from ..video.person_prior import PersonPrior
    from ..video.reader import iter_frames
    from ..video.segmentation import SegmenterUnavailable

    try:
        prior = PersonPrior(args.person_model)
    except SegmenterUnavailable as exc:
        raise SegmenterUnavailable(f"no --mask, --masks or --first-mask: the first frame's mask comes from the "
                                   f"person prior, and {exc}") from None  # fmt: skip
    frames = iter_frames(args.input)
    frame = next(frames, None)
    frames.close()
    if frame is None:
        raise ValueError(f"{args.input}: no frames could be decoded")
    mask = prior.mask(frame)
    if not mask.any():
        raise ValueError(f"{args.input}: the person prior found no person in the first frame; pass --mask")
    if mask.shape != tuple(shape):
        mask = cv2.resize(mask, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    check_coverage(mask, "the person prior's first-frame mask")
    return mask, prior


def exit_status(result, formats_skipped: bool) -> int:
    """130 interrupted; 1 when a format was skipped, the input was not read whole or masks were lost; else 0."""
    if result.interrupted:
        return 130
    truncated = result.info.get("decoding", {}).get("complete") is False
    lost = bool(result.info.get("masks", {}).get("lost"))
    return 1 if formats_skipped or truncated or lost or any("skipped" in m for m in result.messages) else 0
