"""Numba LayerDiffuse padding: the alpha pyramid of ``reference/pad.py``, float for float.

The reference shrinks premultiplied colour and alpha by 1.2 per side with
OpenCV's INTER_AREA, takes the alpha-weighted mean at the coarsest level, and
on the way back up enlarges the fill with INTER_LINEAR and blends it under each
level. This kernel performs the same float32 operations in the same order
(OpenCV's tap tables, its separable row-then-column order, no FMA, numpy's
summation order at the top), so its float output normally equals the
reference's bit for bit; the tests allow one uint8 level.

Speed comes from streaming rows instead of whole images: each level is built
one output row at a time from horizontally resized source rows kept in small
row caches, premultiplication is fused into the first shrink, the bilinear
enlargement is fused with the blend, and level 0 is never stored as floats.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic, overload

_F1 = np.float32(1.0)
_F0 = np.float32(0.0)
_F255 = np.float32(255.0)


def _unit(x):  # pragma: no cover - replaced by the overload inside Numba
    raise NotImplementedError


@overload(_unit, jit_options={"cache": True})
def _unit_overload(x):
    """uint8 -> float32 as numpy's ``x.astype(float32) / 255.0``; float32 passes through."""
    if isinstance(x, types.Integer):
        return lambda x: np.float32(x) / np.float32(255.0)
    return lambda x: np.float32(x)


@intrinsic
def _fma(typingctx, a, b, c):
    """float32 ``a * b + c`` rounded once (llvm.fma), as IPP's vector code computes it."""
    sig = types.float32(types.float32, types.float32, types.float32)

    def codegen(context, builder, signature, args):
        flt = ir.FloatType()
        fnty = ir.FunctionType(flt, [flt, flt, flt])
        fn = builder.module.declare_intrinsic("llvm.fma", [flt], fnty)
        return builder.call(fn, args)

    return sig, codegen


@njit(cache=True, nogil=True)
def level_shapes(h, w):
    """(L, 2) sizes of the pyramid: int(size / 1.2) per side until the smaller side is <= 1."""
    n = 1
    hh, ww = h, w
    while min(hh, ww) > 1:
        hh, ww = int(hh / 1.2), int(ww / 1.2)
        n += 1
    shapes = np.empty((n, 2), np.int64)
    hh, ww = h, w
    for i in range(n):
        shapes[i, 0], shapes[i, 1] = hh, ww
        hh, ww = int(hh / 1.2), int(ww / 1.2)
    return shapes


@njit(cache=True, nogil=True)
def area_tab(ssize, dsize):
    """OpenCV's INTER_AREA taps for one axis (computeResizeAreaTab): CSR (start, index, weight)."""
    scale = 1.0 / (dsize / ssize)  # as OpenCV: scale = 1 / inv_scale, inv_scale = dsize / ssize
    start = np.zeros(dsize + 1, np.int64)
    idx = np.empty(2 * ssize + 2, np.int64)
    wt = np.empty(2 * ssize + 2, np.float32)
    k = 0
    for d in range(dsize):
        start[d] = k
        f1 = d * scale
        f2 = f1 + scale
        cell = min(scale, ssize - f1)
        s2 = min(int(np.floor(f2)), ssize - 1)
        s1 = min(int(np.ceil(f1)), s2)
        if s1 - f1 > 1e-3:
            idx[k], wt[k] = s1 - 1, np.float32((s1 - f1) / cell)
            k += 1
        for s in range(s1, s2):
            idx[k], wt[k] = s, np.float32(1.0 / cell)
            k += 1
        if f2 - s2 > 1e-3:
            idx[k], wt[k] = s2, np.float32(min(min(f2 - s2, 1.0), cell) / cell)
            k += 1
    start[dsize] = k
    return start, idx[:k], wt[:k]


