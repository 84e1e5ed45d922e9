"""Connectivity-aware alpha refinement (CAAR) written plainly with scipy.

This is the executable form of the operator in the spec: the fast kernels must
return the same alpha (bit for bit) and the same statistics.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from .._stats import STAT_FIELDS  # the contract of the statistics vector (re-exported here)
from .label import structure


def _touching_labels(lab: np.ndarray, n: int, region: np.ndarray, st: np.ndarray, frame: bool = False) -> np.ndarray:
    """Boolean per label (index 0 unused): does the component have a neighbour in ``region``?

    ``frame``: the image frame counts as part of ``region`` (outside pixels are in it).
    """
    # binary_dilation with border_value=0: the frame is neither FG nor BG; with 1 it is in the region.
    grown = ndimage.binary_dilation(region, structure=st, border_value=int(frame))
    hit = np.zeros(n + 1, dtype=bool)
    hit[lab[grown & (lab > 0)]] = True
    return hit


def haze_floor_reference(a: np.ndarray, fg_tol: int, bg_tol: int, haze_floor):
    """(alpha with the haze floor removed, does the frame count as background, the ``_haze.HazeFloor``).

    The decision (no clear background, the fitted floor) is ``ldmatte._haze.estimate_floor`` on the frame,
    read here plainly; the removal is written per pixel from its definition:
    ``h = floor((a + bx x + by y) / 2^16 + 1/2)`` clipped to 0..254, and
    ``alpha' = round_half_up((alpha - h) * 255 / (255 - h))`` where ``alpha > h``, else 0.
    """
    from .._haze import FRAC_BITS, estimate_floor
    from .._params import RefineParams

    height, width = a.shape
    top_bottom = [(0, x) for x in range(width)] + ([(height - 1, x) for x in range(width)] if height > 1 else [])
    # the order of ldmatte._haze.frame_coordinates (a least-squares fit sums in that order)
    sides = [(y, x) for x in ((0, width - 1) if width > 1 else (0,)) for y in range(1, height - 1)]
    ys, xs = (np.array(v, np.int64) for v in zip(*(top_bottom + sides))) if width and height else (np.zeros(0, np.int64),) * 2
    params = RefineParams(fg_tol=fg_tol, bg_tol=bg_tol, haze_floor=haze_floor)
    floor = estimate_floor(a[ys, xs], ys, xs, height, width, params, has_core=bool((a >= 255 - fg_tol).any()))
    if not floor.removes:
        return a, floor.guard, floor
    yy, xx = np.mgrid[0:height, 0:width].astype(np.int64)
    h = np.floor((floor.a + floor.bx * xx.astype(float) + floor.by * yy.astype(float)) / 2.0**FRAC_BITS + 0.5)
    h = np.clip(h, 0, 254).astype(np.int64)
    ai = a.astype(np.int64)
    # round half up of (a - h) * 255 / (255 - h), exactly: floor((2 * 255 * (a - h) + (255 - h)) / (2 * (255 - h)))
    out = np.where(ai > h, (510 * (ai - h) + (255 - h)) // (2 * (255 - h)), 0)
    return out.astype(np.uint8), floor.guard, floor


def _refine_one(a, fg_tol, bg_tol, st, snap, fill_interior, min_subject_fraction, hysteresis, stats, frame_bg=False):
    fg = a >= 255 - fg_tol
    bg = a <= bg_tol
    u = ~fg & ~bg
    lab, n = ndimage.label(u, structure=st)
    touch_fg = _touching_labels(lab, n, fg, st)
    touch_bg = _touching_labels(lab, n, bg, st, frame=frame_bg)
    ids = np.arange(n + 1)
    band = touch_fg & touch_bg
    interior = touch_fg & ~touch_bg
    floating = touch_bg & ~touch_fg
    isolated = ~touch_fg & ~touch_bg & (ids > 0)
    out = a.copy()
    if snap:
        out[fg] = 255
        out[bg] = 0
    if fill_interior:
        out[interior[lab] & u] = 255
    out[floating[lab] & u] = 0
    removed_islands = removed_px = 0
    drop = np.zeros_like(u)
    if min_subject_fraction is not None:
        support = out > bg_tol
        slab, sn = ndimage.label(support, structure=st)
        if sn > 1:
            area = np.bincount(slab.ravel(), minlength=sn + 1)
            area[0] = 0
            keep = area >= min_subject_fraction * area.max()
            keep[0] = True
            drop = ~keep[slab]
            removed_islands = int(sn + 1 - keep.sum())
            removed_px = int(drop.sum())
            out[drop] = 0
    kept_class = band | isolated | (interior if not fill_interior else False)
    kept_u = u & kept_class[lab] & ~drop
    if hysteresis and snap:
        # Snapped tolerance pixels (faint 1..bg_tol, near-opaque 255-fg_tol..254) that are neighbours
        # of a kept U pixel (the band; with fill_interior=False also the translucent interior) keep
        # their value: hair tips, the top of a soft ramp. An FG pixel next to a kept U pixel is in
        # its support component, so never dropped.
        tolerance = (bg & (a > 0)) | (fg & (a < 255))
        restored = tolerance & ndimage.binary_dilation(kept_u, structure=st)
        out[restored] = a[restored]
    stats[:] = (
        np.count_nonzero(out > a),
        np.count_nonzero(out < a),
        np.count_nonzero(band),
        np.count_nonzero(interior[1:]),
        np.count_nonzero(floating[1:]),
        np.count_nonzero(isolated),
        removed_islands,
        removed_px,
        np.count_nonzero((a > 0) & (a < 255)),
        np.count_nonzero((out > 0) & (out < 255)),
        np.count_nonzero(u),
        np.count_nonzero(kept_u),
    )
    return out


def refine_alpha_reference(
    alpha: np.ndarray,
    fg_tol: int = 8,
    bg_tol: int = 8,
    connectivity: int = 8,
    snap: bool = True,
    fill_interior: bool = True,
    min_subject_fraction: float | None = 0.05,
    hysteresis: bool = True,
    haze_floor="auto",
    return_floors: bool = False,
):
    """Refine an (H, W) or (B, H, W) uint8 alpha; return (refined, stats).

    ``stats`` is int64 of shape (len(STAT_FIELDS),) or (B, len(STAT_FIELDS)).
    ``fill_interior=False`` keeps translucent regions enclosed by the opaque core
    (glass, veils) instead of raising them to 255. ``min_subject_fraction=None``
    turns the subject rule off. ``hysteresis=True`` (with ``snap``) keeps the
    values of the faint (1..bg_tol) and near-opaque (255-fg_tol..254) pixels
    that are 4/8-neighbours of a kept U pixel (the band, and the translucent
    interior with ``fill_interior=False``; after the subject rule).
    ``haze_floor`` ("auto", "off" or a level, as :func:`ldmatte.refine_alpha`
    takes it): the haze floor is removed
    first and, for an image with no clear background, the frame counts as
    background (:func:`haze_floor_reference`); the statistics are those of the
    alpha after the removal. ``return_floors`` also returns each image's
    ``HazeFloor`` (a list for a batch).
    """
    alpha = np.asarray(alpha)
    if alpha.dtype != np.uint8:
        raise TypeError(f"alpha must be uint8, got {alpha.dtype}")
    batched = alpha.ndim == 3
    stack = alpha if batched else alpha[None]
    st = structure(connectivity)
    out = np.empty_like(stack)
    stats = np.zeros((stack.shape[0], len(STAT_FIELDS)), dtype=np.int64)
    floors = []
    for i, a in enumerate(stack):
        a, frame_bg, floor = haze_floor_reference(a, fg_tol, bg_tol, haze_floor)
        floors.append(floor)
        out[i] = _refine_one(a, fg_tol, bg_tol, st, snap, fill_interior, min_subject_fraction, hysteresis, stats[i],
                             frame_bg)  # fmt: skip
    result = (out, stats) if batched else (out[0], stats[0])
    if return_floors:
        return (*result, floors if batched else floors[0])
    return result
