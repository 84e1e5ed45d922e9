"""Numba LayerDiffuse padding: the alpha pyramid of ``reference/pad.py``, float for float.

The reference shrinks premultiplied colour and alpha by 1.2 per side with
OpenCV's INTER_AREA, takes the alpha-weighted mean at the coarsest level, and
on the way back up enlarges the fill with INTER_LINEAR and blends it under each
level. This kernel performs the same float32 operations in the same order, so
its output equals the reference's bit for bit (the tests allow one uint8 level):

* INTER_AREA: OpenCV's tap tables (computeResizeAreaTab), each source row
  shrunk horizontally first, then rows combined; the 2x2 -> 1x1 step takes
  OpenCV's integer-scale path (sum of four, times 0.25).
* INTER_LINEAR: OpenCV hands float32 resizes to IPP when both source sides are
  >= 2. IPP takes the fraction from double coordinates and computes
  ``fma(b - a, t, a)`` horizontally, then vertically. With a side of 1 OpenCV
  runs its own code: float32 coordinates and ``a * w0 + b * w1``.
* The coarsest mean uses numpy's summation orders (sequential over pixels for
  the 3-channel colour, pairwise for the contiguous alpha).

Speed: pixels are interleaved float32 RGBA handled by the vector intrinsics
of ``_pad_simd``; both directions run as row cascades. Going down, each new row
of a level immediately feeds the next coarser level while it is in cache.
Going up, each level's fill rows are produced on demand for the finer level
and live only in a two-row ring: fills are never written to memory, and level
0 is never stored as floats (the input is premultiplied where it is read).
Memory traffic is the levels written once and read once.
"""
from __future__ import annotations

import threading

import numba
import numpy as np
from numba import njit, prange

from ._pad_simd import (
    WIDE,
    area1,
    areaW,
    blend1_cv,
    blend1_ipp,
    blendW_cv,
    blendW_ipp,
    hlerp1_cv,
    hlerp1_ipp,
    hlerpW_cv,
    hlerpW_ipp,
    out1_cv,
    out1_ipp,
    outW_cv,
    outW_ipp,
    premul1,
    premulW,
)


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
    """OpenCV's INTER_AREA taps for one axis (computeResizeAreaTab): index (dsize, 3), weight (3, dsize, 4).

    Shrinking by at most 2 gives at most three taps; shorter lists are padded
    with weight 0 on a valid index (adding an exact zero changes nothing).
    Weights are repeated over the four lanes of a pixel.
    """
    scale = 1.0 / (dsize / ssize)  # as OpenCV: scale = 1 / inv_scale, inv_scale = dsize / ssize
    idx = np.empty((dsize, 3), np.int64)
    wt = np.zeros((3, dsize, 4), np.float32)
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
                wt[k, d, :] = np.float32((s1 - f1) / cell)
            elif s < s2:
                wt[k, d, :] = np.float32(1.0 / cell)
            else:
                wt[k, d, :] = np.float32(min(min(f2 - s2, 1.0), cell) / cell)
    return idx, wt


@njit(cache=True, nogil=True)
def linear_tab(ssize, dsize, ipp, clamp):
    """INTER_LINEAR taps, two per output: i0, i1 (dsize,) and weights (2, dsize, 4), half-pixel centres.

    ``ipp``: fraction from double coordinates (IPP). Otherwise OpenCV's own
    rule: float32 coordinates; horizontally (``clamp``) the fraction is zeroed
    at the borders, vertically only the row indices are clamped.
    """
    scale = ssize / dsize if ipp else 1.0 / (dsize / ssize)
    i0 = np.empty(dsize, np.int64)
    i1 = np.empty(dsize, np.int64)
    w = np.empty((2, dsize, 4), np.float32)
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
        w[0, d, :] = np.float32(1.0) - f
        w[1, d, :] = f
    return i0, i1, w