@njit(cache=True, nogil=True)
def linear_tab(ssize, dsize, ipp, clamp):
    """INTER_LINEAR taps (two per output): (i0, i1, w0, w1), half-pixel centres.

    OpenCV hands a float32 linear resize to IPP when both source sides are >= 2;
    IPP takes the fraction ``t = w1`` from double coordinates and interpolates
    as ``fma(b - a, t, a)``. OpenCV's own code (a side of 1) rounds the
    coordinate to float32 first and computes ``a * w0 + b * w1``; its
    horizontal rule (``clamp``) zeroes the fraction at the borders, its vertical
    rule only clamps the row indices.
    """
    scale = ssize / dsize if ipp else 1.0 / (dsize / ssize)
    i0 = np.empty(dsize, np.int64)
    i1 = np.empty(dsize, np.int64)
    w0 = np.empty(dsize, np.float32)
    w1 = np.empty(dsize, np.float32)
    for d in range(dsize):
        if ipp:
            x = (d + 0.5) * scale - 0.5
            s = int(np.floor(x))
            f = np.float32(x - s)
        else:
            f = np.float32((d + 0.5) * scale - 0.5)
            s = int(np.floor(f))
            f = f - np.float32(s)
            if clamp and s < 0:
                f, s = _F0, 0
            if clamp and s >= ssize - 1:
                f, s = _F0, ssize - 1
        i0[d] = min(max(s, 0), ssize - 1)
        i1[d] = min(max(s + 1, 0), ssize - 1)
        w0[d] = _F1 - f
        w1[d] = f
    return i0, i1, w0, w1


@njit(cache=True, nogil=True)
def _input_row(row, tmp):
    """Straight RGBA row (uint8 or float32) -> premultiplied float32 (C*a, a)."""
    for j in range(row.shape[0]):
        a = _unit(row[j, 3])
        for c in range(3):
            tmp[j, c] = _unit(row[j, c]) * a
        tmp[j, 3] = a


@njit(cache=True, nogil=True)
def _area_row(row, start, idx, wt, out):
    """Horizontal INTER_AREA of one (w, 4) float32 row into ``out`` (dw, 4)."""
    for d in range(out.shape[0]):
        s0 = s1 = s2 = s3 = _F0
        for k in range(start[d], start[d + 1]):
            i, w = idx[k], wt[k]
            s0 += row[i, 0] * w
            s1 += row[i, 1] * w
            s2 += row[i, 2] * w
            s3 += row[i, 3] * w
        out[d, 0], out[d, 1], out[d, 2], out[d, 3] = s0, s1, s2, s3


def _put(out, i, j, c, v):  # pragma: no cover - replaced by the overload inside Numba
    raise NotImplementedError


@overload(_put, jit_options={"cache": True})
def _put_overload(out, i, j, c, v):
    """Store a float32 result: uint8 as ``(v * 255).clip(0, 255)`` truncated, float32 as is."""
    if out.dtype == types.uint8:

        def put_u8(out, i, j, c, v):
            out[i, j, c] = np.uint8(min(max(v * _F255, _F0), _F255))

        return put_u8

    def put_f32(out, i, j, c, v):
        out[i, j, c] = v

    return put_f32


@njit(cache=True, nogil=True)
def _linear_row(row, i0, i1, w0, w1, ipp, out):
    """Horizontal INTER_LINEAR of the fill (channels 0..2) of one row into ``out`` (w, 4)."""
    if ipp:
        for d in range(out.shape[0]):
            a, b, t = i0[d], i1[d], w1[d]
            for c in range(3):
                out[d, c] = _fma(row[b, c] - row[a, c], t, row[a, c])
    else:
        for d in range(out.shape[0]):
            a, b, p, q = i0[d], i1[d], w0[d], w1[d]
            for c in range(3):
                out[d, c] = row[a, c] * p + row[b, c] * q


@njit(cache=True, nogil=True, inline="always")
def _vlerp(a, b, w0, w1, ipp):
    """Vertical INTER_LINEAR of two horizontally resized rows (IPP or OpenCV arithmetic)."""
    return _fma(b - a, w1, a) if ipp else a * w0 + b * w1


