"""Video matting metrics: per-frame SAD, MSE, MAD, Grad and Conn, and dtSSD (temporal coherence).

Frames are paired between a prediction folder and a ground-truth folder by
name, or, when no name is common to both, in the natural order of their names
(``frame_2`` before ``frame_10``: ``000000.png`` pairs with DAVIS's
``00000.png``), and then both folders must hold the same number of frames.
Per-frame metrics are :mod:`ldmatte.metrics` (alpha in [0, 1]; SAD, Grad and
Conn are sums divided by 1000, MSE and MAD plain means) over the
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
from .reader import natural_key

__all__ = ["evaluate_video", "dtssd", "CONVENTION"]

CONVENTION = ("alpha in [0, 1], whole frame; frames paired by name, else in natural name order; SAD, Grad, Conn: "
              "sums / 1000; MSE, MAD: mean squared / absolute error (not scaled); dtSSD: RMS over pixels of the "
              "temporal-difference error x 100, mean over consecutive frame pairs")
SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
FRAME_METRICS = ("sad", "mse", "mad", "grad", "conn")


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


def _listing(folder: str) -> list[tuple[str, str]]:
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{folder}: no such folder")
    names = [n for n in os.listdir(folder) if n.lower().endswith(SUFFIXES) and not n.startswith(".")]
    return [(n, os.path.join(folder, n)) for n in sorted(names, key=natural_key)]


def _read_alpha(path: str) -> np.ndarray:
    from ..fileio.readwrite import imread

    im = imread(path, cv2.IMREAD_UNCHANGED)  # ImageReadError (a ValueError) names the file; a named pipe is refused
    if im.ndim == 3:
        im = im[..., 3] if im.shape[2] == 4 else cv2.cvtColor(im[..., :3], cv2.COLOR_BGR2GRAY)
    if im.dtype == np.uint16:
        return im.astype(np.float64) / 65535
    if im.dtype != np.uint8:
        raise ValueError(f"unsupported sample type {im.dtype}")
    return im.astype(np.float64) / 255


def _frame_pairs(pred_dir: str, gt_dir: str) -> list[tuple[str, str | None, str | None]]:
    """(name, prediction path, ground-truth path) in natural name order.

    Folders whose files share names (or one of them empty) pair by name (a
    frame missing on one side is None there); otherwise the k-th frame of each pairs, and the counts must
    match (ValueError before any frame is read).
    """
    pred, gt = _listing(pred_dir), _listing(gt_dir)
    by_name_p, by_name_g = dict(pred), dict(gt)
    if set(by_name_p) & set(by_name_g) or not pred or not gt:  # an empty side: every frame is missing there
        names = sorted(set(by_name_p) | set(by_name_g), key=natural_key)
        return [(n, by_name_p.get(n), by_name_g.get(n)) for n in names]
    if len(pred) != len(gt):
        raise ValueError(f"{pred_dir} holds {len(pred)} frames and {gt_dir} {len(gt)}, with no name in common: "
                         "frames pair in name order, so the counts must match")  # fmt: skip
    return [(p if p == g else f"{p} / {g}", pp, gp) for (p, pp), (g, gp) in zip(pred, gt)]


def evaluate_video(pred_dir, gt_dir) -> dict:
    """Per-frame SAD / MSE / MAD / Grad / Conn and the mean of each with dtSSD, frames paired in natural name order.

    Frames of the same name pair (one missing on either side is a failure);
    folders without a name in common (``000000.png`` against DAVIS's
    ``00000.png``) pair the k-th frame of ``pred_dir`` with the k-th of
    ``gt_dir`` in natural name order (:func:`natural_key`), and their counts
    must match (ValueError otherwise, before any frame is read). An alpha is
    the grey value of a one-channel image or the alpha of an RGBA one (8 or 16
    bits). Frames unreadable or of different sizes go to ``failures``; dtSSD
    uses consecutive frames that were both evaluated. Returns ``{"frames":
    [{"name", "sad", "mse", "mad", "grad", "conn"}, ...], "mean": {"sad", "mse", "mad", "grad", "conn",
    "dtssd"}, "failures": [{"name", "reason"}], "convention": str}`` (a frame's name is the prediction's, with
    the ground truth's after `` / `` when they differ; means are NaN when nothing could be evaluated).

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
    frames, failures = [], []
    prev = None  # (index, pred, gt) of the last evaluated frame
    pair_scores = []
    for i, (name, ppath, gpath) in enumerate(_frame_pairs(os.fspath(pred_dir), os.fspath(gt_dir))):
        if ppath is None or gpath is None:
            failures.append({"name": name, "reason": "no predicted alpha" if ppath is None else "no ground-truth "
                                                                                                "alpha"})
            continue
        try:
            p, g = _read_alpha(ppath), _read_alpha(gpath)
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
