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
of ``_pad_vector_ops``; both directions run as row cascades. Going down, each new row
of a level immediately feeds the next coarser level while it is in cache.
Going up, each level's fill rows are produced on demand for the finer level
and live only in a two-row ring: fills are never written to memory, and level
0 is never stored as floats (the input is premultiplied where it is read).
Work that cannot change the result is skipped exactly: every row keeps the
span of columns outside which it is 0 (alpha 0 in the input; products of exact
zeros further down), shrinks compute and store only that span, and fills
outside it are the enlarged coarser fill itself (C*a = a = 0 there).
"""
from __future__ import annotations

import functools

import numba
import numpy as np
from numba import njit

from ._pad_plan import _row_px, _seed, _src_px, make_plan, table_offsets, workspace_size
from ._pad_plan import area_tab, level_shapes, linear_tab  # noqa: F401  (tables, for tests and tools)
from ._threads import run_batch, scratch
from ._pad_vector_ops import (
    WIDE,
    shrink_area_1px,
    shrink_area_wide,
    enlarge_y_blend_level_1px_opencv,
    enlarge_y_blend_level_1px_ipp,
    enlarge_y_blend_level_wide_opencv,
    enlarge_y_blend_level_wide_ipp,
    enlarge_x_1px_opencv,
    enlarge_x_1px_ipp,
    enlarge_x_adjacent_1px_opencv,
    enlarge_x_adjacent_1px_ipp,
    enlarge_x_adjacent_wide_opencv,
    enlarge_x_adjacent_wide_ipp,
    enlarge_y_blend_output_1px_opencv,
    enlarge_y_blend_output_1px_ipp,
    enlarge_y_blend_output_wide_opencv,
    enlarge_y_blend_output_wide_ipp,
    premultiply_1px,
    premultiply_wide,
    enlarge_y_1px_opencv,
    enlarge_y_1px_ipp,
    enlarge_y_wide_opencv,
    enlarge_y_wide_ipp,
)


@njit(cache=True, nogil=True)
def _premul_row(src, alpha, s_px, n, dst, d_px):
    """dst pixels d_px.. = premultiplied src pixels s_px.. (n pixels; alpha from ``alpha`` unless None)."""
    m = n - n % WIDE
    for j in range(0, m, WIDE):
        premultiply_wide(src, alpha, s_px + j, dst, d_px + j)
    for j in range(m, n):
        premultiply_1px(src, alpha, s_px + j, dst, d_px + j)


@njit(cache=True, nogil=True)
def _take_input_row(img, alpha, ws, plan, spans, r):
    """Record input row r's span (alpha is 0 outside it) and premultiply it (plus two pixels each side,
    all a shrink reads) into the input ring. Narrow images are taken whole."""
    w = plan.shapes[0, 1]
    a, b = 0, w
    if w > 64:
        if alpha is None:
            while a < b and img[r, a, 3] == 0:
                a += 1
            while b > a and img[r, b - 1, 3] == 0:
                b -= 1
        else:
            while a < b and alpha[r, a] == 0:
                a += 1
            while b > a and alpha[r, b - 1] == 0:
                b -= 1
    k = 2 * (plan.row_start[0] + r)
    spans[k], spans[k + 1] = a, b
    if a < b:
        c0, c1 = max(a - 2, 0), min(b + 2, w)
        _premul_row(img, alpha, r * w + c0, c1 - c0, ws, _row_px(plan, 0, 1 + r % 3) + c0)


@njit(cache=True, nogil=True)
def _shrink_row(ws, plan, spans, i, d, last):
    """Row d of level i (INTER_AREA of level i - 1): source rows shrunk horizontally, then combined.

    Only columns whose taps touch a source row's span are computed; the result
    is exact because every other product is an exact zero. The row's own span
    is recorded and two zero pixels are written on each side of it, so that the
    next shrink, whose taps reach at most two pixels out, reads only zeros
    there. Narrow levels and the top are written in full.
    """
    shapes, offs, ho, wo, ints, floats, reach = plan
    n = shapes.shape[0]
    sh, sw, dh, dw = shapes[i - 1, 0], shapes[i - 1, 1], shapes[i, 0], shapes[i, 1]
    o = numba.uint64(4 * (offs[i] + d * dw))  # unsigned indices keep the loops below vectorised
    sp = 2 * ho[i - 1]
    if sh == 2 and sw == 2 and dh == 1 and dw == 1:  # OpenCV's integer-scale path: sum of four, * 0.25
        tmp = np.zeros(16, np.float32)
        for r in range(2):
            if spans[sp + 2 * r] < spans[sp + 2 * r + 1]:
                tmp[8 * r : 8 * r + 8] = ws[4 * _src_px(plan, i, r) : 4 * _src_px(plan, i, r) + 8]
        for c in range(4):
            ws[o + c] = (((tmp[c] + tmp[4 + c]) + tmp[8 + c]) + tmp[12 + c]) * np.float32(0.25)
        spans[2 * (ho[i] + d)], spans[2 * (ho[i] + d) + 1] = 0, 1
        return
    cols, rows = table_offsets(plan, i, 1), table_offsets(plan, i, 0)
    xi, xw, yi, yw = cols.area_index, cols.area_weight, rows.area_index, rows.area_weight
    first, final = wo[i - 1], wo[n] + wo[i - 1]
    buf = _row_px(plan, i, 0)
    lo, hi = dw, 0  # the row's span: the hull of its taps' output ranges
    for t in range(3):
        r = ints[yi + 3 * d + t]
        a, b = spans[sp + 2 * r], spans[sp + 2 * r + 1]
        if floats[yw + t * dh + d] != 0 and a < b:
            lo, hi = min(lo, reach[first + a]), max(hi, reach[final + b - 1] + 1)
    full = dw <= 64 or i == n - 1
    if full:
        z0, z1 = 0, dw
    elif lo < hi:
        z0, z1 = max(lo - 2, 0), min(hi + 2, dw)
    else:  # nothing to store: readers stay inside the (empty) span
        z0 = z1 = 0
    for k in range(numba.uint64(4 * z0), numba.uint64(4 * z1)):
        ws[o + k] = 0
    for t in range(3):
        beta, r = floats[yw + t * dh + d], ints[yi + 3 * d + t]
        a, b = spans[sp + 2 * r], spans[sp + 2 * r + 1]
        if beta == 0 or a >= b:  # padding tap, or a row of zeros
            continue
        x0, x1 = reach[first + a], reach[final + b - 1] + 1
        if r != last[i]:  # a source row shared with the previous output row is shrunk once
            src = _src_px(plan, i, r)
            m = x1 - (x1 - x0) % WIDE
            for j in range(x0, m, WIDE):
                shrink_area_wide(ws, src, ints, xi, floats, xw, dw, j, ws, buf)
            for j in range(m, x1):
                shrink_area_1px(ws, src, ints, xi, floats, xw, dw, j, ws, buf)
            last[i] = r
        bb = numba.uint64(4 * buf)
        for k in range(numba.uint64(4 * x0), numba.uint64(4 * x1)):
            ws[o + k] += beta * ws[bb + k]
    k = 2 * (ho[i] + d)
    spans[k], spans[k + 1] = (0, dw) if full else (lo, max(lo, hi))


@njit(cache=True, nogil=True)
def _cascade(ws, plan, spans, done, last):
    """After a new input row: build every level row whose last source row is now available."""
    shapes, ints = plan.shapes, plan.tap_index
    for i in range(1, shapes.shape[0]):
        yi = table_offsets(plan, i, 0).area_index
        made = False
        while done[i] < shapes[i, 0] and ints[yi + 3 * done[i] + 2] < done[i - 1]:
            _shrink_row(ws, plan, spans, i, done[i], last)
            done[i] += 1
            made = True
        if not made:
            return


@njit(cache=True, nogil=True)
def _hrow(ws, src_px, plan, i, ipp, dst_px):
    """Horizontal INTER_LINEAR of one fill row of level i + 1 (from ``src_px``) to level i's width.

    Away from the borders the second tap is the next pixel, loaded together
    with the first; the clamped border outputs take the general path.
    """
    ints, floats = plan.tap_index, plan.tap_weight
    dw = plan.shapes[i, 1]
    t = table_offsets(plan, i, 1)
    jl, jr = 0, dw
    while jl < dw and ints[t.linear_i1 + jl] - ints[t.linear_i0 + jl] != 16:
        jl += 1
    while jr > jl and ints[t.linear_i1 + jr - 1] - ints[t.linear_i0 + jr - 1] != 16:
        jr -= 1
    m = jr - (jr - jl) % WIDE
    if ipp:
        for j in range(jl, m, WIDE):
            enlarge_x_adjacent_wide_ipp(ws, src_px, ints, t.linear_i0, floats, t.linear_weight, dw, j, ws, dst_px)
        for j in range(m, jr):
            enlarge_x_adjacent_1px_ipp(ws, src_px, ints, t.linear_i0, floats, t.linear_weight, dw, j, ws, dst_px)
    else:
        for j in range(jl, m, WIDE):
            enlarge_x_adjacent_wide_opencv(ws, src_px, ints, t.linear_i0, floats, t.linear_weight, dw, j, ws, dst_px)
        for j in range(m, jr):
            enlarge_x_adjacent_1px_opencv(ws, src_px, ints, t.linear_i0, floats, t.linear_weight, dw, j, ws, dst_px)
    for k in range(jl + dw - jr):  # the border outputs: [0, jl) and [jr, dw)
        j = k if k < jl else jr + k - jl
        if ipp:
            enlarge_x_1px_ipp(ws, src_px, ints, t.linear_i0, t.linear_i1, floats, t.linear_weight, dw, j, ws, dst_px)
        else:
            enlarge_x_1px_opencv(ws, src_px, ints, t.linear_i0, t.linear_i1, floats, t.linear_weight, dw, j, ws, dst_px)


@njit(cache=True, nogil=True)
def _enlarged(ws, plan, i, d, tags, flip):
    """The two enlarged fill rows row d of level i interpolates, and its weights: (lo, hi, w0, w1, ipp).

    They come from the two fill rows of level i + 1 held in that level's ring;
    each is enlarged once and kept while the next rows need it.
    """
    shapes, ints, floats = plan.shapes, plan.tap_index, plan.tap_weight
    ipp = i + 1 < shapes.shape[0] and shapes[i + 1, 0] >= 2 and shapes[i + 1, 1] >= 2
    t = table_offsets(plan, i, 0)
    r0, r1 = ints[t.linear_i0 + d], ints[t.linear_i1 + d]
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
    return lo, hi, floats[t.linear_weight + d], floats[t.linear_weight + shapes[i, 0] + d], ipp


@njit(cache=True, nogil=True)
def _fill_row(ws, plan, spans, i, d, tags, flip):
    """Fill row d of level i >= 1 into its ring: C*a + fill * (1 - a) inside its span, the fill outside."""
    lo, hi, b0, b1, ipp = _enlarged(ws, plan, i, d, tags, flip)
    w, col = plan.shapes[i, 1], plan.level_start[i] + d * plan.shapes[i, 1]
    ring = _row_px(plan, i, 2 + d % 2)
    s0, s1 = spans[2 * (plan.row_start[i] + d)], spans[2 * (plan.row_start[i] + d) + 1]
    s1 = max(s0, s1)
    if ipp:
        _span_row(ws, lo, hi, b0, b1, ring, 0, s0, True)
        m = s1 - (s1 - s0) % WIDE
        for j in range(s0, m, WIDE):
            enlarge_y_blend_level_wide_ipp(ws, lo, hi, j, b0, b1, ws, None, col + j, ws, ring)
        for j in range(m, s1):
            enlarge_y_blend_level_1px_ipp(ws, lo, hi, j, b0, b1, ws, None, col + j, ws, ring)
        _span_row(ws, lo, hi, b0, b1, ring, s1, w, True)
    else:
        _span_row(ws, lo, hi, b0, b1, ring, 0, s0, False)
        m = s1 - (s1 - s0) % WIDE
        for j in range(s0, m, WIDE):
            enlarge_y_blend_level_wide_opencv(ws, lo, hi, j, b0, b1, ws, None, col + j, ws, ring)
        for j in range(m, s1):
            enlarge_y_blend_level_1px_opencv(ws, lo, hi, j, b0, b1, ws, None, col + j, ws, ring)
        _span_row(ws, lo, hi, b0, b1, ring, s1, w, False)


@njit(cache=True, nogil=True)
def _span_row(ws, lo, hi, b0, b1, dst, j0, j1, ipp):
    """Columns [j0, j1) of the vertical INTER_LINEAR alone, where the level is exactly 0."""
    m = j1 - (j1 - j0) % WIDE
    if ipp:
        for j in range(j0, m, WIDE):
            enlarge_y_wide_ipp(ws, lo, hi, j, b0, b1, ws, dst)
        for j in range(m, j1):
            enlarge_y_1px_ipp(ws, lo, hi, j, b0, b1, ws, dst)
    else:
        for j in range(j0, m, WIDE):
            enlarge_y_wide_opencv(ws, lo, hi, j, b0, b1, ws, dst)
        for j in range(m, j1):
            enlarge_y_1px_opencv(ws, lo, hi, j, b0, b1, ws, dst)


@njit(cache=True, nogil=True)
def _pull(ws, plan, spans, d, done, target, tags, flip):
    """Make level 1 hold the fill rows output row d needs, producing rows of coarser levels on demand."""
    ints = plan.tap_index
    i, target[1] = 1, ints[table_offsets(plan, 0, 0).linear_i1 + d]
    while True:
        if done[i] > target[i]:
            if i == 1:
                return
            i -= 1
            continue
        need = ints[table_offsets(plan, i, 0).linear_i1 + done[i]]
        if done[i + 1] <= need:
            target[i + 1] = need
            i += 1
            continue
        _fill_row(ws, plan, spans, i, done[i], tags, flip)
        done[i] += 1


@njit(cache=True, nogil=True)
def _output_row(img, alpha, out, ws, plan, d, tags, flip):
    """Output row d: the enlarged level-1 fill blended under the premultiplied input, quantised."""
    lo, hi, b0, b1, ipp = _enlarged(ws, plan, 0, d, tags, flip)
    w = plan.shapes[0, 1]
    o, m = d * w, w - w % WIDE
    if ipp:
        for j in range(0, m, WIDE):
            enlarge_y_blend_output_wide_ipp(ws, lo, hi, j, b0, b1, img, alpha, o + j, out, 0)
        for j in range(m, w):
            enlarge_y_blend_output_1px_ipp(ws, lo, hi, j, b0, b1, img, alpha, o + j, out, 0)
    else:
        for j in range(0, m, WIDE):
            enlarge_y_blend_output_wide_opencv(ws, lo, hi, j, b0, b1, img, alpha, o + j, out, 0)
        for j in range(m, w):
            enlarge_y_blend_output_1px_opencv(ws, lo, hi, j, b0, b1, img, alpha, o + j, out, 0)


@njit(cache=True, nogil=True)
def _pad_image(img, alpha, out, plan, ws):
    """Pad one (H, W, 4) image into ``out`` using the workspace ``ws``: levels down, seed, fills up."""
    shapes, ho = plan.shapes, plan.row_start
    n, h = shapes.shape[0], shapes[0, 0]
    spans = np.empty(2 * ho[n], np.int64)  # per level row: columns [a, b) outside which it is 0
    done = np.zeros(n + 1, np.int64)  # rows built per level
    last = np.full(n, -1, np.int64)  # source row held by each level's x-pass buffer
    for k in range(h):
        _take_input_row(img, alpha, ws, plan, spans, k)
        done[0] = k + 1
        _cascade(ws, plan, spans, done, last)
    seed = np.zeros(4, np.float32)
    if n == 1:  # a 1xN or Nx1 image is its own coarsest level
        top = np.empty(4 * h * shapes[0, 1], np.float32)
        _premul_row(img, alpha, 0, h * shapes[0, 1], top, 0)
        _seed(top, seed)
    else:
        _seed(ws[4 * plan.level_start[n - 1] : 4 * plan.level_start[n]], seed)
    s = 4 * _row_px(plan, n, 2)
    ws[s : s + 4] = seed  # the seed is "level n": one row of one pixel
    done[:] = 0
    done[n] = 1
    target = np.zeros(n + 1, np.int64)
    tags = np.full((n, 2), -1, np.int64)
    flip = np.zeros(n, np.int64)
    for d in range(h):
        _pull(ws, plan, spans, d, done, target, tags, flip)
        _output_row(img, alpha, out, ws, plan, d, tags, flip)


@njit(cache=True, nogil=True)
def _pad_run(stack, alphas, out, plan, ws, lo, hi):
    """Pad images lo..hi-1 of a stack with one workspace (one thread's share of a batch)."""
    for b in range(lo, hi):
        if alphas is None:
            _pad_image(stack[b], None, out[b], plan, ws)
        else:
            _pad_image(stack[b], alphas[b], out[b], plan, ws)


@functools.lru_cache(maxsize=8)
def plan_for(h: int, w: int):
    """make_plan, kept for the last few image sizes (it costs a few percent of a 1024x1024 pad)."""
    return make_plan(h, w)


def workspaces(n_slots: int, plan) -> np.ndarray:
    """One float32 workspace per thread slot (kept between calls; see ``_threads.scratch``).

    The zeros matter: every write to a workspace is finite, so a zero-weight
    tap that reads a pixel no one wrote adds an exact zero.
    """
    return scratch("pad", n_slots, int(workspace_size(plan)), np.float32)


def _run(stack, alphas, out):
    """Pad a batch, images handed out to Numba's thread count of threads (``_threads.run_batch``)."""
    b, h, w = stack.shape[:3]
    if not out.size:
        return out
    plan = plan_for(h, w)
    stores = workspaces(max(1, min(b, numba.get_num_threads())), plan)
    run_batch(b, h * w, lambda slot, lo, hi: _pad_run(stack, alphas, out, plan, stores[slot], lo, hi))
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