@njit(cache=True, nogil=True)
def _shrink(src, premul, dst, tmp, buf):
    """One pyramid step: INTER_AREA of ``src`` (h, w, 4) into ``dst`` (dh, dw, 4).

    With ``premul`` the source is the straight input, premultiplied row by row.
    Rows are shrunk horizontally first, then combined (OpenCV's order); a
    source row shared by two output rows is shrunk once.
    """
    h, w, dh, dw = src.shape[0], src.shape[1], dst.shape[0], dst.shape[1]
    if h == 2 and w == 2 and dh == 1 and dw == 1:  # OpenCV's integer-scale path sums first
        tmp = np.empty((4, 4), np.float32)
        for r in range(2):
            if premul:
                _input_row(src[r], tmp[2 * r : 2 * r + 2])
            else:
                tmp[2 * r : 2 * r + 2] = src[r]
        for c in range(4):
            dst[0, 0, c] = (((tmp[0, c] + tmp[1, c]) + tmp[2, c]) + tmp[3, c]) * np.float32(0.25)
        return
    xs, xi, xw = area_tab(w, dw)
    ys, yi, yw = area_tab(h, dh)
    buf = buf[:dw]
    last = -1
    for d in range(dh):
        drow = dst[d]
        for k in range(ys[d], ys[d + 1]):
            r, beta = yi[k], yw[k]
            if r != last:
                if premul:
                    _input_row(src[r], tmp)
                    _area_row(tmp, xs, xi, xw, buf)
                else:
                    _area_row(src[r], xs, xi, xw, buf)
                last = r
            if k == ys[d]:
                for j in range(dw):
                    for c in range(4):
                        drow[j, c] = beta * buf[j, c]
            else:
                for j in range(dw):
                    for c in range(4):
                        drow[j, c] += beta * buf[j, c]


@njit(cache=True, nogil=True)
def _expand(fill, lvl, img, out, to_output, tmp, hb0, hb1):
    """Enlarge ``fill[..., :3]`` bilinearly to the next finer level and blend it under that level.

    Level >= 1: ``lvl`` (h, w, 4) premultiplied colour + alpha, overwritten with
    the fill. Level 0 (``to_output``): colour from the input ``img``, result
    written to ``out``.
    """
    hs, ws = fill.shape[0], fill.shape[1]
    h, w = (img.shape[0], img.shape[1]) if to_output else (lvl.shape[0], lvl.shape[1])
    ipp = hs >= 2 and ws >= 2
    xi0, xi1, xw0, xw1 = linear_tab(ws, w, ipp, True)
    yi0, yi1, yw0, yw1 = linear_tab(hs, h, ipp, False)
    hb0, hb1 = hb0[:w], hb1[:w]
    t0 = t1 = -1  # source rows currently held by hb0, hb1
    for d in range(h):
        r0, r1 = yi0[d], yi1[d]
        if t1 == r0 and t0 != r0:
            hb0, hb1, t0, t1 = hb1, hb0, t1, t0
        if t0 != r0:
            _linear_row(fill[r0], xi0, xi1, xw0, xw1, ipp, hb0)
            t0 = r0
        if r1 != r0 and t1 != r1:
            _linear_row(fill[r1], xi0, xi1, xw0, xw1, ipp, hb1)
            t1 = r1
        lo, hi = hb0, (hb1 if r1 != r0 else hb0)
        b0, b1 = yw0[d], yw1[d]
        if to_output:
            _input_row(img[d], tmp)
            for j in range(w):
                keep = _F1 - tmp[j, 3]
                for c in range(3):
                    _put(out, d, j, c, tmp[j, c] + _vlerp(lo[j, c], hi[j, c], b0, b1, ipp) * keep)
        else:
            row = lvl[d]
            for j in range(w):
                keep = _F1 - row[j, 3]
                for c in range(3):
                    row[j, c] = row[j, c] + _vlerp(lo[j, c], hi[j, c], b0, b1, ipp) * keep


@njit(cache=True, nogil=True)
def _block_sum(a, lo, n):
    """numpy's float32 pairwise-sum leaf (n <= 128): eight interleaved partial sums."""
    if n < 8:
        res = _F0
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
    task_n = np.empty(128, np.int64)  # n < 0 marks "add the two values on top"
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
            n2 = n // 2
            n2 -= n2 % 8
            task_lo[nt], task_n[nt] = 0, -1
            task_lo[nt + 1], task_n[nt + 1] = lo + n2, n - n2
            task_lo[nt + 2], task_n[nt + 2] = lo, n2
            nt += 3
    return vals[0]


