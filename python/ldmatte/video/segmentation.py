"""Per-frame subject masks: a first-frame mask carried with optical flow, masks from a folder, or a segmenter.

Everything that yields masks follows the :class:`Segmenter` protocol: one
method ``segment(frame, index)`` called with the frames in order, returning an
(H, W) mask (bool, 0/255 uint8 or float in [0, 1]; > 0.5 is the subject).
Any object with that method plugs in, e.g. a wrapper around a learned video
segmenter; :class:`~ldmatte.video.sam2_segmenter.SAM2Segmenter` is SAM 2's video predictor behind it.
"""
from __future__ import annotations

import dataclasses
from typing import Protocol, runtime_checkable

import numpy as np

from .carried import CarrySettings
from .flow import FlowSettings
from .masks import MASK_SUFFIXES, FolderMasks, SegmenterUnavailable, read_mask, to_mask  # noqa: F401 - in masks.py

__all__ = ["Segmenter", "SegmenterUnavailable", "PropagationSettings", "FolderMasks", "SAM2Segmenter", "to_mask",
           "read_mask"]  # fmt: skip


@runtime_checkable
class Segmenter(Protocol):
    """Anything that gives the subject's mask of each frame, called with the frames in order."""

    def segment(self, frame: np.ndarray, index: int) -> np.ndarray:  # pragma: no cover - protocol
        ...


@dataclasses.dataclass(frozen=True)
class PropagationSettings:
    """How a first-frame mask follows the video: the shared optical ``flow`` and how
    :class:`~ldmatte.video.carried.CarriedSegmenter` carries the mask (``carry``), a binary segmentation carried
    by flow and re-decided by colour, which the matte does not feed back.
    """

    flow: FlowSettings = dataclasses.field(default_factory=FlowSettings)
    carry: CarrySettings = dataclasses.field(default_factory=CarrySettings)


def __getattr__(name):
    # SAM2Segmenter lives in its own module (it needs torch and the sam2 package); still importable from here.
    if name == "SAM2Segmenter":
        from .sam2_segmenter import SAM2Segmenter

        return SAM2Segmenter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
