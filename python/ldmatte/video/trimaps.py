"""Trimaps from per-frame masks: an unknown band around the mask's edge, its width scaled to the frame."""
from __future__ import annotations

import cv2
import numpy as np

from ..dataset.composite_trimap import trimap

__all__ = ["default_band_width", "subject_band_width", "mask_trimap", "extend_band", "distance_outside", "thin_core"]

BAND_FRACTION = 0.03  # unknown band width as a share of the frame's shorter side
MIN_BAND = 4
SUBJECT_FRACTION = 0.06  # at most this share of the subject's size (the square root of its area)
MIN_SUBJECT_BAND = 2


def default_band_width(height: int, width: int) -> int:
    """Total width in pixels of the unknown band for a frame size: 3 % of the shorter side, at least 4, even.

    Examples
    --------
    >>> default_band_width(256, 256), default_band_width(1080, 1920), default_band_width(64, 64)
    (8, 32, 4)
    """
    w = max(MIN_BAND, int(round(BAND_FRACTION * min(height, width))))
    return w + (w % 2)


def subject_band_width(mask: np.ndarray, band_width: int) -> int:
    """The band for this mask: ``band_width``, narrowed for a small subject to 6 % of its size (square root
    of its area; at least 2 px, even).

    A band as wide as a small subject's parts lets the matting, which has little known foreground to learn
    its colours from, eat into it (a chair 70 px across lost 16 % of its IoU with the frame's default band).

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((480, 720), np.uint8); m[100:170, 200:270] = 255  # 70 x 70 px
    >>> subject_band_width(m, 14), subject_band_width(np.full((480, 720), 255, np.uint8), 14)
    (4, 14)
    """
    area = int(np.count_nonzero(np.asarray(mask) > 127))
    w = max(MIN_SUBJECT_BAND, int(round(SUBJECT_FRACTION * area ** 0.5)))
    w += w % 2
    return int(min(band_width, w))


def mask_trimap(mask: np.ndarray, band_width: int, outside: float = 0.5, holes: bool = True,
                thin: bool = True) -> np.ndarray:
    """A 0 / 128 / 255 trimap whose unknown band straddles the mask's edge, ``band_width`` pixels in all.

    A share ``outside`` of the band lies outside the mask (eroded background),
    the rest inside (eroded foreground); the image frame does not erode, so a
    subject cut by the frame stays known there. With ``holes`` a background
    piece narrower than the band (the gap between an arm and the body) keeps a
    known core rather than turning all unknown. With ``thin`` a part of the mask
    thinner than the band (a chair leg, an arm far away) keeps its skeleton as
    known foreground (:func:`thin_core`): the band there is as wide as the part is thick, so the matting
    cannot delete it.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((1, 10), np.uint8); m[0, 5:] = 255
    >>> mask_trimap(m, 4)[0].tolist()
    [0, 0, 0, 128, 128, 128, 128, 255, 255, 255]
    >>> mask_trimap(m, 4, outside=0.75)[0].tolist()
    [0, 0, 128, 128, 128, 128, 255, 255, 255, 255]
    >>> gap = np.full((1, 12), 255, np.uint8); gap[0, 4:9] = 0  # a gap 5 px wide, narrower than the band
    >>> mask_trimap(gap, 8)[0].tolist()
    [128, 128, 128, 128, 128, 0, 0, 0, 128, 128, 128, 128]
    >>> leg = np.zeros((9, 9), np.uint8); leg[:, 3:6] = 255  # a part 3 px thick, the band 8 px
    >>> mask_trimap(leg, 8)[4].tolist()
    [0, 0, 128, 128, 255, 128, 128, 0, 0]
    """
    if isinstance(band_width, bool) or not isinstance(band_width, (int, np.integer)) or band_width < 0:
        raise ValueError(f"band_width must be an int >= 0 (pixels), got {band_width!r}")
    if not 0 <= outside <= 1:
        raise ValueError(f"outside must be in [0, 1], got {outside!r}")
    out_px = int(round(band_width * outside))
    in_px = int(band_width) - out_px
    mask = np.ascontiguousarray(mask)
    # An elliptical kernel of 2r + 1 pixels erodes r pixels on each side.
    out = trimap(mask, erode=2 * in_px + 1 if in_px else 0, dilate=2 * out_px + 1 if out_px else 0,
                 fg_threshold=128, bg_threshold=127)  # fmt: skip
    if holes and out_px > 1:
        _keep_hole_cores(out, mask)
    if thin and in_px > 0:
        out[thin_core(mask, in_px)] = 255
    return out


