"""The guided filter (He, Sun and Tang 2010) written plainly, pixel by pixel (the reference of ``video.upsample``).

For each pixel ``k`` a linear model ``q = a_k . I + b_k`` of the guide ``I`` is
fitted to the input ``p`` over the (2r + 1)² window around ``k`` (clipped to
the image: only pixels inside it count), with ridge ``eps`` on ``a_k``; the
output at a pixel is the mean of the models of all windows that hold it.
Guide: (H, W) grey or (H, W, C) colour, in [0, 1] (``eps`` is relative to that
range); input: (H, W). float64 out.
"""
from __future__ import annotations

import numpy as np


def _window(y: int, x: int, r: int, h: int, w: int) -> tuple[slice, slice]:
    return slice(max(0, y - r), min(h, y + r + 1)), slice(max(0, x - r), min(w, x + r + 1))


def guided_filter_reference(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """The guided filter of ``src`` under ``guide`` by explicit per-window least squares.

    Examples
    --------
    >>> import numpy as np
    >>> g = np.array([[0, 0, 1, 1]], float)
    >>> np.round(guided_filter_reference(g, g, 1, 1e-6), 3).tolist()  # an edge of the guide is kept
    [[0.0, 0.0, 1.0, 1.0]]
    >>> np.round(guided_filter_reference(np.zeros((1, 4)), g, 1, 1e-6), 3).tolist()  # a flat guide: a box blur
    [[0.167, 0.333, 0.667, 0.833]]
    """
    guide = np.asarray(guide, np.float64)
    src = np.asarray(src, np.float64)
    grey = guide.ndim == 2
    g = guide[..., None] if grey else guide
    h, w, c = g.shape
    if src.shape != (h, w):
        raise ValueError(f"src must be (H, W) = {(h, w)}, got {src.shape}")
    a = np.zeros((h, w, c))
    b = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            ys, xs = _window(y, x, radius, h, w)
            gi = g[ys, xs].reshape(-1, c)
            pi = src[ys, xs].reshape(-1)
            mu, pm = gi.mean(axis=0), pi.mean()
            cov = (gi - mu).T @ (gi - mu) / len(pi)  # biased, as the box-filter form computes it
            cross = (gi - mu).T @ (pi - pm) / len(pi)
            a[y, x] = np.linalg.solve(cov + eps * np.eye(c), cross)
            b[y, x] = pm - a[y, x] @ mu
    out = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            ys, xs = _window(y, x, radius, h, w)
            out[y, x] = a[ys, xs].reshape(-1, c).mean(axis=0) @ g[y, x] + b[ys, xs].mean()
    return out
