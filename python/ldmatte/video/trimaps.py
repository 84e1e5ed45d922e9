"""Trimaps from per-frame masks: an unknown band around the mask's edge, its width scaled to the frame."""
from __future__ import annotations

import numpy as np

from ..training import trimap

__all__ = ["default_band_width", "mask_trimap"]

BAND_FRACTION = 0.03  # unknown band width as a share of the frame's shorter side
MIN_BAND = 4


def default_band_width(height: int, width: int) -> int:
    """Total width in pixels of the unknown band for a frame size: 3 % of the shorter side, at least 4, even.

    Examples
    --------
    >>> default_band_width(256, 256), default_band_width(1080, 1920), default_band_width(64, 64)
    (8, 32, 4)
    """
    w = max(MIN_BAND, int(round(BAND_FRACTION * min(height, width))))
    return w + (w % 2)


def mask_trimap(mask: np.ndarray, band_width: int) -> np.ndarray:
    """A 0 / 128 / 255 trimap whose unknown band straddles the mask's edge, ``band_width`` pixels in all.

    Half the band lies inside the mask (eroded foreground), half outside (eroded
    background); the image frame does not erode, so a subject cut by the frame
    stays known there.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((1, 10), np.uint8); m[0, 5:] = 255
    >>> mask_trimap(m, 4)[0].tolist()
    [0, 0, 0, 128, 128, 128, 128, 255, 255, 255]
    """
    if isinstance(band_width, bool) or not isinstance(band_width, (int, np.integer)) or band_width < 0:
        raise ValueError(f"band_width must be an int >= 0 (pixels), got {band_width!r}")
    half = int(band_width) // 2
    k = 2 * half + 1 if half else 0  # an elliptical kernel of 2r + 1 pixels erodes r on each side
    return trimap(np.ascontiguousarray(mask), erode=k, dilate=k, fg_threshold=128, bg_threshold=127)
