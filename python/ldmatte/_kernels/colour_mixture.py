"""Numba kernel of :func:`ldmatte.video.carried.colour_log_ratio`: two Gaussian mixtures' log densities per pixel.

One pass over the pixels, in float64, no temporaries and no BLAS call (a multithreaded matrix product of a few
rows busy-waits on every core: on a 960x540 frame it cost more CPU time than the product itself).
"""
from __future__ import annotations

import math

from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _log_density(weights, r, g, b):
    """log sum_k exp(w_k . [r², g², b², rg, rb, gb, r, g, b, 1]) (the mixture's log density, centred colours),
    summed with a running maximum (no overflow, one pass)."""
    top, total = -math.inf, 0.0
    for k in range(weights.shape[0]):
        w = weights[k]
        v = (w[0] * r * r + w[1] * g * g + w[2] * b * b + w[3] * r * g + w[4] * r * b + w[5] * g * b
             + w[6] * r + w[7] * g + w[8] * b + w[9])  # fmt: skip
        if v > top:
            total = total * math.exp(top - v) + 1.0
            top = v
        else:
            total += math.exp(v - top)
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
