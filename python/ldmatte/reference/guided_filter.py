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
    a_mean, b_mean = _averaged_coefficients(a, b, radius)
    return np.einsum("yxc,yxc->yx", a_mean, g) + b_mean


def _averaged_coefficients(a: np.ndarray, b: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    h, w, c = a.shape
    a_mean, b_mean = np.zeros((h, w, c)), np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            ys, xs = _window(y, x, radius, h, w)
            a_mean[y, x], b_mean[y, x] = a[ys, xs].reshape(-1, c).mean(axis=0), b[ys, xs].mean()
    return a_mean, b_mean


def guided_coefficients_reference(guide: np.ndarray, src: np.ndarray, radius: int, eps: float):
    """The averaged coefficients ``(A, B)`` of :func:`guided_filter_reference` (its output is ``A . guide + B``);
    ``A`` is (H, W, C) (C = 1 for a grey guide), float64."""
    guide = np.asarray(guide, np.float64)
    src = np.asarray(src, np.float64)
    g = guide[..., None] if guide.ndim == 2 else guide
    h, w, c = g.shape
    a, b = np.zeros((h, w, c)), np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            ys, xs = _window(y, x, radius, h, w)
            gi, pi = g[ys, xs].reshape(-1, c), src[ys, xs].reshape(-1)
            mu, pm = gi.mean(axis=0), pi.mean()
            cov = (gi - mu).T @ (gi - mu) / len(pi)
            a[y, x] = np.linalg.solve(cov + eps * np.eye(c), (gi - mu).T @ (pi - pm) / len(pi))
            b[y, x] = pm - a[y, x] @ mu
    return _averaged_coefficients(a, b, radius)


def guided_upsample_reference(alpha: np.ndarray, guide: np.ndarray, full_guide: np.ndarray, radius: int,
                              eps: float) -> np.ndarray:  # fmt: skip
    """The fast guided upsampling written plainly: the coefficients of (``guide``, ``alpha``) over the whole
    working image, sampled bilinearly at each full-size pixel's centre (``(i + 0.5) * h / H - 0.5``, borders
    replicated) and applied to ``full_guide``; uint8 in (scaled to [0, 1]), uint8 out (rounded, clipped)."""
    a, b = guided_coefficients_reference(np.asarray(guide) / 255.0, np.asarray(alpha) / 255.0, radius, eps)
    full = np.asarray(full_guide) / 255.0
    full = full[..., None] if full.ndim == 2 else full
    h, w = b.shape
    fh, fw = full.shape[:2]
    out = np.zeros((fh, fw), np.uint8)
    for i in range(fh):
        v = (i + 0.5) * h / fh - 0.5
        y0 = int(np.floor(v))
        fy = v - y0
        ya, yb = min(max(y0, 0), h - 1), min(max(y0 + 1, 0), h - 1)
        for j in range(fw):
            u = (j + 0.5) * w / fw - 0.5
            x0 = int(np.floor(u))
            fx = u - x0
            xa, xb = min(max(x0, 0), w - 1), min(max(x0 + 1, 0), w - 1)

            def at(m):
                return ((1 - fy) * (1 - fx) * m[ya, xa] + (1 - fy) * fx * m[ya, xb] + fy * (1 - fx) * m[yb, xa]
                        + fy * fx * m[yb, xb])  # fmt: skip

            q = at(a) @ full[i, j] + at(b)
            out[i, j] = np.clip(np.floor(q * 255 + 0.5), 0, 255)
    return out
