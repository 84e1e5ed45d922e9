"""Numba kernels of the guided filter and of the fast guided upsampling (private; :mod:`ldmatte.video.upsample`).

- :func:`colour_coefficients`: the colour guided filter's averaged coefficients:
  the 13 moment images made in one pass, summed over the windows by two OpenCV
  box filters, each window's 3 x 3 fit solved in one compiled pass (instead of
  some thirty whole-image numpy temporaries: about half the time).
- :func:`apply_upsampled`: the coefficients resampled bilinearly to the full size
  and applied to the full-size guide, pixel by pixel, only where the alpha varies
  near the pixel (elsewhere the nearest-neighbour value is the filter's value).

:func:`ldmatte.reference.guided_filter.guided_filter_reference` is the plain
definition the tests compare them with.
"""
from __future__ import annotations

import cv2
import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _moments(g, gu, p, pu, g_shift, p_shift):  # pragma: no cover - compiled
    # Per pixel: the guide's 3 channels, the input, and their 9 products, each shifted by a constant (float32).
    h, w = p.shape
    m = np.empty((h, w, 13), np.float32)
    for y in range(h):
        for x in range(w):
            g0 = np.float32(g[y, x, 0]) * gu - g_shift[0]
            g1 = np.float32(g[y, x, 1]) * gu - g_shift[1]
            g2 = np.float32(g[y, x, 2]) * gu - g_shift[2]
            v = np.float32(p[y, x]) * pu - p_shift
            m[y, x, 0] = g0
            m[y, x, 1] = g1
            m[y, x, 2] = g2
            m[y, x, 3] = v
            m[y, x, 4] = g0 * g0
            m[y, x, 5] = g0 * g1
            m[y, x, 6] = g0 * g2
            m[y, x, 7] = g1 * g1
            m[y, x, 8] = g1 * g2
            m[y, x, 9] = g2 * g2
            m[y, x, 10] = g0 * v
            m[y, x, 11] = g1 * v
            m[y, x, 12] = g2 * v
    return m


@njit(cache=True, nogil=True)
def _window_fits(s, r, eps):  # pragma: no cover - compiled
    # From the window sums of the moments: each window's ridge fit (a0, a1, a2, b), the 3 x 3 system solved by
    # its adjugate; windows are clipped to the image (n: the pixels inside).
    h, w = s.shape[0], s.shape[1]
    ab = np.empty((h, w, 4), np.float32)
    for y in range(h):
        ny = min(h, y + r + 1) - max(0, y - r)
        for x in range(w):
            n = np.float32(ny * (min(w, x + r + 1) - max(0, x - r)))
            mu0, mu1, mu2, mp = s[y, x, 0] / n, s[y, x, 1] / n, s[y, x, 2] / n, s[y, x, 3] / n
            s00 = s[y, x, 4] / n - mu0 * mu0 + eps
            s01 = s[y, x, 5] / n - mu0 * mu1
            s02 = s[y, x, 6] / n - mu0 * mu2
            s11 = s[y, x, 7] / n - mu1 * mu1 + eps
            s12 = s[y, x, 8] / n - mu1 * mu2
            s22 = s[y, x, 9] / n - mu2 * mu2 + eps
            c0 = s[y, x, 10] / n - mu0 * mp
            c1 = s[y, x, 11] / n - mu1 * mp
            c2 = s[y, x, 12] / n - mu2 * mp
            i00 = s11 * s22 - s12 * s12
            i01 = s02 * s12 - s01 * s22
            i02 = s01 * s12 - s02 * s11
            i11 = s00 * s22 - s02 * s02
            i12 = s01 * s02 - s00 * s12
            i22 = s00 * s11 - s01 * s01
            det = max(s00 * i00 + s01 * i01 + s02 * i02, eps * eps * eps)  # >= eps^3 but for rounding
            a0 = (i00 * c0 + i01 * c1 + i02 * c2) / det
            a1 = (i01 * c0 + i11 * c1 + i12 * c2) / det
            a2 = (i02 * c0 + i12 * c1 + i22 * c2) / det
            ab[y, x, 0] = a0
            ab[y, x, 1] = a1
            ab[y, x, 2] = a2
            ab[y, x, 3] = mp - a0 * mu0 - a1 * mu1 - a2 * mu2
    return ab


