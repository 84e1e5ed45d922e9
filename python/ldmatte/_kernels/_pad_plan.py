"""Size-dependent tables of the padding kernel (``pad.py``): pyramid shapes, OpenCV's tap tables,
the workspace layout, and the coarsest fill in numpy's summation orders."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

# Extra pixels left between consecutive row buffers of the workspace (see _row_px): a gap
# against 4K aliasing, not image padding.
ROW_GAP_PX = 17


class PadPlan(NamedTuple):
    """Everything the padding kernel needs that depends only on the image size (``make_plan``)."""

    shapes: np.ndarray  # (L, 2) int64 level sizes
    level_start: np.ndarray  # (L + 1,) pixels stored before level i (level 0 is never stored)
    row_start: np.ndarray  # (L + 2,) running sum of level heights (level L: the 1x1 seed)
    col_start: np.ndarray  # (L + 2,) running sum of level widths
    tap_index: np.ndarray  # int64 tap tables: area indices, linear i0, i1 (see table_offsets)
    tap_weight: np.ndarray  # float32 weights of those taps
    reach: np.ndarray  # per source column of a shrink: first / last output whose taps cover it


class TableOffsets(NamedTuple):
    """Where one level's tap tables along one axis start in ``tap_index`` / ``tap_weight``."""

    area_index: int  # in tap_index: 3 source indices per output
    area_weight: int  # in tap_weight: 3 rows of dsize weights
    linear_i0: int  # in tap_index: first source of each output
    linear_i1: int  # in tap_index: second source
    linear_weight: int  # in tap_weight: 2 rows of dsize weights


@njit(cache=True, nogil=True)
def level_shapes(h, w):
    """(L, 2) sizes of the pyramid: int(size / 1.2) per side until the smaller side is <= 1."""
    n, hh, ww = 1, h, w
    while min(hh, ww) > 1:
        hh, ww, n = int(hh / 1.2), int(ww / 1.2), n + 1
    shapes = np.empty((n, 2), np.int64)
    hh, ww = h, w
    for i in range(n):
        shapes[i, 0], shapes[i, 1] = hh, ww
        hh, ww = int(hh / 1.2), int(ww / 1.2)
    return shapes


@njit(cache=True, nogil=True)
def area_tab(ssize, dsize):
    """OpenCV's INTER_AREA taps for one axis (computeResizeAreaTab): index (dsize, 3), weight (3, dsize).

    Shrinking by at most 2 gives at most three taps; shorter lists are padded
    with weight 0 on a valid index (adding an exact zero changes nothing).
    """
    scale = 1.0 / (dsize / ssize)  # as OpenCV: scale = 1 / inv_scale, inv_scale = dsize / ssize
    idx = np.empty((dsize, 3), np.int64)
    wt = np.zeros((3, dsize), np.float32)
    for d in range(dsize):
        f1 = d * scale
        f2 = f1 + scale
        cell = min(scale, ssize - f1)
        s2 = min(int(np.floor(f2)), ssize - 1)
        s1 = min(int(np.ceil(f1)), s2)
        first = s1 - 1 if s1 - f1 > 1e-3 else s1
        last = s2 if f2 - s2 > 1e-3 else s2 - 1
        if last - first > 2:
            raise ValueError("INTER_AREA step wider than three taps")
        for k in range(3):
            s = min(first + k, last)
            idx[d, k] = s
            if first + k > last:
                continue
            if s < s1:
                wt[k, d] = np.float32((s1 - f1) / cell)
            elif s < s2:
                wt[k, d] = np.float32(1.0 / cell)
            else:
                wt[k, d] = np.float32(min(min(f2 - s2, 1.0), cell) / cell)
    return idx, wt


@njit(cache=True, nogil=True)
def linear_tab(ssize, dsize, ipp, clamp):
    """INTER_LINEAR taps, two per output: i0, i1 (dsize,) and weights (2, dsize), half-pixel centres.

    ``ipp``: fraction from double coordinates (IPP). Otherwise OpenCV's own
    rule: float32 coordinates; horizontally (``clamp``) the fraction is zeroed
    at the borders, vertically only the row indices are clamped.
    """
    scale = ssize / dsize if ipp else 1.0 / (dsize / ssize)
    i0 = np.empty(dsize, np.int64)
    i1 = np.empty(dsize, np.int64)
    w = np.empty((2, dsize), np.float32)
    for d in range(dsize):
        if ipp:
            x = (d + 0.5) * scale - 0.5
            s = int(np.floor(x))
            f = np.float32(x - s)
        else:
            f = np.float32((d + 0.5) * scale - 0.5)
            s = int(np.floor(f))
            f = f - np.float32(s)
            if clamp and (s < 0 or s >= ssize - 1):
                f, s = np.float32(0.0), min(max(s, 0), ssize - 1)
        i0[d] = min(max(s, 0), ssize - 1)
        i1[d] = min(max(s + 1, 0), ssize - 1)
        w[0, d] = np.float32(1.0) - f
        w[1, d] = f
    return i0, i1, w


