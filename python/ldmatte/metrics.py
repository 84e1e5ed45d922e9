"""Matting errors as the field computes them: SAD, MSE, MAD, Grad and Conn.

The definitions follow the Deep Image Matting / Rhemann et al. evaluation code:
alphas are taken in [0, 1] (uint8 is divided by 255), sums are divided by 1000,
``Grad`` uses normalised first-derivative-of-Gaussian filters with sigma 1.4 and
``Conn`` thresholds at steps of 0.1, keeps the largest 4-connected component of
the pixels above the threshold in both mattes and ignores distances below 0.15.
Every metric covers the whole image, or only the unknown region of a trimap
(``trimap == 128``) when one is given. A (B, H, W) batch returns one value per
image as a float64 array of shape (B,).
"""
from __future__ import annotations

import functools

import cv2
import numpy as np

__all__ = ["sad", "mse", "mad", "grad", "conn", "evaluate", "METRICS"]

METRICS = ("sad", "mse", "mad", "grad", "conn")
UNKNOWN = 128  # trimap value of the unknown region
GRAD_SIGMA = 1.4
CONN_STEP = 0.1
CONN_CUTOFF = 0.15


def _as_unit(x, name: str) -> np.ndarray:
    """float64 alpha in [0, 1] from uint8 (divided by 255) or float input."""
    arr = np.asarray(x)
    if arr.dtype == np.uint8:
        return arr / 255.0
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"{name}: expected uint8 (0..255) or float (0..1) alpha, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.size and not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or infinity")
    if arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
        raise ValueError(
            f"{name}: float alpha must lie in [0, 1], got values in [{arr.min():g}, {arr.max():g}] "
            "(pass uint8 for 0..255 mattes)"
        )
    return arr


def _prepare(pred, gt, trimap):
    """Validate; return (p, g, region or None, batched) with p, g float64 of shape (B, H, W)."""
    p, g = _as_unit(pred, "pred"), _as_unit(gt, "gt")
    if p.ndim not in (2, 3):
        raise ValueError(f"pred: expected an (H, W) matte or a (B, H, W) batch, got shape {p.shape}")
    if p.shape != g.shape:
        raise ValueError(f"pred and gt must have the same shape, got {p.shape} and {g.shape}")
    batched = p.ndim == 3
    if not batched:
        p, g = p[None], g[None]
    region = None
    if trimap is not None:
        t = np.asarray(trimap)
        if not (np.issubdtype(t.dtype, np.integer) or np.issubdtype(t.dtype, np.floating)):
            raise TypeError(f"trimap: expected an integer or float array with 0/128/255, got dtype {t.dtype}")
        allowed = (p.shape[1:], p.shape) if batched else (p.shape[1:],)
        if t.shape not in allowed:
            expected = tuple(p.shape[int(not batched) :])
            raise ValueError(f"trimap: shape {t.shape} does not match the matte shape {expected}")
        region = np.broadcast_to(t == UNKNOWN, p.shape)
    return p, g, region, batched


def _sum(err: np.ndarray, region) -> np.ndarray:
    if region is None:
        return err.reshape(err.shape[0], -1).sum(axis=1)
    return np.where(region, err, 0.0).reshape(err.shape[0], -1).sum(axis=1)


def _count(shape, region) -> np.ndarray:
    if region is None:
        return np.full(shape[0], float(shape[1] * shape[2]))
    return region.reshape(shape[0], -1).sum(axis=1).astype(np.float64)


def _mean(err: np.ndarray, region) -> np.ndarray:
    n = _count(err.shape, region)
    total = _sum(err, region)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def _out(values: np.ndarray, batched: bool):
    return values if batched else float(values[0])


def sad(pred, gt, trimap=None):
    """Sum of absolute differences / 1000.

    Parameters
    ----------
    pred, gt : (H, W) or (B, H, W) array
        uint8 (0..255, divided by 255) or float in [0, 1]; same shape.
    trimap : array, optional
        (H, W) or matching (B, H, W); only pixels equal to 128 count.

    Returns
    -------
    float, or float64 array of shape (B,) for a batch.

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte import metrics
    >>> g = np.zeros((10, 100), np.uint8); p = g.copy(); p[:] = 255
    >>> metrics.sad(p, g)
    1.0
    """
    p, g, region, batched = _prepare(pred, gt, trimap)
    return _out(_sad(p, g, region), batched)


def mse(pred, gt, trimap=None):
    """Mean squared error (over the image, or the trimap's unknown region; NaN if that is empty).

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte import metrics
    >>> metrics.mse(np.full((4, 4), 0.5), np.zeros((4, 4)))
    0.25
    """
    p, g, region, batched = _prepare(pred, gt, trimap)
    return _out(_mean((p - g) ** 2, region), batched)


def mad(pred, gt, trimap=None):
    """Mean absolute difference (over the image, or the trimap's unknown region).

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte import metrics
    >>> metrics.mad(np.full((4, 4), 0.5), np.zeros((4, 4)))
    0.5
    """
    p, g, region, batched = _prepare(pred, gt, trimap)
    return _out(_mean(np.abs(p - g), region), batched)


