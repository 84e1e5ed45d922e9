"""Per-frame subject masks: a first-frame mask propagated with optical flow, masks from a folder, or a segmenter.

Everything that yields masks follows the :class:`Segmenter` protocol: one
method ``segment(frame, index)`` called with the frames in order, returning an
(H, W) mask (bool, 0/255 uint8 or float in [0, 1]; > 0.5 is the subject).
Any object with that method plugs in, e.g. a wrapper around a learned video
segmenter; :class:`~ldmatte.video.sam2_segmenter.SAM2Segmenter` is SAM 2's video predictor behind it.
"""
from __future__ import annotations

import dataclasses
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from .carried import CarrySettings
from .flow import FlowSettings, FlowTracker, Motion, subject_motion
from .masks import MASK_SUFFIXES, FolderMasks, SegmenterUnavailable, read_mask, to_mask  # noqa: F401 - in masks.py

__all__ = ["Segmenter", "SegmenterUnavailable", "PropagationSettings", "FlowPropagator", "FolderMasks",
           "SAM2Segmenter", "to_mask", "read_mask"]  # fmt: skip


@runtime_checkable
class Segmenter(Protocol):
    """Anything that gives the subject's mask of each frame, called with the frames in order."""

    def segment(self, frame: np.ndarray, index: int) -> np.ndarray:  # pragma: no cover - protocol
        ...


@dataclasses.dataclass(frozen=True)
class PropagationSettings:
    """How a first-frame mask follows the video.

    ``smoothing``: weight of the warped history in the soft mask (0 = only the
    newest thresholded mask; higher is steadier). ``blur``: Gaussian sigma (pixels at 512 px, scaled with the
    frame) applied to the warped mask before re-thresholding, so flow noise does not roughen the edge.
    ``min_island``: pieces smaller than this share of the largest are dropped (holes are kept: a hand on the
    hip encloses real background). ``confident``: when a matte corrects the mask, alpha below it or above
    ``1 - confident`` decides; between, the propagated state stays (0.5: the matte decides everywhere; 0.25
    measured best with the background plate of :mod:`ldmatte.video.background`, 0.5 without it).
    ``motion``: ``"affine"`` (the subject's motion fitted to the flow inside the mask; edges follow the
    subject, not the flow smoothed across its boundary) or ``"flow"`` (every pixel along the dense flow).
    ``method``: ``"carried"`` (the default: a binary segmentation carried by flow and re-decided by colour,
    :class:`~ldmatte.video.carried.CarriedSegmenter`, set by ``carry``; the matte does not feed it back) or
    ``"soft"`` (:class:`FlowPropagator`: a soft mask corrected by the matte; the settings above are its own).
    """

    method: str = "carried"
    motion: str = "affine"
    smoothing: float = 0.5
    blur: float = 1.0
    min_island: float = 0.002
    confident: float = 0.25
    flow: FlowSettings = dataclasses.field(default_factory=FlowSettings)
    carry: CarrySettings = dataclasses.field(default_factory=CarrySettings)

    def __post_init__(self):
        if self.method not in ("carried", "soft"):
            raise ValueError(f"method must be 'carried' or 'soft', got {self.method!r}")
        if not 0 <= self.smoothing < 1:
            raise ValueError(f"smoothing must be in [0, 1), got {self.smoothing!r}")
        if self.motion not in ("affine", "flow"):
            raise ValueError(f"motion must be 'affine' or 'flow', got {self.motion!r}")
        if not 0 < self.confident <= 0.5:
            raise ValueError(f"confident must be in (0, 0.5], got {self.confident!r}")
        if self.blur < 0 or not 0 <= self.min_island < 1:
            raise ValueError("blur must be >= 0 and min_island in [0, 1)")


def _clean(mask: np.ndarray, min_share: float) -> np.ndarray:
    """Drop foreground pieces smaller than ``min_share`` of the largest piece."""
    if min_share <= 0:
        return mask
    out = mask.copy()
    n, lab, stats, _ = cv2.connectedComponentsWithStats(out, connectivity=8)
    if n > 1:
        areas = stats[1:, cv2.CC_STAT_AREA]
        limit = areas.max() * min_share
        small = np.flatnonzero(areas < limit) + 1
        if len(small):
            out[np.isin(lab, small)] = 0
    return out


