"""Temporal stabilisation of alpha in the trimap's unknown band: flow-warped blending with the previous alpha.

Per-frame matting flickers where the trimap band moves: the same hair strand
gets slightly different alpha in consecutive frames. In the unknown band the
new alpha is blended with the previous (stabilised) alpha warped onto the
current frame by the subject's motion (:class:`~ldmatte.video.flow.Motion`).
The blend weight falls where the two disagree by much (a real change of the
matte, or a wrong warp): a temporal filter that smooths flicker and keeps
changes. Known regions are left as the matting gave them.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from .flow import Motion

__all__ = ["StabiliseSettings", "TemporalStabiliser"]


@dataclasses.dataclass(frozen=True)
class StabiliseSettings:
    """``strength``: weight of the warped history where the warp is trusted (0 turns stabilisation off).
    ``tolerance``: difference between the new and the warped alpha (0..255) at which that weight has fallen
    to 37 %."""

    strength: float = 0.5
    tolerance: float = 96.0

    def __post_init__(self):
        if not 0 <= self.strength < 1:
            raise ValueError(f"strength must be in [0, 1), got {self.strength!r}")
        if self.tolerance <= 0:
            raise ValueError(f"tolerance must be > 0, got {self.tolerance!r}")


class TemporalStabiliser:
    """Feed each frame's alpha, trimap, frame and motion (from the previous frame) in order; get the stable alpha.

    ``motion``: a :class:`~ldmatte.video.flow.Motion`, a dense flow (H, W, 2) or None (no history: passes through).

    Examples
    --------
    >>> import numpy as np
    >>> st = TemporalStabiliser(StabiliseSettings(strength=0.5))
    >>> frame = np.full((4, 4, 3), 100, np.uint8); tri = np.full((4, 4), 128, np.uint8)
    >>> zero = np.zeros((4, 4, 2), np.float32)
    >>> int(st(np.full((4, 4), 200, np.uint8), tri, frame, None)[0, 0])  # the first frame passes through
    200
    >>> int(st(np.full((4, 4), 190, np.uint8), tri, frame, zero)[0, 0])  # flicker: smoothed toward the history
    195
    >>> int(st(np.full((4, 4), 20, np.uint8), tri, frame, zero)[0, 0])  # a real change: nearly all kept
    23
    """

    def __init__(self, settings: StabiliseSettings | None = None):
        self.settings = settings or StabiliseSettings()
        self._prev_alpha: np.ndarray | None = None
        self._prev_frame: np.ndarray | None = None

    def remember(self, alpha: np.ndarray, frame: np.ndarray) -> None:
        """Take ``alpha`` as the stabilised alpha of ``frame`` (an earlier run's output, read back)."""
        self._prev_alpha = np.asarray(alpha)
        self._prev_frame = np.asarray(frame)

    def __call__(self, alpha: np.ndarray, trimap: np.ndarray, frame: np.ndarray, motion) -> np.ndarray:
        alpha = np.asarray(alpha)
        if isinstance(motion, np.ndarray):
            motion = Motion(flow=motion)
        s = self.settings.strength
        out = alpha
        if s > 0 and motion is not None and self._prev_alpha is not None and self._prev_alpha.shape == alpha.shape:
            band = (trimap > 0) & (trimap < 255)
            if band.any():
                # Cubic: a strand a pixel wide keeps its peak through the warp (bilinear sampling at a sub-pixel
                # offset halves it, and the loss piles up frame after frame in the recursion).
                warped = np.clip(motion.warp(self._prev_alpha.astype(np.float32), cv2.INTER_CUBIC), 0, 255)
                new = alpha.astype(np.float32)
                weight = s * np.exp(-(((warped - new) / self.settings.tolerance) ** 2))
                blended = new + weight * (warped - new)
                out = alpha.copy()
                out[band] = np.clip(np.round(blended[band]), 0, 255).astype(np.uint8)
        self._prev_alpha = out
        self._prev_frame = np.asarray(frame)
        return out
