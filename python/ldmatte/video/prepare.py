"""A frame taken as far as it goes without any alpha: decoded, scaled, flow, mask, distances, plain trimap.

:class:`FramePreparation` is what the video pipeline runs on its second thread
(:mod:`ldmatte.video.prefetch`) for the next frame while the current one is
matted. Every step here depends only on the frames and the masks, never on an
alpha, and each stateful one (the decoder, the flow tracker, the segmenter) sees
the frames in order, on this one thread; what needs the previous frame's alpha
(the detail band, the background plate's correction, stabilisation) is left to
the pipeline's own thread. :class:`PreparedFrame` carries a frame through both.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from .flow import Motion, background_motion, subject_motion
from .masks import to_mask
from .trimaps import distance_outside, mask_trimap, subject_band_width

__all__ = ["PreparedFrame", "FramePreparation"]


@dataclasses.dataclass
class PreparedFrame:
    """One frame on its way through the pipeline (arrays at the working size unless said otherwise)."""

    index: int
    frame: np.ndarray
    flow: np.ndarray | None
    mask: np.ndarray | None = None
    trimap: np.ndarray | None = None
    raw_alpha: np.ndarray | None = None
    previous: np.ndarray | None = None  # the alpha an earlier run wrote (full size)
    motion: Motion | None = None
    distance: np.ndarray | None = None  # pixels from the mask (0 inside)
    bg_motion: Motion | None = None  # how the background moved onto this frame (affine), when known
    alpha: np.ndarray | None = None
    full: np.ndarray | None = None  # the frame at full size (``frame`` is its working copy)
    full_alpha: np.ndarray | None = None
    note: tuple | None = None  # the segmenter's note on this frame: (kind, reason)
    band: int = 0  # the unknown band's width for this frame's mask


class FramePreparation:
    """``prepare(index)``: frame ``index`` read from ``frames`` and prepared, or None after the last one.

    ``work``: the :class:`~ldmatte.video.upsample.WorkingResolution`; ``tracker``: the flow tracker the pipeline
    shares with ``propagator`` (the carried segmenter, whose motion is reused, or None); ``band``: the unknown
    band's width (working pixels); ``reach``: how far from the mask the background plate looks (None: no
    plate, no background motion needed); ``done(index)``: the alpha an earlier run wrote, or None;
    ``max_frames``: stop after this many; ``clock(stage)``: a context manager timing a stage.
    """

    def __init__(self, frames, work, tracker, segmenter, propagator, *, band: int, reach: int | None,
                 done: Callable[[int], np.ndarray | None], max_frames: int | None, clock):  # fmt: skip
        self.frames, self.work, self.tracker, self.segmenter = frames, work, tracker, segmenter
        self.propagator, self.band, self.reach, self.done = propagator, band, reach, done
        self.max_frames, self.clock = max_frames, clock

    def __call__(self, index: int) -> PreparedFrame | None:
        clock = self.clock
        if self.max_frames is not None and index >= self.max_frames:
            return None
        with clock("decode"):
            full = next(self.frames, None)
            frame = self.work.shrink(full) if full is not None else None  # every stage runs on this copy
        if frame is None:
            return None
        with clock("flow"):
            self.tracker.step(frame)
        item = PreparedFrame(index, frame, self.tracker.flow, previous=self.done(index), full=full)
        with clock("segment"):
            item.mask = to_mask(self.segmenter.segment(frame, index), frame.shape[:2], name=f"mask of frame {index}")
        item.note = getattr(self.segmenter, "note", None)
        if item.flow is not None:
            with clock("flow"):
                item.motion = getattr(self.propagator, "motion", None) or subject_motion(
                    item.flow, item.mask, margin=max(2, self.band)) or Motion(flow=item.flow)
        with clock("trimap"):
            item.distance = distance_outside(item.mask)
        if self.reach is not None and item.flow is not None:
            with clock("flow"):
                item.bg_motion = background_motion(item.flow, item.mask, margin=self.reach + self.band,
                                                   distance=item.distance)  # fmt: skip
        with clock("trimap"):
            item.band = subject_band_width(item.mask, self.band)  # narrower for a small subject
            item.trimap = mask_trimap(item.mask, item.band)
        return item