@njit(cache=True, nogil=True)
def make_plan(h, w):
    """Everything that depends only on the image size: level shapes and all tap tables.

    Returns ``(shapes, offs, ho, wo, ints, floats)``: ``offs[i]`` is the number
    of pixels stored before level i (levels 1.. are stored, level 0 never is);
    ``ho``/``wo`` are running sums of level heights / widths (level L is the 1x1
    seed) that locate each level's tables in ``ints`` (area indices, linear i0,
    i1) and ``floats`` (their weights) and its row buffers.
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
    floats = np.zeros(20 * (nh + nw), np.float32)
    for i in range(n):
        for axis in range(2):
            o, tot, size = (ho, nh, shapes[:, 0]) if axis == 0 else (wo, nw, shapes[:, 1])
            base_i = 5 * nh * axis  # per axis: area idx (3 per entry), linear i0, i1
            base_f = 20 * nh * axis  # per axis: area weights (12 per entry), linear weights (8)
            if i > 0:
                idx, wt = area_tab(size[i - 1], size[i])
                ints[base_i + 3 * o[i] : base_i + 3 * o[i + 1]] = idx.ravel()
                floats[base_f + 12 * o[i] : base_f + 12 * o[i + 1]] = wt.ravel()
            src = size[i + 1] if i + 1 < n else 1
            ipp = i + 1 < n and shapes[i + 1, 0] >= 2 and shapes[i + 1, 1] >= 2
            i0, i1, lw = linear_tab(src, size[i], ipp, axis == 1)
            ints[base_i + 3 * tot + o[i] : base_i + 3 * tot + o[i + 1]] = i0
            ints[base_i + 4 * tot + o[i] : base_i + 4 * tot + o[i + 1]] = i1
            floats[base_f + 12 * tot + 8 * o[i] : base_f + 12 * tot + 8 * o[i + 1]] = lw.ravel()
    return shapes, offs, ho, wo, ints, floats


@njit(cache=True, nogil=True)
def _toffs(plan, i, axis):
    """Offsets of level i's tables along ``axis`` (0: rows, 1: columns).

    Returns (area idx, area weights, linear i0, linear i1, linear weights): the
    first, third and fourth index ``ints``, the others ``floats``.
    """
    shapes, ho, wo = plan[0], plan[2], plan[3]
    n = shapes.shape[0]
    o, tot = (ho, ho[n]) if axis == 0 else (wo, wo[n])
    bi, bf = 5 * ho[n] * axis, 20 * ho[n] * axis
    return bi + 3 * o[i], bf + 12 * o[i], bi + 3 * tot + o[i], bi + 4 * tot + o[i], bf + 12 * tot + 8 * o[i]


@njit(cache=True, nogil=True)
def workspace_size(plan):
    """float32 elements one image needs: levels 1.. plus six row buffers per level."""
    offs, wo = plan[1], plan[3]
    return 4 * offs[-1] + 24 * wo[-1]


@njit(cache=True, nogil=True)
def _row_px(plan, i, slot):
    """First pixel of row buffer ``slot`` of level i in the workspace.

    Slots: 0 shrink x-pass, 1 premultiplied input row, 2-3 fill ring, 4-5 enlarged fill rows.
    """
    offs, wo = plan[1], plan[3]
    return offs[-1] + 6 * wo[i] + slot * (wo[i + 1] - wo[i])


@njit(cache=True, nogil=True)
def _premul_row(src, alpha, s_px, n, dst, d_px):
    """dst pixels d_px.. = premultiplied src pixels s_px.. (n pixels; alpha from ``alpha`` unless None)."""
    m = n - n % WIDE
    for j in range(0, m, WIDE):
        premulW(src, alpha, s_px + j, dst, d_px + j)
    for j in range(m, n):
        premul1(src, alpha, s_px + j, dst, d_px + j)


@njit(cache=True, nogil=True)
def _shrink_row(img, alpha, ws, plan, i, d, last):
    """Row d of level i (INTER_AREA of level i - 1): source rows shrunk horizontally, then combined."""
    shapes, offs, ints, floats = plan[0], plan[1], plan[4], plan[5]
    sh, sw, dh, dw = shapes[i - 1, 0], shapes[i - 1, 1], shapes[i, 0], shapes[i, 1]
    o = numba.uint64(4 * (offs[i] + d * dw))  # unsigned indices keep the loops below vectorised
    if sh == 2 and sw == 2 and dh == 1 and dw == 1:  # OpenCV's integer-scale path: sum of four, * 0.25
        tmp = np.empty(16, np.float32)
        if i == 1:
            _premul_row(img, alpha, 0, 4, tmp, 0)
        else:
            tmp[:] = ws[4 * offs[i - 1] : 4 * offs[i - 1] + 16]
        for c in range(4):
            ws[o + c] = (((tmp[c] + tmp[4 + c]) + tmp[8 + c]) + tmp[12 + c]) * np.float32(0.25)
        return
    xi, xw = _toffs(plan, i, 1)[:2]
    yi, yw = _toffs(plan, i, 0)[:2]
    buf = _row_px(plan, i, 0)
    tmp = _row_px(plan, 0, 1)
    m = dw - dw % WIDE
    for t in range(3):
        beta, r = floats[yw + 4 * (t * dh + d)], ints[yi + 3 * d + t]
        if beta == 0:  # padding tap
            continue
        if r != last[i]:  # a source row shared with the previous output row is shrunk once
            src_px = offs[i - 1] + r * sw
            if i == 1:
                _premul_row(img, alpha, r * sw, sw, ws, tmp)
                src_px = tmp
            for j in range(0, m, WIDE):
                areaW(ws, src_px, ints, xi, floats, xw, dw, j, ws, buf)
            for j in range(m, dw):
                area1(ws, src_px, ints, xi, floats, xw, dw, j, ws, buf)
            last[i] = r
        b = numba.uint64(4 * buf)
        if t == 0:
            for k in range(numba.uint64(4 * dw)):
                ws[o + k] = beta * ws[b + k]
        else:
            for k in range(numba.uint64(4 * dw)):
                ws[o + k] += beta * ws[b + k]


@njit(cache=True, nogil=True)
def _shrink_all(img, alpha, ws, plan):
    """Build levels 1.. as a cascade: every finished row feeds the next level at once."""
    shapes, ints = plan[0], plan[4]
    n = shapes.shape[0]
    done = np.zeros(n, np.int64)  # rows finished per level
    last = np.full(n, -1, np.int64)  # source row held by each level's x-pass buffer
    for k in range(shapes[0, 0]):
        done[0] = k + 1
        i = 1
        while i < n:
            yi = _toffs(plan, i, 0)[0]
            made = False
            while done[i] < shapes[i, 0] and ints[yi + 3 * done[i] + 2] < done[i - 1]:  # last tap available
                _shrink_row(img, alpha, ws, plan, i, done[i], last)
                done[i] += 1
                made = True
            if not made:
                break
            i += 1


@njit(cache=True, nogil=True)
def _hrow(ws, src_px, plan, i, ipp, dst_px):
    """Horizontal INTER_LINEAR of one fill row of level i + 1 (from ``src_px``) to level i's width."""
    ints, floats = plan[4], plan[5]
    dw = plan[0][i, 1]
    t = _toffs(plan, i, 1)
    m = dw - dw % WIDE
    if ipp:
        for j in range(0, m, WIDE):
            hlerpW_ipp(ws, src_px, ints, t[2], t[3], floats, t[4], dw, j, ws, dst_px)
        for j in range(m, dw):
            hlerp1_ipp(ws, src_px, ints, t[2], t[3], floats, t[4], dw, j, ws, dst_px)
    else:
        for j in range(0, m, WIDE):
            hlerpW_cv(ws, src_px, ints, t[2], t[3], floats, t[4], dw, j, ws, dst_px)
        for j in range(m, dw):
            hlerp1_cv(ws, src_px, ints, t[2], t[3], floats, t[4], dw, j, ws, dst_px)