@njit(cache=True, nogil=True)
def _seed(top, seed):
    """Coarsest fill: sum(C*a) / clip(sum(a), 1e-8, 1e32) in numpy's float32 summation orders."""
    h, w = top.shape[0], top.shape[1]
    alpha = np.empty(h * w, np.float32)
    s = np.zeros(3, np.float32)
    for i in range(h):
        for j in range(w):
            for c in range(3):  # a 3-channel sum over pixels runs sequentially in raster order
                s[c] += top[i, j, c]
            alpha[i * w + j] = top[i, j, 3]
    den = min(max(_pairwise_sum(alpha), np.float32(1e-8)), np.float32(1e32))
    for c in range(3):
        seed[0, 0, c] = s[c] / den
    seed[0, 0, 3] = _F0


@njit(cache=True, nogil=True)
def _level_offsets(shapes):
    """Offsets of levels 1.. in one flat float32 store (level 0 is never stored)."""
    offs = np.zeros(shapes.shape[0] + 1, np.int64)
    for i in range(1, shapes.shape[0]):
        offs[i + 1] = offs[i] + shapes[i, 0] * shapes[i, 1] * 4
    return offs


@njit(cache=True, nogil=True)
def _pad_image(img, out, shapes, offs, store):
    """Pad one (H, W, 4) image into ``out`` (H, W, 3); ``store`` holds levels 1.. (see _level_offsets)."""
    n_levels = shapes.shape[0]
    h, w = img.shape[0], img.shape[1]
    tmp = np.empty((w, 4), np.float32)
    buf = np.empty((w, 4), np.float32)
    hb0 = np.empty((w, 4), np.float32)
    hb1 = np.empty((w, 4), np.float32)
    seed = np.empty((1, 1, 4), np.float32)
    prev = seed  # only its type matters until level 1 exists
    for i in range(1, n_levels):
        lvl = store[offs[i] : offs[i + 1]].reshape((shapes[i, 0], shapes[i, 1], 4))
        if i == 1:
            _shrink(img, True, lvl, tmp, buf)
        else:
            _shrink(prev, False, lvl, tmp, buf)
        prev = lvl
    if n_levels == 1:  # a 1xN or Nx1 image is its own coarsest level
        top = np.empty((h, w, 4), np.float32)
        for i in range(h):
            _input_row(img[i], top[i])
        _seed(top, seed)
        _expand(seed, top, img, out, True, tmp, hb0, hb1)
        return
    _seed(prev, seed)
    fill = seed
    for i in range(n_levels - 1, 0, -1):
        lvl = store[offs[i] : offs[i + 1]].reshape((shapes[i, 0], shapes[i, 1], 4))
        _expand(fill, lvl, img, out, False, tmp, hb0, hb1)
        fill = lvl
    _expand(fill, seed, img, out, True, tmp, hb0, hb1)


@njit(cache=True, nogil=True, parallel=True)
def _pad_stack(stack, out):
    """Pad every image of a (B, H, W, 4) stack, images in parallel."""
    shapes = level_shapes(stack.shape[1], stack.shape[2])
    offs = _level_offsets(shapes)
    for b in prange(stack.shape[0]):
        store = np.empty(offs[-1], np.float32)
        _pad_image(stack[b], out[b], shapes, offs, store)


def pad_rgb_batch(stack, out_uint8: bool):
    """Pad a (B, H, W, 4) uint8 or float32 stack; return (B, H, W, 3) uint8 or float32.

    No validation here (see :func:`ldmatte.pad_rgb`); ``stack`` must be C-contiguous.

    Examples
    --------
    >>> import numpy as np
    >>> im = np.zeros((1, 4, 4, 4), np.uint8); im[0, :2] = (200, 100, 0, 255)
    >>> pad_rgb_batch(im, True)[0, 3, 0].tolist()
    [200, 100, 0]
    """
    b, h, w = stack.shape[:3]
    out = np.empty((b, h, w, 3), np.uint8 if out_uint8 else np.float32)
    if out.size:
        _pad_stack(stack, out)
    return out
