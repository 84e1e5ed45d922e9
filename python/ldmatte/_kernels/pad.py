"""Numba LayerDiffuse padding: the alpha pyramid of ``reference/pad.py``, float for float.

The reference shrinks premultiplied colour and alpha by 1.2 per side with
OpenCV's INTER_AREA, takes the alpha-weighted mean at the coarsest level, and
on the way back up enlarges the fill with INTER_LINEAR and blends it under each
level. This kernel performs the same float32 operations in the same order, so
its output equals the reference's bit for bit (tests allow one uint8 level):

* INTER_AREA: OpenCV's tap tables (computeResizeAreaTab), each source row
  shrunk horizontally first, then rows combined; the 2x2 -> 1x1 step takes
  OpenCV's integer-scale path (sum of four, times 0.25).
* INTER_LINEAR: OpenCV hands float32 resizes to IPP when both source sides are
  >= 2. IPP takes the fraction from double coordinates and computes
  ``fma(b - a, t, a)`` horizontally, then vertically. With a side of 1 OpenCV
  runs its own code: float32 coordinates and ``a * w0 + b * w1``.
* The coarsest mean uses numpy's summation orders (sequential over pixels for
  the 3-channel colour, pairwise for the contiguous alpha).

Speed: pixels are kept as interleaved float32 RGBA and every per-pixel step is
one 4-lane vector operation written as an LLVM intrinsic (Numba leaves the SLP
vectoriser off, so the horizontal passes would otherwise run lane by lane);
levels are built row by row from small row caches, premultiplication is fused
into the first shrink, the bilinear enlargement is fused with the blend, and
level 0 is never stored as floats.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

_F32 = ir.FloatType()
_I32 = ir.IntType(32)
_I8 = ir.IntType(8)
WIDE = 4  # pixels per wide vector operation (16 float32 lanes: one AVX-512 or two AVX2 registers)


def _vec(ty, n):
    return ir.VectorType(ty, n)


def _const(ty, values):
    return ir.Constant(_vec(ty, len(values)), list(values))


class _IR:
    """Small helpers for writing the 4-lane-per-pixel vector code of the intrinsics below."""

    def __init__(self, context, builder, argtys, args):
        self.c, self.b, self.tys, self.args = context, builder, argtys, args

    def eptr(self, i, index, vty=None):
        """Pointer to flat element ``index`` of array argument ``i`` (C-contiguous), as ``vty*``."""
        data = self.c.make_array(self.tys[i])(self.c, self.b, self.args[i]).data
        ptr = self.b.gep(data, [index])
        return ptr if vty is None else self.b.bitcast(ptr, vty.as_pointer())

    def mul(self, x, k):
        return self.b.mul(x, ir.Constant(x.type, k))

    def add(self, x, k):
        return self.b.add(x, ir.Constant(x.type, k)) if isinstance(k, int) else self.b.add(x, k)

    def load(self, i, index, lanes):
        """``lanes`` consecutive float32 from array ``i`` at flat element ``index``."""
        return self.b.load(self.eptr(i, index, _vec(_F32, lanes)), align=4)

    def index(self, i, index):
        return self.b.load(self.eptr(i, index))

    def concat(self, parts):
        """Join equal vectors into one (a shuffle tree the backend turns into inserts)."""
        while len(parts) > 1:
            n = parts[0].type.count
            mask = _const(_I32, range(2 * n))
            parts = [self.b.shuffle_vector(parts[k], parts[k + 1], mask) for k in range(0, len(parts), 2)]
        return parts[0]

    def splat(self, x, n):
        v = self.b.insert_element(ir.Constant(_vec(_F32, n), ir.Undefined), x, ir.Constant(_I32, 0))
        return self.b.shuffle_vector(v, ir.Constant(_vec(_F32, n), ir.Undefined), _const(_I32, [0] * n))

    def fma(self, x, y, z):
        """Lane-wise ``x * y + z`` rounded once."""
        n = x.type.count
        fnty = ir.FunctionType(x.type, [x.type] * 3)
        fn = cgutils.get_or_insert_function(self.b.module, fnty, f"llvm.fma.v{n}f32")
        return self.b.call(fn, [x, y, z])

    def alpha_lanes(self, v, other=None):
        """Each pixel's lane 3 broadcast to its four lanes; with ``other``, lane 3 takes other's lane."""
        n = v.type.count
        if other is None:
            return self.b.shuffle_vector(v, v, _const(_I32, [4 * (k // 4) + 3 for k in range(n)]))
        mask = [4 * (k // 4) + 3 if k % 4 < 3 else n + k for k in range(n)]
        return self.b.shuffle_vector(v, other, _const(_I32, mask))

    def premul(self, i, pix, npx):
        """``npx`` straight RGBA pixels (uint8 or float32) -> (C*a, a), numpy's arithmetic.

        uint8 / 255 is a reciprocal product plus one Newton correction, which
        rounds like the true division for every uint8 value (the tests check).
        """
        n = 4 * npx
        if self.tys[i].dtype == types.uint8:
            raw = self.b.load(self.eptr(i, self.mul(pix, 4), _vec(_I8, n)), align=1)
            u = self.b.uitofp(raw, _vec(_F32, n))
            rcp = _const(_F32, [_RCP255] * n)
            q = self.b.fmul(u, rcp)
            v = self.fma(self.fma(self.b.fneg(q), _const(_F32, [255.0] * n), u), rcp, q)
        else:
            v = self.load(i, self.mul(pix, 4), n)
        return self.b.fmul(v, self.alpha_lanes(v, _const(_F32, [1.0] * n)))

    def lerp(self, a, b, w0, w1, ipp):
        """IPP: ``fma(b - a, w1, a)``; OpenCV: ``a * w0 + b * w1``."""
        if ipp:
            return self.fma(self.b.fsub(b, a), w1, a)
        return self.b.fadd(self.b.fmul(a, w0), self.b.fmul(b, w1))


_RCP255 = float(np.float32(1.0) / np.float32(255.0))


# Numba intrinsics need a fixed arity; these adapt ``typer(*args)`` to one.
_ARITY = {
    4: lambda t: lambda typingctx, a0, a1, a2, a3: t(a0, a1, a2, a3),
    7: lambda t: lambda typingctx, a0, a1, a2, a3, a4, a5, a6: t(a0, a1, a2, a3, a4, a5, a6),
    8: lambda t: lambda typingctx, a0, a1, a2, a3, a4, a5, a6, a7: t(a0, a1, a2, a3, a4, a5, a6, a7),
}


def _intrinsic(argspec):
    """Make a void Numba intrinsic from ``body(g)``; ``argspec`` gives scalar arg types, None for arrays."""

    def deco(body):
        def typer(*args):
            sig = types.void(*[a if spec is None else spec for a, spec in zip(args, argspec)])

            def codegen(context, builder, signature, llargs):
                body(_IR(context, builder, signature.args, llargs))
                return context.get_dummy_value()

            return sig, codegen

        fn = _ARITY[len(argspec)](typer)
        fn.__name__, fn.__doc__ = body.__name__, body.__doc__
        return intrinsic(fn)

    return deco


_IP, _FL = types.intp, types.float32


def _make_ops(npx):
    """The per-pixel vector operations, each on ``npx`` consecutive output pixels."""
    n = 4 * npx

    @_intrinsic([None, _IP, None, _IP])
    def premul(g):
        """dst pixels d.. = premultiplied src pixels s.. (args: src, s, dst, d)."""
        g.b.store(g.premul(0, g.args[1], npx), g.eptr(2, g.mul(g.args[3], 4), _vec(_F32, n)), align=4)

    @_intrinsic([None, _IP, None, None, _IP, _IP, None])
    def area(g):
        """INTER_AREA outputs d.. of one row: (src[i0] * w0 + src[i1] * w1) + src[i2] * w2.

        args: src, base pixel of the row, idx (dw, 3), wt (3, dw, 4), dw, d, dst.
        """
        base, dw, d = g.args[1], g.args[4], g.args[5]
        r = None
        for k in range(3):
            px = [g.add(base, g.index(2, g.add(g.mul(g.add(d, p), 3), k))) for p in range(npx)]
            v = g.concat([g.load(0, g.mul(x, 4), 4) for x in px])
            w = g.load(3, g.mul(g.add(g.mul(dw, k), d), 4), n)
            r = g.b.fmul(v, w) if r is None else g.b.fadd(r, g.b.fmul(v, w))
        g.b.store(r, g.eptr(6, g.mul(d, 4), _vec(_F32, n)), align=4)

    def make_hlerp(ipp):
        @_intrinsic([None, _IP, None, None, None, _IP, _IP, None])
        def hlerp(g):
            """INTER_LINEAR outputs d.. of one fill row. args: src, base, i0, i1, w (2, dw, 4), dw, d, dst."""
            base, dw, d = g.args[1], g.args[5], g.args[6]
            a, b = ([g.load(0, g.mul(g.add(base, g.index(i, g.add(d, p))), 4), 4) for p in range(npx)] for i in (2, 3))
            w0 = g.load(4, g.mul(d, 4), n)
            w1 = g.load(4, g.mul(g.add(dw, d), 4), n)
            g.b.store(g.lerp(g.concat(a), g.concat(b), w0, w1, ipp), g.eptr(7, g.mul(d, 4), _vec(_F32, n)), align=4)

        return hlerp

    def make_blend(ipp, to_level):
        @_intrinsic([None, None, _IP, _FL, _FL, None, _IP, None])
        def blend(g):
            """Vertical INTER_LINEAR of rows lo, hi at pixels j.., blended under the colour at pixels o..

            args: lo, hi, j, w0, w1, col, o, out. ``to_level``: col is the float32
            level, written in place with C*a + fill * (1 - a). Otherwise col is the
            straight input and out the uint8 ((x * 255).clip(0, 255)) or float32 RGB.
            """
            j, o = g.mul(g.args[2], 4), g.args[6]
            fill = g.lerp(g.load(0, j, n), g.load(1, j, n), g.splat(g.args[3], n), g.splat(g.args[4], n), ipp)
            colour = g.load(5, g.mul(o, 4), n) if to_level else g.premul(5, o, npx)
            keep = g.b.fsub(_const(_F32, [1.0] * n), g.alpha_lanes(colour))
            r = g.b.fadd(colour, g.b.fmul(fill, keep))
            if to_level:
                g.b.store(r, g.eptr(5, g.mul(o, 4), _vec(_F32, n)), align=4)
                return
            if g.tys[7].dtype == types.uint8:
                lo, hi = _const(_F32, [0.0] * n), _const(_F32, [255.0] * n)
                r = g.b.fmul(r, hi)
                r = g.b.select(g.b.fcmp_ordered("<", r, lo), lo, r)
                r = g.b.select(g.b.fcmp_ordered(">", r, hi), hi, r)
                r = g.b.fptoui(r, _vec(_I8, n))
            rgb = g.b.shuffle_vector(r, r, _const(_I32, [k for k in range(n) if k % 4 < 3]))
            g.b.store(rgb, g.eptr(7, g.mul(o, 3), rgb.type), align=1)

        return blend

    return dict(
        premul=premul,
        area=area,
        hlerp=(make_hlerp(False), make_hlerp(True)),
        blend=(make_blend(False, True), make_blend(True, True)),
        out=(make_blend(False, False), make_blend(True, False)),
    )


_OPS1, _OPSW = _make_ops(1), _make_ops(WIDE)
_premul1, _premulW = _OPS1["premul"], _OPSW["premul"]
_area1, _areaW = _OPS1["area"], _OPSW["area"]
_hlerp1_cv, _hlerp1_ipp = _OPS1["hlerp"]
_hlerpW_cv, _hlerpW_ipp = _OPSW["hlerp"]
_blend1_cv, _blend1_ipp = _OPS1["blend"]
_blendW_cv, _blendW_ipp = _OPSW["blend"]
_out1_cv, _out1_ipp = _OPS1["out"]
_outW_cv, _outW_ipp = _OPSW["out"]


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
def _premul_row(src, base, n, dst):
    """dst pixels 0..n-1 = premultiplied src pixels base.."""
    m = n - n % WIDE
    for j in range(0, m, WIDE):
        _premulW(src, base + j, dst, j)
    for j in range(m, n):
        _premul1(src, base + j, dst, j)


@njit(cache=True, nogil=True)
def _area_row(src, base, xi, xw, dst):
    """One row of horizontal INTER_AREA (source pixels from ``base``) into ``dst``."""
    dw = xi.shape[0]
    m = dw - dw % WIDE
    for j in range(0, m, WIDE):
        _areaW(src, base, xi, xw, dw, j, dst)
    for j in range(m, dw):
        _area1(src, base, xi, xw, dw, j, dst)


@njit(cache=True, nogil=True)
def _shrink(src, premul, sh, sw, dst, dh, dw, tmp, buf):
    """One pyramid step: INTER_AREA of ``src`` (sh x sw RGBA) into the flat level ``dst`` (dh x dw).

    With ``premul`` the source is the straight input, premultiplied row by row.
    Rows are shrunk horizontally first, then combined (OpenCV's order); a
    source row shared by two output rows is shrunk once.
    """
    if sh == 2 and sw == 2 and dh == 1 and dw == 1:  # OpenCV's integer-scale path: sum of four, * 0.25
        tmp = np.empty(16, np.float32)
        if premul:
            _premul_row(src, 0, 4, tmp)
        else:
            tmp[:16] = src[:16]
        for c in range(4):
            dst[c] = (((tmp[c] + tmp[4 + c]) + tmp[8 + c]) + tmp[12 + c]) * np.float32(0.25)
        return
    xi, xw = area_tab(sw, dw)
    yi, yw = area_tab(sh, dh)
    n, last = dw * 4, -1
    for d in range(dh):
        row = dst[d * n : (d + 1) * n]  # a row view: ``dst[o + k]`` would defeat the loop vectoriser
        for t in range(3):
            beta, r = yw[t, d, 0], yi[d, t]
            if beta == 0:  # padding tap
                continue
            if r != last:
                if premul:
                    _premul_row(src, r * sw, sw, tmp)
                    _area_row(tmp, 0, xi, xw, buf)
                else:
                    _area_row(src, r * sw, xi, xw, buf)
                last = r
            if t == 0:
                for k in range(n):
                    row[k] = beta * buf[k]
            else:
                for k in range(n):
                    row[k] += beta * buf[k]


@njit(cache=True, nogil=True)
def _hrow(fill, base, i0, i1, w, ipp, dst):
    """Horizontal INTER_LINEAR of one fill row (pixels from ``base``) into ``dst``."""
    dw = i0.shape[0]
    m = dw - dw % WIDE
    if ipp:
        for j in range(0, m, WIDE):
            _hlerpW_ipp(fill, base, i0, i1, w, dw, j, dst)
        for j in range(m, dw):
            _hlerp1_ipp(fill, base, i0, i1, w, dw, j, dst)
    else:
        for j in range(0, m, WIDE):
            _hlerpW_cv(fill, base, i0, i1, w, dw, j, dst)
        for j in range(m, dw):
            _hlerp1_cv(fill, base, i0, i1, w, dw, j, dst)


@njit(cache=True, nogil=True)
def _blend_row(lo, hi, b0, b1, ipp, lvl, img, out, o, w, to_output):
    """Vertical INTER_LINEAR of rows lo, hi blended under one level row (pixels from ``o``)."""
    m = w - w % WIDE
    if to_output and ipp:
        for j in range(0, m, WIDE):
            _outW_ipp(lo, hi, j, b0, b1, img, o + j, out)
        for j in range(m, w):
            _out1_ipp(lo, hi, j, b0, b1, img, o + j, out)
    elif to_output:
        for j in range(0, m, WIDE):
            _outW_cv(lo, hi, j, b0, b1, img, o + j, out)
        for j in range(m, w):
            _out1_cv(lo, hi, j, b0, b1, img, o + j, out)
    elif ipp:
        for j in range(0, m, WIDE):
            _blendW_ipp(lo, hi, j, b0, b1, lvl, o + j, lvl)
        for j in range(m, w):
            _blend1_ipp(lo, hi, j, b0, b1, lvl, o + j, lvl)
    else:
        for j in range(0, m, WIDE):
            _blendW_cv(lo, hi, j, b0, b1, lvl, o + j, lvl)
        for j in range(m, w):
            _blend1_cv(lo, hi, j, b0, b1, lvl, o + j, lvl)


@njit(cache=True, nogil=True)
def _expand(fill, hs, ws, lvl, h, w, img, out, to_output, hb0, hb1):
    """Enlarge the fill (hs x ws) bilinearly to h x w and blend it under that level.

    Level >= 1: ``lvl`` (flat premultiplied RGBA) is overwritten with its fill.
    Level 0 (``to_output``): the colour comes from the input ``img`` and the
    result goes to ``out``.
    """
    ipp = hs >= 2 and ws >= 2
    xi0, xi1, xw = linear_tab(ws, w, ipp, True)
    yi0, yi1, yw = linear_tab(hs, h, ipp, False)
    t0 = t1 = -1  # fill rows currently held by hb0, hb1
    for d in range(h):
        r0, r1 = yi0[d], yi1[d]
        if t1 == r0 and t0 != r0:
            hb0, hb1, t0, t1 = hb1, hb0, t1, t0
        if t0 != r0:
            _hrow(fill, r0 * ws, xi0, xi1, xw, ipp, hb0)
            t0 = r0
        if t1 != r1:
            _hrow(fill, r1 * ws, xi0, xi1, xw, ipp, hb1)
            t1 = r1
        _blend_row(hb0, hb1, yw[0, d, 0], yw[1, d, 0], ipp, lvl, img, out, d * w, w, to_output)


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
def _pad_image(img, out, shapes, offs, store):
    """Pad one (H, W, 4) image into ``out`` (H, W, 3); ``store`` holds levels 1.. at ``offs``."""
    n_levels, h, w = shapes.shape[0], shapes[0, 0], shapes[0, 1]
    tmp, buf = np.empty(w * 4, np.float32), np.empty(w * 4, np.float32)
    hb0, hb1 = np.empty(w * 4, np.float32), np.empty(w * 4, np.float32)
    seed = np.zeros(4, np.float32)
    for i in range(1, n_levels):
        dst = store[offs[i] : offs[i + 1]]
        if i == 1:
            _shrink(img, True, h, w, dst, shapes[1, 0], shapes[1, 1], tmp, buf)
        else:
            src = store[offs[i - 1] : offs[i]]
            _shrink(src, False, shapes[i - 1, 0], shapes[i - 1, 1], dst, shapes[i, 0], shapes[i, 1], tmp, buf)
    if n_levels == 1:  # a 1xN or Nx1 image is its own coarsest level
        top = np.empty(h * w * 4, np.float32)
        _premul_row(img, 0, h * w, top)
        _seed(top, seed)
    else:
        _seed(store[offs[n_levels - 1] : offs[n_levels]], seed)
    fill, fh, fw = seed, 1, 1
    for i in range(n_levels - 1, 0, -1):
        lvl = store[offs[i] : offs[i + 1]]
        _expand(fill, fh, fw, lvl, shapes[i, 0], shapes[i, 1], img, out, False, hb0, hb1)
        fill, fh, fw = lvl, shapes[i, 0], shapes[i, 1]
    _expand(fill, fh, fw, seed, h, w, img, out, True, hb0, hb1)


@njit(cache=True, nogil=True, parallel=True)
def _pad_stack(stack, out):
    """Pad every image of a (B, H, W, 4) stack, images in parallel."""
    shapes = level_shapes(stack.shape[1], stack.shape[2])
    offs = np.zeros(shapes.shape[0] + 1, np.int64)
    for i in range(1, shapes.shape[0]):
        offs[i + 1] = offs[i] + shapes[i, 0] * shapes[i, 1] * 4
    for b in prange(stack.shape[0]):
        _pad_image(stack[b], out[b], shapes, offs, np.empty(offs[-1], np.float32))


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