@njit(cache=True, nogil=True)
def _blend_row(ws, lo, hi, b0, b1, ipp, col, alpha, o, dst, dst_px, w, to_output):
    """Vertical INTER_LINEAR of rows lo, hi blended under a colour row (pixels from ``o`` of ``col``)."""
    m = w - w % WIDE
    if to_output and ipp:
        for j in range(0, m, WIDE):
            outW_ipp(ws, lo, hi, j, b0, b1, col, alpha, o + j, dst, dst_px)
        for j in range(m, w):
            out1_ipp(ws, lo, hi, j, b0, b1, col, alpha, o + j, dst, dst_px)
    elif to_output:
        for j in range(0, m, WIDE):
            outW_cv(ws, lo, hi, j, b0, b1, col, alpha, o + j, dst, dst_px)
        for j in range(m, w):
            out1_cv(ws, lo, hi, j, b0, b1, col, alpha, o + j, dst, dst_px)
    elif ipp:
        for j in range(0, m, WIDE):
            blendW_ipp(ws, lo, hi, j, b0, b1, col, None, o + j, dst, dst_px)
        for j in range(m, w):
            blend1_ipp(ws, lo, hi, j, b0, b1, col, None, o + j, dst, dst_px)
    else:
        for j in range(0, m, WIDE):
            blendW_cv(ws, lo, hi, j, b0, b1, col, None, o + j, dst, dst_px)
        for j in range(m, w):
            blend1_cv(ws, lo, hi, j, b0, b1, col, None, o + j, dst, dst_px)


