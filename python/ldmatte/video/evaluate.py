"""Video matting metrics: per-frame SAD, MSE, Grad and Conn, and dtSSD (temporal coherence).

Frames are paired by sorted file name between a prediction folder and a
ground-truth folder. Per-frame metrics are :mod:`ldmatte.metrics` (alpha in
[0, 1]; SAD, Grad and Conn are sums divided by 1000, MSE a plain mean) over the
whole frame. dtSSD (Erofeev et al. 2015) compares temporal changes: for each
pair of consecutive frames, the root mean square over pixels of
``(p_t - p_{t-1}) - (g_t - g_{t-1})``, times 100; the mean is over the pairs.
"""
from __future__ import annotations

import math
import os

import cv2
import numpy as np

from .. import metrics

__all__ = ["evaluate_video", "dtssd", "CONVENTION"]

CONVENTION = ("alpha in [0, 1], whole frame; SAD, Grad, Conn: sums / 1000; MSE: mean squared error (not scaled); "
              "dtSSD: RMS over pixels of the temporal-difference error x 100, mean over consecutive frame pairs")
SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
FRAME_METRICS = ("sad", "mse", "grad", "conn")


def dtssd(pred_prev, pred, gt_prev, gt) -> float:
    """dtSSD of one pair of consecutive frames (uint8 or float alphas in [0, 1]).

    Examples
    --------
    >>> import numpy as np
    >>> g0, g1 = np.zeros((2, 2)), np.ones((2, 2))
    >>> dtssd(g0, g1, g0, g1)  # the prediction changes exactly as the truth does
    0.0
    >>> dtssd(g0, g0, g0, g1)  # it stays put while the truth flips
    100.0
    """
    p0, p1, g0, g1 = (metrics._as_unit(x, n) for x, n in ((pred_prev, "pred_prev"), (pred, "pred"),
                                                          (gt_prev, "gt_prev"), (gt, "gt")))  # fmt: skip
    shapes = {p0.shape, p1.shape, g0.shape, g1.shape}
    if len(shapes) != 1:
        raise ValueError(f"all four alphas must have the same shape, got {sorted(shapes)}")
    return float(math.sqrt(np.mean(((p1 - p0) - (g1 - g0)) ** 2)) * 100)


def _listing(folder: str) -> dict[str, str]:
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{folder}: no such folder")
    return {n: os.path.join(folder, n) for n in sorted(os.listdir(folder))
            if n.lower().endswith(SUFFIXES) and not n.startswith(".")}  # fmt: skip


def _read_alpha(path: str) -> np.ndarray:
    im = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if im is None:
        raise ValueError("not a readable image")
    if im.ndim == 3:
        im = im[..., 3] if im.shape[2] == 4 else cv2.cvtColor(im[..., :3], cv2.COLOR_BGR2GRAY)
    if im.dtype == np.uint16:
        return im.astype(np.float64) / 65535
    if im.dtype != np.uint8:
        raise ValueError(f"unsupported sample type {im.dtype}")
    return im.astype(np.float64) / 255


def evaluate_video(pred_dir, gt_dir) -> dict:
    """Per-frame SAD / MSE / Grad / Conn and the mean of each with dtSSD, pairing frames by sorted file name.

    An alpha is the grey value of a one-channel image or the alpha of an RGBA
    one (8 or 16 bits). Frames missing on either side, unreadable or of
    different sizes go to ``failures``; dtSSD uses consecutive frames that were
    both evaluated. Returns ``{"frames": [{"name", "sad", "mse", "grad", "conn"}, ...],
    "mean": {"sad", "mse", "grad", "conn", "dtssd"}, "failures": [{"name", "reason"}], "convention": str}``
    (means are NaN when nothing could be evaluated).

    Examples
    --------
    >>> import os, tempfile, numpy as np, cv2
    >>> pred, gt = tempfile.mkdtemp(), tempfile.mkdtemp()
    >>> for i in range(2):
    ...     g = np.zeros((10, 100), np.uint8); g[:, : 50 * i] = 255
    ...     _ = cv2.imwrite(os.path.join(gt, f"{i}.png"), g)
    ...     _ = cv2.imwrite(os.path.join(pred, f"{i}.png"), np.zeros_like(g))
    >>> r = evaluate_video(pred, gt)
    >>> [f["sad"] for f in r["frames"]], r["mean"]["sad"], round(r["mean"]["dtssd"], 2)
    ([0.0, 0.5], 0.25, 70.71)
    """
    pred_files, gt_files = _listing(os.fspath(pred_dir)), _listing(os.fspath(gt_dir))
    frames, failures = [], []
    prev = None  # (index in the sorted union, pred, gt) of the last evaluated frame
    pair_scores = []
    names = sorted(set(pred_files) | set(gt_files))
    for i, name in enumerate(names):
        if name not in pred_files:
            failures.append({"name": name, "reason": "no predicted alpha"})
            continue
        if name not in gt_files:
            failures.append({"name": name, "reason": "no ground-truth alpha"})
            continue
        try:
            p, g = _read_alpha(pred_files[name]), _read_alpha(gt_files[name])
        except ValueError as exc:
            failures.append({"name": name, "reason": str(exc)})
            continue
        if p.shape != g.shape:
            failures.append({"name": name, "reason": f"size {p.shape[1]}x{p.shape[0]} differs from the ground "
                                                     f"truth's {g.shape[1]}x{g.shape[0]}"})  # fmt: skip
            continue
        values = metrics.evaluate(p, g)
        frames.append({"name": name, **{k: float(values[k]) for k in FRAME_METRICS}})
        if prev is not None and prev[0] == i - 1 and prev[1].shape == p.shape:
            pair_scores.append(dtssd(prev[1], p, prev[2], g))
        prev = (i, p, g)
    mean = {k: (float(np.mean([f[k] for f in frames])) if frames else math.nan) for k in FRAME_METRICS}
    mean["dtssd"] = float(np.mean(pair_scores)) if pair_scores else math.nan
    return {"frames": frames, "mean": mean, "failures": failures, "convention": CONVENTION}
