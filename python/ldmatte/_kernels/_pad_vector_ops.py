"""LLVM vector intrinsics behind the Numba padding kernel (``pad.py``).

Pixels are interleaved float32 RGBA, four lanes each; every operation here works
on one pixel or on ``WIDE`` consecutive output pixels at once, whose source
pixels are loaded one by one and joined into a wide vector. Numba leaves LLVM's
SLP vectoriser off, so without these the horizontal passes would run lane by
lane. All arithmetic is plain IEEE float32, lane-wise, in the reference's order;
``fma`` appears only where the reference (IPP) rounds once.

Names are ``<step>_<1px|wide>[_<opencv|ipp>]``: ``premultiply`` (C*a, a),
``shrink_area`` (INTER_AREA, up to three taps), ``enlarge_x`` (horizontal
INTER_LINEAR, any two taps), ``enlarge_x_adjacent`` (its second tap the pixel
after the first), ``enlarge_y`` (vertical INTER_LINEAR alone),
``enlarge_y_blend_level`` (vertical, then blended under a pyramid level) and
``enlarge_y_blend_output`` (vertical, blended under the input and written as
the result); ``1px`` works on one output pixel, ``wide`` on ``WIDE``;
``opencv`` rounds like OpenCV's own code (``a * w0 + b * w1``), ``ipp`` like
IPP (``fma(b - a, w1, a)``).
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
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

    def tap(self, i, row_px, byte_off, pixels=1):
        """``pixels`` pixels (<4 pixels x float>) ``byte_off`` bytes after pixel ``row_px`` of float32 array i."""
        row = self.b.bitcast(self.eptr(i, self.mul(row_px, 4)), _I8.as_pointer())
        vty = _vec(_F32, 4 * pixels)
        return self.b.load(self.b.bitcast(self.b.gep(row, [byte_off]), vty.as_pointer()), align=4)

    def concat(self, parts):
        """Join equal vectors into one (a shuffle tree the backend turns into inserts)."""
        while len(parts) > 1:
            n = parts[0].type.count
            mask = _const(_I32, range(2 * n))
            parts = [self.b.shuffle_vector(parts[k], parts[k + 1], mask) for k in range(0, len(parts), 2)]
        return parts[0]

    def weights(self, i, index, npx):
        """``npx`` consecutive float32 weights of array i, each repeated over its pixel's four lanes."""
        if npx == 1:
            return self.splat(self.b.load(self.eptr(i, index)), 4)
        v = self.load(i, index, npx)
        return self.b.shuffle_vector(v, v, _const(_I32, [k // 4 for k in range(4 * npx)]))

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

    def has(self, i):
        """Is argument i given (an array), not None?"""
        return not isinstance(self.tys[i], types.NoneType)

    def raw_rgba(self, i, pix, npx, alpha_i):
        """``npx`` uint8 RGBA pixels as <4 npx x i8>; with ``alpha_i`` their alpha comes from that
        (H, W) uint8 array instead (refine: colour of the input, refined alpha)."""
        n = 4 * npx
        raw = self.b.load(self.eptr(i, self.mul(pix, 4), _vec(_I8, n)), align=1)
        if not self.has(alpha_i):
            return raw
        a = self.b.load(self.eptr(alpha_i, pix, _vec(_I8, npx)), align=1)
        a = self.b.shuffle_vector(a, a, _const(_I32, [k // 4 for k in range(n)]))
        return self.b.shuffle_vector(raw, a, _const(_I32, [n + k if k % 4 == 3 else k for k in range(n)]))

    def premul(self, i, pix, npx, alpha_i=None):
        """``npx`` straight RGBA pixels (uint8 or float32) -> (C*a, a), numpy's arithmetic.

        uint8 / 255 is a reciprocal product plus one Newton correction, which
        rounds like the true division for every uint8 value (the tests check).
        """
        n = 4 * npx
        if self.tys[i].dtype == types.uint8:
            u = self.b.uitofp(self.raw_rgba(i, pix, npx, alpha_i), _vec(_F32, n))
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
    5: lambda t: lambda typingctx, a0, a1, a2, a3, a4: t(a0, a1, a2, a3, a4),
    8: lambda t: lambda typingctx, a0, a1, a2, a3, a4, a5, a6, a7: t(a0, a1, a2, a3, a4, a5, a6, a7),
    10: lambda t: lambda typingctx, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9: t(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9),
    11: lambda t: lambda typingctx, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10: t(
        a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10
    ),
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
    """The per-pixel vector operations, each on ``npx`` consecutive output pixels.

    Arrays are flat; ``*_px`` arguments are pixel indices (4 floats), table
    offsets are element indices. No bounds are checked: the callers own the layout.
    """
    n = 4 * npx

    @_intrinsic([None, None, _IP, None, _IP])
    def premul(g):
        """dst pixels d.. = premultiplied src pixels s.. (args: src, alpha or None, s_px, dst, d_px)."""
        g.b.store(g.premul(0, g.args[2], npx, 1), g.eptr(3, g.mul(g.args[4], 4), _vec(_F32, n)), align=4)

    @_intrinsic([None, _IP, None, _IP, None, _IP, _IP, _IP, None, _IP])
    def area(g):
        """INTER_AREA outputs d.. of one row: (src[i0] * w0 + src[i0 + 1] * w1) + src[i0 + 2] * w2.

        args: src, row_px, ints, idx_off, floats, wt_off, dw, d, dst, dst_px. Output d's
        taps are consecutive pixels from ``ints[idx_off + 3 d]`` bytes after pixel row_px
        (byte offsets spare the address arithmetic), loaded at once (four pixels, the
        last unused), with weights ``floats[wt_off + k dw + d]``; the result goes to
        pixel dst_px + d. A missing third tap has weight 0 and reads a pixel the
        caller keeps finite, so it adds an exact zero.
        """
        row, ioff, foff, dw, d = g.args[1], g.args[3], g.args[5], g.args[6], g.args[7]
        runs = g.concat([g.tap(0, row, g.index(2, g.add(ioff, g.mul(g.add(d, p), 3))), 4) for p in range(npx)])
        r = None
        for k in range(3):
            v = g.b.shuffle_vector(runs, runs, _const(_I32, [16 * (m // 4) + 4 * k + m % 4 for m in range(n)]))
            w = g.weights(4, g.add(foff, g.add(g.mul(dw, k), d)), npx)
            r = g.b.fmul(v, w) if r is None else g.b.fadd(r, g.b.fmul(v, w))
        g.b.store(r, g.eptr(8, g.mul(g.add(g.args[9], d), 4), _vec(_F32, n)), align=4)

    def make_hlerp(ipp):
        @_intrinsic([None, _IP, None, _IP, _IP, None, _IP, _IP, _IP, None, _IP])
        def hlerp(g):
            """INTER_LINEAR outputs d.. of one fill row.

            args: src, row_px, ints, i0_off, i1_off, floats, w_off, dw, d, dst, dst_px; the
            taps are byte offsets from pixel row_px, weights w0 at ``floats[w_off + d]``,
            w1 at ``floats[w_off + dw + d]``.
            """
            row, foff, dw, d = g.args[1], g.args[6], g.args[7], g.args[8]
            a, b = (
                [g.tap(0, row, g.index(2, g.add(g.args[i], g.add(d, p)))) for p in range(npx)]
                for i in (3, 4)
            )
            w0 = g.weights(5, g.add(foff, d), npx)
            w1 = g.weights(5, g.add(foff, g.add(dw, d)), npx)
            r = g.lerp(g.concat(a), g.concat(b), w0, w1, ipp)
            g.b.store(r, g.eptr(9, g.mul(g.add(g.args[10], d), 4), _vec(_F32, n)), align=4)

        return hlerp

    def make_hlerp_pair(ipp):
        @_intrinsic([None, _IP, None, _IP, None, _IP, _IP, _IP, None, _IP])
        def hlerp_pair(g):
            """hlerp where the second tap is the pixel after the first (away from the borders): one
            two-pixel load per output. args: src, row_px, ints, i0_off, floats, w_off, dw, d, dst, dst_px."""
            row, foff, dw, d = g.args[1], g.args[5], g.args[6], g.args[7]
            pairs = g.concat([g.tap(0, row, g.index(2, g.add(g.args[3], g.add(d, p))), 2) for p in range(npx)])
            a = g.b.shuffle_vector(pairs, pairs, _const(_I32, [8 * (k // 4) + k % 4 for k in range(n)]))
            b = g.b.shuffle_vector(pairs, pairs, _const(_I32, [8 * (k // 4) + 4 + k % 4 for k in range(n)]))
            w0 = g.weights(4, g.add(foff, d), npx)
            w1 = g.weights(4, g.add(foff, g.add(dw, d)), npx)
            g.b.store(g.lerp(a, b, w0, w1, ipp), g.eptr(8, g.mul(g.add(g.args[9], d), 4), _vec(_F32, n)), align=4)

        return hlerp_pair

    def make_blend(ipp, to_level):
        @_intrinsic([None, _IP, _IP, _IP, _FL, _FL, None, None, _IP, None, _IP])
        def blend(g):
            """Vertical INTER_LINEAR of two rows at pixels j.., blended under the colour at pixels o..

            args: rows, lo_px, hi_px, j, w0, w1, col, alpha, o, dst, dst_px.
            ``to_level``: col is the float32 premultiplied level (alpha None) and
            dst pixels dst_px + j.. get C*a + fill * (1 - a). Otherwise col is the
            straight input and dst[o..] the uint8 ((x * 255).clip(0, 255) truncated)
            or float32 RGB result; with an alpha array (uint8 input, refine) the
            padding uses that alpha and dst[o..] is uint8 RGBA: the input's colour
            where alpha > 0, the padding where it is 0, and that alpha.
            """
            j, o = g.args[3], g.args[8]
            lo = g.load(0, g.mul(g.add(g.args[1], j), 4), n)
            hi = g.load(0, g.mul(g.add(g.args[2], j), 4), n)
            fill = g.lerp(lo, hi, g.splat(g.args[4], n), g.splat(g.args[5], n), ipp)
            colour = g.load(6, g.mul(o, 4), n) if to_level else g.premul(6, o, npx, 7)
            keep = g.b.fsub(_const(_F32, [1.0] * n), g.alpha_lanes(colour))
            r = g.b.fadd(colour, g.b.fmul(fill, keep))
            if to_level:
                g.b.store(r, g.eptr(9, g.mul(g.add(g.args[10], j), 4), _vec(_F32, n)), align=4)
                return
            if g.tys[9].dtype == types.uint8:
                zero, top = _const(_F32, [0.0] * n), _const(_F32, [255.0] * n)
                r = g.b.fmul(r, top)
                r = g.b.select(g.b.fcmp_ordered("<", r, zero), zero, r)
                r = g.b.select(g.b.fcmp_ordered(">", r, top), top, r)
                r = g.b.fptoui(r, _vec(_I8, n))
            if g.has(7):
                raw = g.raw_rgba(6, o, npx, 7)
                a = g.b.shuffle_vector(raw, raw, _const(_I32, [4 * (k // 4) + 3 for k in range(n)]))
                r = g.b.select(g.b.icmp_unsigned("!=", a, _const(_I8, [0] * n)), raw, r)
                r = g.b.shuffle_vector(r, raw, _const(_I32, [n + k if k % 4 == 3 else k for k in range(n)]))
                g.b.store(r, g.eptr(9, g.mul(o, 4), r.type), align=1)
                return
            rgb = g.b.shuffle_vector(r, r, _const(_I32, [k for k in range(n) if k % 4 < 3]))
            g.b.store(rgb, g.eptr(9, g.mul(o, 3), rgb.type), align=1)

        return blend

    def make_vlerp(ipp):
        @_intrinsic([None, _IP, _IP, _IP, _FL, _FL, None, _IP])
        def vlerp(g):
            """Vertical INTER_LINEAR only, where the level is exactly 0 (C*a = a = 0 there, so the
            blend C*a + fill * (1 - a) is the fill itself). args: rows, lo_px, hi_px, j, w0, w1, dst, dst_px."""
            j = g.args[3]
            lo = g.load(0, g.mul(g.add(g.args[1], j), 4), n)
            hi = g.load(0, g.mul(g.add(g.args[2], j), 4), n)
            fill = g.lerp(lo, hi, g.splat(g.args[4], n), g.splat(g.args[5], n), ipp)
            g.b.store(fill, g.eptr(6, g.mul(g.add(g.args[7], j), 4), _vec(_F32, n)), align=4)

        return vlerp

    return dict(
        vlerp=(make_vlerp(False), make_vlerp(True)),
        premul=premul,
        area=area,
        hlerp=(make_hlerp(False), make_hlerp(True)),
        hlerp_pair=(make_hlerp_pair(False), make_hlerp_pair(True)),
        blend=(make_blend(False, True), make_blend(True, True)),
        out=(make_blend(False, False), make_blend(True, False)),
    )


_OPS1, _OPSW = _make_ops(1), _make_ops(WIDE)
premultiply_1px, premultiply_wide = _OPS1["premul"], _OPSW["premul"]
shrink_area_1px, shrink_area_wide = _OPS1["area"], _OPSW["area"]
enlarge_x_1px_opencv, enlarge_x_1px_ipp = _OPS1["hlerp"]
enlarge_x_wide_opencv, enlarge_x_wide_ipp = _OPSW["hlerp"]
enlarge_x_adjacent_1px_opencv, enlarge_x_adjacent_1px_ipp = _OPS1["hlerp_pair"]
enlarge_x_adjacent_wide_opencv, enlarge_x_adjacent_wide_ipp = _OPSW["hlerp_pair"]
enlarge_y_blend_level_1px_opencv, enlarge_y_blend_level_1px_ipp = _OPS1["blend"]
enlarge_y_blend_level_wide_opencv, enlarge_y_blend_level_wide_ipp = _OPSW["blend"]
enlarge_y_blend_output_1px_opencv, enlarge_y_blend_output_1px_ipp = _OPS1["out"]
enlarge_y_1px_opencv, enlarge_y_1px_ipp = _OPS1["vlerp"]
enlarge_y_wide_opencv, enlarge_y_wide_ipp = _OPSW["vlerp"]
enlarge_y_blend_output_wide_opencv, enlarge_y_blend_output_wide_ipp = _OPSW["out"]
