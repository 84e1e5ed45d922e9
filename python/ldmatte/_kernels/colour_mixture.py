"""Numba kernel of :func:`ldmatte.video.carried.colour_log_ratio`: two Gaussian mixtures' log densities per pixel.

One pass over the pixels, in float64, no temporaries and no BLAS call (a multithreaded matrix product of a few
rows busy-waits on every core: on a 960x540 frame it cost more CPU time than the product itself).
"""
from __future__ import annotations

import math

from numba import njit


_NEGLIGIBLE = -30.0  # a component this far (log) below the pixel's best one adds < 1e-13 to its density: skipped


@njit(cache=True, nogil=True, inline="always")
def _quadratic(w, r, g, b):
    return (w[0] * r * r + w[1] * g * g + w[2] * b * b + w[3] * r * g + w[4] * r * b + w[5] * g * b
            + w[6] * r + w[7] * g + w[8] * b + w[9])  # fmt: skip


@njit(cache=True, nogil=True, inline="always")
def _log_density(weights, r, g, b):
    """log sum_k exp(w_k . [r², g², b², rg, rb, gb, r, g, b, 1]) (the mixture's log density, centred colours):
    the largest term first, then the others relative to it (no overflow; most pixels lie far from all but
    one or two components, whose exponentials are skipped: they cost most of the time)."""
    top = -math.inf
    for k in range(weights.shape[0]):
        v = _quadratic(weights[k], r, g, b)
        if v > top:
            top = v
    total = 0.0
    for k in range(weights.shape[0]):
        d = _quadratic(weights[k], r, g, b) - top
        if d > _NEGLIGIBLE:
            total += math.exp(d)
    return top + math.log(total)


@njit(cache=True, nogil=True)
def log_ratio_image(image, where, every, fg_weights, bg_weights, out):
    """``out[y, x]`` = log p(colour | fg) - log p(colour | bg) of ``image`` (H, W, 3) where ``where`` (or
    ``every`` pixel); the other pixels of ``out`` are left as they are. Weights: (K, 10) float64 rows of
    quadratic-feature coefficients on colours centred on 128."""
    h, w = out.shape
    for y in range(h):
        for x in range(w):
            if not every and not where[y, x]:
                continue
            r = float(image[y, x, 0]) - 128.0
            g = float(image[y, x, 1]) - 128.0
            b = float(image[y, x, 2]) - 128.0
            out[y, x] = _log_density(fg_weights, r, g, b) - _log_density(bg_weights, r, g, b)