@njit(cache=True, nogil=True)
def _fill_row(img, alpha, out, ws, plan, i, d, tags, flip):
    """Fill row d of level i from the two fill rows of level i + 1 it needs (held in that level's ring).

    Level 0 writes the result; other levels put their fill row in their own ring.
    """
    shapes, offs, ints, floats = plan[0], plan[1], plan[4], plan[5]
    n = shapes.shape[0]
    h, w = shapes[i, 0], shapes[i, 1]
    ipp = i + 1 < n and shapes[i + 1, 0] >= 2 and shapes[i + 1, 1] >= 2
    t = _toffs(plan, i, 0)
    r0, r1 = ints[t[2] + d], ints[t[3] + d]
    if tags[i, 1] == r0 and tags[i, 0] != r0:  # the old second row is the new first one
        flip[i] ^= 1
        tags[i, 0], tags[i, 1] = tags[i, 1], tags[i, 0]
    lo, hi = _row_px(plan, i, 4 + flip[i]), _row_px(plan, i, 5 - flip[i])
    if tags[i, 0] != r0:
        _hrow(ws, _row_px(plan, i + 1, 2 + r0 % 2), plan, i, ipp, lo)
        tags[i, 0] = r0
    if tags[i, 1] != r1:
        _hrow(ws, _row_px(plan, i + 1, 2 + r1 % 2), plan, i, ipp, hi)
        tags[i, 1] = r1
    b0, b1 = floats[t[4] + 4 * d], floats[t[4] + 4 * (h + d)]
    if i == 0:
        _blend_row(ws, lo, hi, b0, b1, ipp, img, alpha, d * w, out, 0, w, True)
    else:
        _blend_row(ws, lo, hi, b0, b1, ipp, ws, None, offs[i] + d * w, ws, _row_px(plan, i, 2 + d % 2), w, False)


@njit(cache=True, nogil=True)
def _expand_all(img, alpha, out, ws, plan, seed):
    """Enlarge-and-blend from the seed down to level 0, pulling each level's fill rows on demand."""
    shapes, ints = plan[0], plan[4]
    n = shapes.shape[0]
    s = 4 * _row_px(plan, n, 2)
    ws[s : s + 4] = seed  # the seed is "level n": one row of one pixel
    done = np.zeros(n + 1, np.int64)
    done[n] = 1
    target = np.zeros(n + 1, np.int64)
    tags = np.full((n, 2), -1, np.int64)
    flip = np.zeros(n, np.int64)
    for d in range(shapes[0, 0]):
        i, target[1] = 1, ints[_toffs(plan, 0, 0)[3] + d]
        while True:  # make level 1 hold fill rows up to target[1], descending as needed
            if done[i] > target[i]:
                if i == 1:
                    break
                i -= 1
                continue
            need = ints[_toffs(plan, i, 0)[3] + done[i]]
            if done[i + 1] <= need:
                target[i + 1] = need
                i += 1
                continue
            _fill_row(img, alpha, out, ws, plan, i, done[i], tags, flip)
            done[i] += 1
        _fill_row(img, alpha, out, ws, plan, 0, d, tags, flip)


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