@njit(cache=True, nogil=True)
def make_plan(h, w):
    """Everything that depends only on the image size: level shapes and all tap tables.

    Returns a :class:`PadPlan` ``(shapes, offs, ho, wo, ints, floats, reach)``: ``offs[i]`` is the
    number of pixels stored before level i (levels 1.. are stored, level 0 never
    is); ``ho``/``wo`` are running sums of level heights / widths (level L is the
    1x1 seed) that locate each level's tables in ``ints`` (area indices, linear
    i0, i1) and ``floats`` (their weights) and its row buffers; ``reach`` holds,
    for each source column x of a shrink to level i, the first output whose taps
    end at or after x (at ``wo[i - 1] + x``) and the last output whose taps start
    at or before x (at ``wo[L] + wo[i - 1] + x``).
    """
    shapes = level_shapes(h, w)
    n = shapes.shape[0]
    offs = np.zeros(n + 1, np.int64)
    ho = np.zeros(n + 2, np.int64)
    wo = np.zeros(n + 2, np.int64)
    for i in range(n + 1):
        hh, ww = (shapes[i, 0], shapes[i, 1]) if i < n else (1, 1)
        ho[i + 1], wo[i + 1] = ho[i] + hh, wo[i] + ww
        if i < n:
            offs[i + 1] = offs[i] + (hh * ww if i > 0 else 0)
    nh, nw = ho[n], wo[n]
    ints = np.zeros(5 * (nh + nw), np.int64)
    floats = np.zeros(5 * (nh + nw), np.float32)
    reach = np.zeros(2 * nw, np.int64)
    for i in range(1, n):
        idx, wt = area_tab(shapes[i - 1, 1], shapes[i, 1])
        first, last = wo[i - 1], nw + wo[i - 1]
        d = 0
        for x in range(shapes[i - 1, 1]):  # taps of output d are idx[d, 0] .. idx[d, 2], ascending in d
            while idx[d, 2] < x:
                d += 1
            reach[first + x] = d
        d = shapes[i, 1] - 1
        for x in range(shapes[i - 1, 1] - 1, -1, -1):
            while idx[d, 0] > x:
                d -= 1
            reach[last + x] = d
    for i in range(n):
        for axis in range(2):
            o, tot, size = (ho, nh, shapes[:, 0]) if axis == 0 else (wo, nw, shapes[:, 1])
            base_i = 5 * nh * axis  # per axis: area idx (3 per entry), linear i0, i1
            base_f = 5 * nh * axis  # per axis: area weights (3 per entry), linear weights (2)
            px = 16 if axis == 1 else 1  # column taps are stored as byte offsets for the intrinsics
            if i > 0:
                idx, wt = area_tab(size[i - 1], size[i])
                ints[base_i + 3 * o[i] : base_i + 3 * o[i + 1]] = idx.ravel() * px
                floats[base_f + 3 * o[i] : base_f + 3 * o[i + 1]] = wt.ravel()
            src = size[i + 1] if i + 1 < n else 1
            ipp = i + 1 < n and shapes[i + 1, 0] >= 2 and shapes[i + 1, 1] >= 2
            i0, i1, lw = linear_tab(src, size[i], ipp, axis == 1)
            ints[base_i + 3 * tot + o[i] : base_i + 3 * tot + o[i + 1]] = i0 * px
            ints[base_i + 4 * tot + o[i] : base_i + 4 * tot + o[i + 1]] = i1 * px
            floats[base_f + 3 * tot + 2 * o[i] : base_f + 3 * tot + 2 * o[i + 1]] = lw.ravel()
    return PadPlan(shapes, offs, ho, wo, ints, floats, reach)


