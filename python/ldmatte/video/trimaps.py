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


def mask_trimap(mask: np.ndarray, band_width: int, outside: float = 0.5) -> np.ndarray:
    """A 0 / 128 / 255 trimap whose unknown band straddles the mask's edge, ``band_width`` pixels in all.

    A share ``outside`` of the band lies outside the mask (eroded background),
    the rest inside (eroded foreground); the image frame does not erode, so a
    subject cut by the frame stays known there.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((1, 10), np.uint8); m[0, 5:] = 255
    >>> mask_trimap(m, 4)[0].tolist()
    [0, 0, 0, 128, 128, 128, 128, 255, 255, 255]
    >>> mask_trimap(m, 4, outside=0.75)[0].tolist()
    [0, 0, 128, 128, 128, 128, 255, 255, 255, 255]
    """
    if isinstance(band_width, bool) or not isinstance(band_width, (int, np.integer)) or band_width < 0:
        raise ValueError(f"band_width must be an int >= 0 (pixels), got {band_width!r}")
    if not 0 <= outside <= 1:
        raise ValueError(f"outside must be in [0, 1], got {outside!r}")
    out_px = int(round(band_width * outside))
    in_px = int(band_width) - out_px
    # An elliptical kernel of 2r + 1 pixels erodes r pixels on each side.
    return trimap(np.ascontiguousarray(mask), erode=2 * in_px + 1 if in_px else 0,
                  dilate=2 * out_px + 1 if out_px else 0, fg_threshold=128, bg_threshold=127)  # fmt: skip