@njit(cache=True, nogil=True)
def _averaged(t, r, g_shift, p_shift):  # pragma: no cover - compiled
    # The window sums of the fits divided by the window sizes; B shifted back to the unshifted guide and input.
    h, w = t.shape[0], t.shape[1]
    a = np.empty((h, w, 3), np.float32)
    b = np.empty((h, w), np.float32)
    for y in range(h):
        ny = min(h, y + r + 1) - max(0, y - r)
        for x in range(w):
            n = np.float32(ny * (min(w, x + r + 1) - max(0, x - r)))
            a0, a1, a2 = t[y, x, 0] / n, t[y, x, 1] / n, t[y, x, 2] / n
            a[y, x, 0] = a0
            a[y, x, 1] = a1
            a[y, x, 2] = a2
            b[y, x] = t[y, x, 3] / n + p_shift - a0 * g_shift[0] - a1 * g_shift[1] - a2 * g_shift[2]
    return a, b


def colour_coefficients(guide: np.ndarray, src: np.ndarray, radius: int, eps: float):
    """``(A, B)`` of the guided filter of ``src`` (H, W) under the colour guide ``guide`` (H, W, 3): each window's
    ridge fit ``src ~ a . guide + b`` (its 3 x 3 covariance plus ``eps`` I), averaged over the windows holding
    each pixel (windows clipped to the image). uint8 inputs count as [0, 1]. float32 (H, W, 3) and (H, W) out.

    The window sums are OpenCV box filters over the 13 moment images; guide and input are first shifted by their
    mean over a sparse grid (any constant gives the same fit; one near the mean keeps float32's cancellation in
    the variances far below ``eps``).
    """
    gu = np.float32(1 / 255) if guide.dtype == np.uint8 else np.float32(1)
    pu = np.float32(1 / 255) if src.dtype == np.uint8 else np.float32(1)
    step = max(1, int(np.sqrt(src.size / 4096)))
    g_shift = (guide[::step, ::step].reshape(-1, 3).mean(axis=0) * gu).astype(np.float32)
    p_shift = np.float32(src[::step, ::step].mean() * pu)
    k = 2 * radius + 1
    m = _moments(guide, gu, src, pu, g_shift, p_shift)
    s = cv2.boxFilter(m, -1, (k, k), normalize=False, borderType=cv2.BORDER_CONSTANT)
    ab = _window_fits(s, radius, np.float32(eps))
    t = cv2.boxFilter(ab, -1, (k, k), normalize=False, borderType=cv2.BORDER_CONSTANT)
    return _averaged(t, radius, g_shift, p_shift)


@njit(cache=True, nogil=True)
def apply_upsampled(a, b, varies, full, unit, out, fy0, fx0, sy, sx, y0, x0):  # pragma: no cover - compiled
    """Write ``clip(round(255 (A . I + B)))`` into ``out`` (full size, uint8) over the box that starts at
    (``fy0``, ``fx0``) and is ``full``'s size (``full``: that box of the full-size guide, (h, w, C), times ``unit``
    in [0, 1]), with
    ``A`` (``a``: (hc, wc, C)) and ``B`` (``b``: (hc, wc)) sampled bilinearly at the pixel centres (as
    ``cv2.resize`` maps them, borders replicated) from a crop whose corner is (``y0``, ``x0``) in working pixels
    (``sy``, ``sx``: full over working size). Pixels none of whose four working neighbours ``varies`` keep
    ``out``."""
    hc, wc = b.shape
    fh, fw, nc = full.shape
    xi = np.empty(fw, np.int64)
    xf = np.empty(fw, np.float32)
    for j in range(fw):
        u = (fx0 + j + 0.5) / sx - 0.5 - x0
        k = int(np.floor(u))
        xf[j] = u - k
        xi[j] = k
    for i in range(fh):
        v = (fy0 + i + 0.5) / sy - 0.5 - y0
        ky = int(np.floor(v))
        fy = np.float32(v - ky)
        ya, yb = min(max(ky, 0), hc - 1), min(max(ky + 1, 0), hc - 1)
        for j in range(fw):
            kx = xi[j]
            xa, xb = min(max(kx, 0), wc - 1), min(max(kx + 1, 0), wc - 1)
            if not (varies[ya, xa] or varies[ya, xb] or varies[yb, xa] or varies[yb, xb]):
                continue
            fx = xf[j]
            w00 = (1 - fy) * (1 - fx)
            w01 = (1 - fy) * fx
            w10 = fy * (1 - fx)
            w11 = fy * fx
            q = w00 * b[ya, xa] + w01 * b[ya, xb] + w10 * b[yb, xa] + w11 * b[yb, xb]
            for k in range(nc):
                ak = w00 * a[ya, xa, k] + w01 * a[ya, xb, k] + w10 * a[yb, xa, k] + w11 * a[yb, xb, k]
                q += ak * (np.float32(full[i, j, k]) * unit)
            q = q * 255 + 0.5
            out[fy0 + i, fx0 + j] = 0 if q < 0 else (255 if q >= 255 else np.uint8(q))