@njit(cache=True, nogil=True)
def _pad_image(img, alpha, out, plan, ws):
    """Pad one (H, W, 4) image into ``out`` (H, W, 3) using the workspace ``ws``."""
    shapes = plan[0]
    n = shapes.shape[0]
    _shrink_all(img, alpha, ws, plan)
    seed = np.zeros(4, np.float32)
    if n == 1:  # a 1xN or Nx1 image is its own coarsest level
        px = shapes[0, 0] * shapes[0, 1]
        top = np.empty(4 * px, np.float32)
        _premul_row(img, alpha, 0, px, top, 0)
        _seed(top, seed)
    else:
        offs = plan[1]
        _seed(ws[4 * offs[n - 1] : 4 * offs[n]], seed)
    _expand_all(img, alpha, out, ws, plan, seed)


@njit(cache=True, nogil=True, parallel=True)
def _pad_stack(stack, alphas, out, plan, stores):
    """Pad a (B, H, W, 4) stack: one contiguous run of images per workspace, runs in parallel."""
    n_runs, n = stores.shape[0], stack.shape[0]
    for r in prange(n_runs):
        for b in range(r * n // n_runs, (r + 1) * n // n_runs):
            if alphas is None:
                _pad_image(stack[b], None, out[b], plan, stores[r])
            else:
                _pad_image(stack[b], alphas[b], out[b], plan, stores[r])


_LOCAL = threading.local()


def _stores(n_runs: int, size: int) -> np.ndarray:
    """Per-thread workspaces, kept between calls: a fresh buffer of this size costs more in
    page faults than the pyramid costs in arithmetic. Grows to the largest size seen."""
    ws = getattr(_LOCAL, "stores", None)
    if ws is None or ws.shape[0] < n_runs or ws.shape[1] < size:
        rows = max(n_runs, 0 if ws is None else ws.shape[0])
        cols = max(size, 0 if ws is None else ws.shape[1])
        ws = _LOCAL.stores = np.empty((rows, cols), np.float32)
    return ws[:n_runs]


def _run(stack, alphas, out):
    b, h, w = stack.shape[:3]
    if out.size:
        plan = make_plan(h, w)
        stores = _stores(min(b, numba.get_num_threads()), int(workspace_size(plan)))
        _pad_stack(stack, alphas, out, plan, stores)
    return out


def pad_rgb_batch(stack, out_uint8: bool):
    """Pad a (B, H, W, 4) uint8 or float32 stack; return (B, H, W, 3) uint8 or float32.

    No validation here (see :func:`ldmatte.pad_rgb`); ``stack`` must be C-contiguous.
    Images run in parallel on Numba's threads (``numba.set_num_threads``).

    Examples
    --------
    >>> import numpy as np
    >>> im = np.zeros((1, 4, 4, 4), np.uint8); im[0, :2] = (200, 100, 0, 255)
    >>> pad_rgb_batch(im, True)[0, 3, 0].tolist()
    [200, 100, 0]
    """
    return _run(stack, None, np.empty(stack.shape[:3] + (3,), np.uint8 if out_uint8 else np.float32))


def repad_rgba_batch(stack, alpha):
    """Give a (B, H, W, 4) uint8 stack a new alpha and matching colour, in one pass.

    Returns (B, H, W, 4) uint8: the input's straight colour where ``alpha``
    (B, H, W) uint8 is above 0, LayerDiffuse padding computed with ``alpha``
    where it is 0 (``pad_rgb`` of the input with its alpha replaced), and
    ``alpha`` as the alpha channel; what :func:`ldmatte.refine` composes. No
    validation here; both arrays must be C-contiguous.

    Examples
    --------
    >>> import numpy as np
    >>> im = np.zeros((1, 4, 4, 4), np.uint8); im[0, :, :] = (200, 100, 0, 255)
    >>> alpha = np.zeros((1, 4, 4), np.uint8); alpha[0, :2] = 255
    >>> out = repad_rgba_batch(im, alpha)
    >>> out[0, 0, 0].tolist(), out[0, 3, 0].tolist()
    ([200, 100, 0, 255], [200, 100, 0, 0])
    """
    return _run(stack, alpha, np.empty(stack.shape, np.uint8))
