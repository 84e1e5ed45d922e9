"""Trimaps from per-frame masks: an unknown band around the mask's edge, its width scaled to the frame."""
from __future__ import annotations

import cv2
import numpy as np

from ..training import trimap

__all__ = ["default_band_width", "mask_trimap", "extend_band"]

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


def extend_band(trimap: np.ndarray, mask: np.ndarray, hint: np.ndarray, reach: int, limit: int,
                threshold: float = 0.2) -> np.ndarray:
    """Widen a trimap's unknown band over the known background where an earlier matte saw detail (hair).

    ``hint`` is the previous frame's alpha (uint8 or float in [0, 1]) moved
    onto this frame. Known background within ``reach`` pixels of a hint above
    ``threshold`` becomes unknown, but never farther than ``limit`` pixels from
    ``mask``: a thin strand, too thin to survive in a binary mask, keeps its
    band from frame to frame, while a false detection can spread at most
    ``limit`` pixels out. The mask itself (and known foreground) is untouched.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((1, 12), np.uint8); m[0, 8:] = 255
    >>> tri = mask_trimap(m, 2)
    >>> hint = np.zeros((1, 12), np.float32); hint[0, 3] = 0.6  # a strand 4 px out of the mask
    >>> extend_band(tri, m, hint, reach=1, limit=6)[0].tolist()
    [0, 0, 128, 128, 128, 0, 0, 128, 128, 255, 255, 255]
    >>> extend_band(tri, m, hint, reach=1, limit=4)[0].tolist()  # no farther than 4 px from the mask
    [0, 0, 0, 0, 128, 0, 0, 128, 128, 255, 255, 255]
    """
    hint = np.asarray(hint)
    unit = hint.astype(np.float32) / 255 if hint.dtype == np.uint8 else hint.astype(np.float32)
    seeds = ((unit > threshold) & (trimap == 0)).astype(np.uint8)
    if not seeds.any():
        return trimap
    if reach > 0:
        seeds = cv2.dilate(seeds, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1)))
    outside = np.ascontiguousarray(np.where(np.asarray(mask) > 127, 0, 255).astype(np.uint8))
    near = cv2.distanceTransform(outside, cv2.DIST_L2, 5) <= limit
    out = trimap.copy()
    out[(seeds > 0) & near & (trimap == 0)] = 128
    return out