@functools.lru_cache(maxsize=4)
def _gauss_kernels(sigma: float):
    """1-D Gaussian and derivative-of-Gaussian taps of the evaluation code, each L2-normalised.

    The reference builds the 2-D kernel gauss(y) * dgauss(x) and divides it by
    its L2 norm; that norm is the product of the 1-D norms, so the separable
    form gives the same filter.
    """
    eps = 1e-2
    half = int(np.ceil(sigma * np.sqrt(-2.0 * np.log(np.sqrt(2.0 * np.pi) * sigma * eps))))
    u = np.arange(-half, half + 1, dtype=np.float64)
    gauss = np.exp(-(u**2) / (2.0 * sigma**2)) / (sigma * np.sqrt(2.0 * np.pi))
    dgauss = -u * gauss / sigma**2
    return gauss / np.linalg.norm(gauss), dgauss / np.linalg.norm(dgauss)


def _gradient_magnitude(img: np.ndarray, sigma: float) -> np.ndarray:
    g, dg = _gauss_kernels(sigma)
    # Replicated borders = scipy.ndimage.convolve(mode="nearest") of the reference; correlation
    # instead of convolution only flips the sign of the odd derivative filter.
    gx = cv2.sepFilter2D(img, cv2.CV_64F, dg, g, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.sepFilter2D(img, cv2.CV_64F, g, dg, borderType=cv2.BORDER_REPLICATE)
    return np.sqrt(gx * gx + gy * gy)


def grad(pred, gt, trimap=None, sigma: float = GRAD_SIGMA):
    """Gradient error: sum((|grad p| - |grad g|)^2) / 1000, Gaussian-derivative filters.

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte import metrics
    >>> g = np.zeros((32, 32), np.uint8); g[8:24, 8:24] = 255
    >>> metrics.grad(g, g), metrics.grad(g // 2, g) > 0
    (0.0, True)
    """
    p, g, region, batched = _prepare(pred, gt, trimap)
    return _out(_grad(p, g, region, float(sigma)), batched)


def _sad(p, g, region):
    return _sum(np.abs(p - g), region) / 1000.0


def _grad(p, g, region, sigma):
    err = np.zeros_like(p)
    for i in range(p.shape[0]):
        if p[i].size:
            err[i] = (_gradient_magnitude(p[i], sigma) - _gradient_magnitude(g[i], sigma)) ** 2
    return _sum(err, region) / 1000.0


def _largest_components(masks: np.ndarray) -> np.ndarray:
    """For a (K, H, W) bool stack, the largest 4-connected component of each mask (first one on ties)."""
    from ._label import label

    labels, counts = label(np.ascontiguousarray(masks), connectivity=4, return_num=True, batch=True)
    out = np.zeros(masks.shape, dtype=bool)
    for k in range(masks.shape[0]):
        if counts[k] > 0:
            area = np.bincount(labels[k].ravel(), minlength=int(counts[k]) + 1)
            out[k] = labels[k] == int(np.argmax(area[1:])) + 1
    return out


def _connectivity_phi(p: np.ndarray, g: np.ndarray, step: float):
    # np.arange as in the evaluation code, including its rounding (0.6000000000000001, ...).
    steps = np.arange(0, 1 + step, step)
    omega = _largest_components((p[None] >= steps[1:, None, None]) & (g[None] >= steps[1:, None, None]))
    level = np.full(p.shape, -1.0)
    for i in range(1, len(steps)):
        level[(level == -1) & ~omega[i - 1]] = steps[i - 1]
    level[level == -1] = 1.0
    dp, dg = p - level, g - level
    return 1.0 - dp * (dp >= CONN_CUTOFF), 1.0 - dg * (dg >= CONN_CUTOFF)


def conn(pred, gt, trimap=None, step: float = CONN_STEP):
    """Connectivity error of Rhemann et al. / 1000 (threshold step 0.1, 4-connectivity, cutoff 0.15).

    A pixel's level is the last threshold at which it still belongs to the largest
    4-connected component of ``(pred >= t) & (gt >= t)``; the error sums
    ``|phi(pred) - phi(gt)|`` with ``phi(x) = 1 - d * (d >= 0.15)``, ``d = x - level``.

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte import metrics
    >>> g = np.zeros((20, 20), np.uint8); g[5:15, 5:15] = 255
    >>> p = g.copy(); p[0, 0] = 255          # a floating speck is disconnected
    >>> metrics.conn(g, g), metrics.conn(p, g)
    (0.0, 0.001)
    """
    if not 0.0 < float(step) <= 1.0:
        raise ValueError(f"step must be in (0, 1], got {step!r}")
    p, g, region, batched = _prepare(pred, gt, trimap)
    return _out(_conn(p, g, region, float(step)), batched)


def _conn(p, g, region, step):
    err = np.zeros_like(p)
    for i in range(p.shape[0]):
        if p[i].size:
            phi_p, phi_g = _connectivity_phi(p[i], g[i], step)
            err[i] = np.abs(phi_p - phi_g)
    return _sum(err, region) / 1000.0


def evaluate(pred, gt, trimap=None) -> dict:
    """All metrics at once: ``{"sad", "mse", "mad", "grad", "conn"}`` (floats, or arrays for a batch).

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte import metrics
    >>> g = np.zeros((16, 16), np.uint8); g[4:12, 4:12] = 255
    >>> metrics.evaluate(g, g)
    {'sad': 0.0, 'mse': 0.0, 'mad': 0.0, 'grad': 0.0, 'conn': 0.0}
    """
    p, g, region, batched = _prepare(pred, gt, trimap)
    values = {
        "sad": _sad(p, g, region),
        "mse": _mean((p - g) ** 2, region),
        "mad": _mean(np.abs(p - g), region),
        "grad": _grad(p, g, region, GRAD_SIGMA),
        "conn": _conn(p, g, region, CONN_STEP),
    }
    return {name: _out(v, batched) for name, v in values.items()}