@njit(cache=True, nogil=True)
def table_offsets(plan, i, axis):
    """:class:`TableOffsets` of level i's tables along ``axis`` (0: rows, 1: columns)."""
    shapes, ho, wo = plan.shapes, plan.row_start, plan.col_start
    n = shapes.shape[0]
    o, tot = (ho, ho[n]) if axis == 0 else (wo, wo[n])
    bi, bf = 5 * ho[n] * axis, 5 * ho[n] * axis
    return TableOffsets(bi + 3 * o[i], bf + 3 * o[i], bi + 3 * tot + o[i], bi + 4 * tot + o[i], bf + 3 * tot + 2 * o[i])


@njit(cache=True, nogil=True)
def workspace_size(plan):
    """float32 elements one image needs: levels 1.. plus six row buffers per level."""
    offs, wo = plan.level_start, plan.col_start
    return 4 * offs[-1] + 24 * (wo[-1] + ROW_GAP_PX * len(wo))


@njit(cache=True, nogil=True)
def _row_px(plan, i, slot):
    """First pixel of row buffer ``slot`` of level i in the workspace.

    Slots: 0 the shrink x-pass (levels >= 1), 1-3 the ring of premultiplied
    input rows (level 0), 2-3 the fill ring (levels >= 1 and the seed "level"),
    4-5 the enlarged fill rows.
    """
    offs, wo = plan.level_start, plan.col_start
    # Slots are ROW_GAP_PX pixels apart beyond their width, so that rows read and written together
    # never sit a multiple of 4 KiB apart (4K aliasing stalls loads behind unrelated stores).
    return offs[-1] + 6 * (wo[i] + ROW_GAP_PX * i) + slot * (wo[i + 1] - wo[i] + ROW_GAP_PX)


@njit(cache=True, nogil=True)
def _src_px(plan, i, r):
    """First pixel of row r of level i - 1, the source of a shrink to level i."""
    if i == 1:
        return _row_px(plan, 0, 1 + r % 3)
    return plan.level_start[i - 1] + r * plan.shapes[i - 1, 1]


@njit(cache=True, nogil=True)
def _block_sum(a, lo, n):
    """numpy's float32 pairwise-sum leaf (n <= 128): eight interleaved partial sums."""
    if n < 8:
        res = np.float32(0.0)
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r = np.empty(8, np.float32)
    for j in range(8):
        r[j] = a[lo + j]
    i = 8
    while i < n - (n % 8):
        for j in range(8):
            r[j] += a[lo + i + j]
        i += 8
    res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    for k in range(i, n):
        res += a[lo + k]
    return res


@njit(cache=True, nogil=True)
def _pairwise_sum(a):
    """numpy's float32 pairwise summation of ``a`` (the order of ``alpha.sum()``).

    numpy recurses, halving at a multiple of 8 above 128 elements; recursion does
    not survive Numba's on-disk cache, so this walks the same tree with a stack.
    """
    task_lo = np.empty(128, np.int64)
    task_n = np.empty(128, np.int64)  # n < 0: add the two values on top
    vals = np.empty(128, np.float32)
    nt, nv = 1, 0
    task_lo[0], task_n[0] = 0, a.shape[0]
    while nt:
        nt -= 1
        lo, n = task_lo[nt], task_n[nt]
        if n < 0:
            nv -= 1
            vals[nv - 1] = vals[nv - 1] + vals[nv]
        elif n <= 128:
            vals[nv] = _block_sum(a, lo, n)
            nv += 1
        else:
            n2 = n // 2 - (n // 2) % 8
            task_lo[nt], task_n[nt] = 0, -1
            task_lo[nt + 1], task_n[nt + 1] = lo + n2, n - n2
            task_lo[nt + 2], task_n[nt + 2] = lo, n2
            nt += 3
    return vals[0]


@njit(cache=True, nogil=True)
def _seed(top, seed):
    """Coarsest fill: sum(C*a) / clip(sum(a), 1e-8, 1e32) in numpy's float32 summation orders."""
    n = top.shape[0] // 4
    s = np.zeros(3, np.float32)
    for p in range(n):  # a 3-channel sum over pixels runs sequentially in raster order
        for c in range(3):
            s[c] += top[4 * p + c]
    den = min(max(_pairwise_sum(top[3::4]), np.float32(1e-8)), np.float32(1e32))
    for c in range(3):
        seed[c] = s[c] / den
    seed[3] = 0.0