def thin_core(mask: np.ndarray, radius: int) -> np.ndarray:
    """The skeleton of the mask's parts that an erosion by ``radius`` pixels would delete (bool (H, W)).

    A morphological skeleton (Lantuéjoul: what each erosion step leaves that an opening removes), kept only
    inside the parts that an opening with a disc of ``radius`` removes (thinner than ``2 * radius``) and in
    pieces of at least ``radius`` pixels, so the small bumps of a thick part's edge do not count.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((7, 20), np.uint8); m[:, :9] = 255; m[3, 9:] = 255  # a block with a 1-px wire
    >>> thin_core(m, 3)[3].astype(int).tolist()
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    """
    m = (np.asarray(mask) > 127).astype(np.uint8)
    r = int(radius)
    if r <= 0 or not m.any():
        return np.zeros(m.shape, bool)
    ys, xs = np.nonzero(m)
    y0, y1, x0, x1 = max(0, ys.min() - 1), ys.max() + 2, max(0, xs.min() - 1), xs.max() + 2
    crop = m[y0:y1, x0:x1]
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    skeleton = np.zeros_like(crop)
    eroded = crop
    for _ in range(r + 1):
        opened = cv2.morphologyEx(eroded, cv2.MORPH_OPEN, cross)
        skeleton |= eroded & (1 - opened)
        eroded = cv2.erode(eroded, cross)
        if not eroded.any():
            break
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    thin = crop & (1 - cv2.morphologyEx(crop, cv2.MORPH_OPEN, disc, borderType=cv2.BORDER_REPLICATE))
    core = skeleton & thin
    n, lab, stats, _ = cv2.connectedComponentsWithStats(core, connectivity=8)
    if n > 1:
        small = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] < r) + 1
        core[np.isin(lab, small)] = 0
    out = np.zeros(m.shape, bool)
    out[y0:y1, x0:x1] = core > 0
    return out


def _keep_hole_cores(out: np.ndarray, mask: np.ndarray) -> None:
    """Give background pieces the band swallowed whole (the gap between an arm and the body) a known core.

    Without one the matting has no background to anchor to there and fills the gap,
    and fed back to the mask the gap closes for good. The core is the piece's
    pixels at least half its greatest distance from the mask (pieces under 2 pixels deep stay unknown).
    """
    background = (mask <= 127).astype(np.uint8)
    n, labels = cv2.connectedComponents(background, connectivity=8)
    if n <= 1:
        return
    known = np.bincount(labels[out == 0], minlength=n) > 0
    swallowed = ~known
    swallowed[0] = False  # label 0 is the mask itself
    if not swallowed.any():
        return
    dist = distance_outside(mask)
    inside = swallowed[labels]  # only the swallowed pieces' pixels: a few, where the whole frame is slow to scan
    piece, d = labels[inside], dist[inside]
    depth = np.zeros(n, np.float32)
    np.maximum.at(depth, piece, d)
    out[inside] = np.where((depth[piece] >= 2) & (d >= 0.5 * depth[piece]), 0, out[inside])


def extend_band(trimap: np.ndarray, mask: np.ndarray, hint: np.ndarray, reach: int, limit: int,
                threshold: float = 0.2, distance: np.ndarray | None = None) -> np.ndarray:
    """Widen a trimap's unknown band over the known background where an earlier matte saw detail (hair).

    ``hint`` is the previous frame's alpha (uint8 or float in [0, 1]) moved
    onto this frame. Known background within ``reach`` pixels of a hint above
    ``threshold`` becomes unknown, but never farther than ``limit`` pixels from
    ``mask``: a thin strand, too thin to survive in a binary mask, keeps its
    band from frame to frame, while a false detection can spread at most
    ``limit`` pixels out. The mask itself (and known foreground) is untouched. ``distance``: the
    mask's :func:`distance_outside`, when the caller has it already.

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
    near = (distance if distance is not None else distance_outside(mask)) <= limit
    out = trimap.copy()
    out[(seeds > 0) & near & (trimap == 0)] = 128
    return out


def distance_outside(mask: np.ndarray) -> np.ndarray:
    """Distance in pixels (float32) from each pixel to the mask (> 127); 0 inside it.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((1, 6), np.uint8); m[0, 4:] = 255
    >>> distance_outside(m)[0].tolist()
    [4.0, 3.0, 2.0, 1.0, 0.0, 0.0]
    """
    outside = np.ascontiguousarray(np.where(np.asarray(mask) > 127, 0, 255).astype(np.uint8))
    return cv2.distanceTransform(outside, cv2.DIST_L2, 5)