class FlowPropagator:
    """A first-frame mask carried through the video by backward-warping with optical flow.

    For each frame the soft mask of the previous frame is warped along the
    flow, blurred a little, re-thresholded at 0.5 and cleaned (small islands
    and holes); the new soft mask blends the warped history with that binary
    mask (``smoothing``), a temporal low-pass that does not accumulate blur. With
    ``motion="affine"`` the warp is the subject's own motion, fitted to the flow
    inside the mask (see :func:`~ldmatte.video.flow.subject_motion`).
    :meth:`correct` replaces the state with a better mask of the same frame
    (the matte's alpha > 0.5), so drift does not build up. Pass a shared
    ``tracker`` that its owner steps; without one the propagator keeps its own.

    Examples
    --------
    >>> import numpy as np, cv2
    >>> yy, xx = np.mgrid[:64, :64]
    >>> def frame(cx):  # a textured disc moving right over a flat background
    ...     f = np.full((64, 64, 3), 40, np.uint8)
    ...     disc = (xx - cx) ** 2 + (yy - 32) ** 2 < 100
    ...     f[disc] = (150 + 80 * np.sin(xx[disc] - cx))[:, None].astype(np.uint8)
    ...     return f, disc
    >>> f0, d0 = frame(20)
    >>> prop = FlowPropagator(d0)
    >>> for i, cx in enumerate([20, 22, 24, 26]):
    ...     f, d = frame(cx); m = prop.segment(f, i) > 127
    >>> round(float((m & d).sum() / (m | d).sum()), 1)
    1.0
    """

    def __init__(self, first_mask, settings: PropagationSettings | None = None, tracker: FlowTracker | None = None):
        self.settings = settings or PropagationSettings()
        self._first = to_mask(first_mask, name="first-frame mask")
        self._own_tracker = tracker is None
        self.tracker = tracker or FlowTracker(self.settings.flow)
        self._soft: np.ndarray | None = None
        self._index = -1
        self.motion: Motion | None = None  # how the subject moved onto the last frame segmented

    def segment(self, frame: np.ndarray, index: int) -> np.ndarray:
        frame = np.asarray(frame)
        if self._own_tracker:
            self.tracker.step(frame)
        if self._soft is None:
            mask = to_mask(self._first, frame.shape[:2])
            self._soft = mask.astype(np.float32) / 255
            self._index = index
            return mask
        flow = self.tracker.flow
        self.motion = None
        if flow is not None:
            if self.settings.motion == "affine":
                prev = np.where(self._soft > 0.5, 255, 0).astype(np.uint8)
                self.motion = subject_motion(flow, prev, margin=max(2, round(0.02 * max(frame.shape[:2]))))
            if self.motion is None:
                self.motion = Motion(flow=flow)
        warped = self.motion.warp(self._soft) if self.motion is not None else self._soft
        sigma = self.settings.blur * max(frame.shape[:2]) / 512
        smooth = cv2.GaussianBlur(warped, (0, 0), sigma) if sigma > 0.3 else warped
        mask = _clean(np.where(smooth > 0.5, 255, 0).astype(np.uint8), self.settings.min_island)
        s = self.settings.smoothing
        self._soft = s * warped + (1 - s) * (mask.astype(np.float32) / 255)
        self._index = index
        return mask

    def correct(self, alpha, index: int, confident: float | None = None) -> None:
        """Correct the state of frame ``index`` (the last one segmented) with a matte of it (uint8 alpha).

        Where the matte is confident (alpha below ``confident`` or above ``1 - confident``; default
        from the settings) it decides; in between the propagated state stays.
        """
        if index != self._index or self._soft is None:
            return
        confident = self.settings.confident if confident is None else confident
        a = np.asarray(alpha)
        if a.shape != self._soft.shape:
            a = cv2.resize(a, self._soft.shape[::-1], interpolation=cv2.INTER_LINEAR)
        unit = a.astype(np.float32) / 255 if a.dtype == np.uint8 else a.astype(np.float32)
        self._soft = np.where(unit > 1 - confident, 1.0, np.where(unit <= confident, 0.0, self._soft))
        self._soft = self._soft.astype(np.float32)


def __getattr__(name):
    # SAM2Segmenter lives in its own module (it needs torch and the sam2 package); still importable from here.
    if name == "SAM2Segmenter":
        from .sam2_segmenter import SAM2Segmenter

        return SAM2Segmenter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
