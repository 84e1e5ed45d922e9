"""Metrics of predicted mattes against ground truth, over folders or a benchmark layout (``ldmatte eval``).

Files pair by name stem (``a.png`` with ``a.jpg``); two files of one stem in
a folder (``a.png`` and ``a.jpg``) are a failure of that image, never a silent
choice. A matte file may be grayscale (8 or 16 bit), colour (its gray value) or
RGBA (its alpha). Metrics are those of :mod:`ldmatte.metrics`: alphas in
[0, 1]; SAD, Grad and Conn are sums divided by 1000; MSE and MAD are means over
the region; the region is the whole image or the trimap's unknown pixels
(trimaps: 0 background, 255 foreground, any other value unknown). An image
whose trimap has no unknown pixel has nothing to score: it is listed in
``skipped`` and left out of the means.
"""
from __future__ import annotations

import os

import numpy as np

from ..dataset.composite_trimap import IMAGE_EXTENSIONS
from .benchmarks import BenchmarkItem, _u8, benchmark_items, item_trimap, read_matte, read_trimap

__all__ = ["evaluate_folders", "trimap_only_metrics", "read_matte", "CONVENTION", "EvalPair"]

CONVENTION = ("alphas in [0, 1] (8-bit / 255, 16-bit / 65535); SAD, Grad, Conn = sums / 1000 per image; MSE, MAD = "
              "means over the region (tables print them x1e3); Grad: Gaussian-derivative filters sigma 1.4; Conn: "
              "threshold step 0.1, largest 4-connected component, 0.15 cutoff; region: {region}")  # fmt: skip
REGIONS = ("whole", "unknown")
UNKNOWN_REGION = "unknown pixels of the trimap (0 background, 255 foreground, any other value unknown)"


class _NothingToScore(Exception):
    """The trimap of an image has no unknown pixel: the image is skipped, not scored 0."""


class EvalPair:
    """A prediction, its ground truth and its trimap (a path, or None)."""

    def __init__(self, name, pred, gt, trimap=None, benchmark_item: BenchmarkItem | None = None):
        self.name, self.pred, self.gt, self.trimap, self.item = name, pred, gt, trimap, benchmark_item


def _one(pair: EvalPair, region: str) -> dict:
    from .. import metrics

    pred, gt = read_matte(pair.pred), read_matte(pair.gt)
    if pred.shape != gt.shape:
        raise ValueError(f"size differs: prediction {pred.shape[1]}x{pred.shape[0]}, ground truth "
                         f"{gt.shape[1]}x{gt.shape[0]} (W x H)")  # fmt: skip
    tri = None
    if region == "unknown":
        if pair.item is not None:
            tri = item_trimap(pair.item, _u8(gt))
        else:
            tri = read_trimap(pair.trimap)
        if tri.shape != gt.shape:
            raise ValueError(f"trimap size {tri.shape[1]}x{tri.shape[0]} differs from the matte's "
                             f"{gt.shape[1]}x{gt.shape[0]}")  # fmt: skip
        if not (tri == 128).any():
            raise _NothingToScore("trimap has no unknown pixel: nothing to score, left out of the mean")
    values = metrics.evaluate(pred, gt, tri)
    row = {"name": pair.name, **{k: float(v) for k, v in values.items()}}
    if tri is not None:
        row["unknown_pixels"] = int((tri == 128).sum())
    return row


def _files_by_stem(folder: str, clashes: dict) -> dict[str, str]:
    """Image files of ``folder`` by name stem; a stem with several files (``a.png``, ``a.jpg``) goes to
    ``clashes`` (stem -> reason) instead: which one is meant cannot be told."""
    found, names = {}, {}
    for name in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(name)
        if ext.lower() in IMAGE_EXTENSIONS and not name.startswith("."):
            found.setdefault(stem, os.path.join(folder, name))
            names.setdefault(stem, []).append(name)
    for stem, files in names.items():
        if len(files) > 1:
            clashes.setdefault(stem, f"{' and '.join(files)} both in {folder}: cannot tell which to use; keep one")
            del found[stem]
    return found


def _pairs(pred_dir, gt_dir, trimap_dir, benchmark, region):
    failures, clashes = [], {}
    if not os.path.isdir(pred_dir):
        raise ValueError(f"no such prediction folder: {pred_dir}")
    preds = _files_by_stem(pred_dir, clashes)
    if benchmark is not None:
        items, problems = benchmark_items(*benchmark)
        failures += [{"name": n, "reason": r} for n, r in problems]
        truth = {it.name: it for it in items}
        gt_where = f"benchmark {benchmark[0]}"
    else:
        if not os.path.isdir(gt_dir):
            raise ValueError(f"no such ground-truth folder: {gt_dir}")
        truth = _files_by_stem(gt_dir, clashes)
        gt_where = gt_dir
    trimaps = _files_by_stem(trimap_dir, clashes) if trimap_dir else {}
    pairs = []
    for name in sorted(set(truth) | set(preds) | set(clashes)):
        if name in clashes:
            failures.append({"name": name, "reason": clashes[name]})
        elif name not in truth:
            failures.append({"name": name, "reason": f"no ground truth in {gt_where}"})
        elif name not in preds:
            failures.append({"name": name, "reason": f"no prediction in {pred_dir}"})
        elif benchmark is not None:
            pairs.append(EvalPair(name, preds[name], truth[name].gt, None, truth[name]))
        elif region == "unknown" and name not in trimaps:
            failures.append({"name": name, "reason": f"no trimap in {trimap_dir}"})
        else:
            pairs.append(EvalPair(name, preds[name], truth[name], trimaps.get(name)))
    return pairs, failures


def evaluate_folders(pred_dir, gt_dir=None, *, trimap_dir=None, benchmark=None, region=None,
                     progress: bool = False) -> dict:  # fmt: skip
    """Per-image metrics and their means.

    Parameters
    ----------
    pred_dir : path
        Predicted mattes.
    gt_dir : path
        Ground-truth mattes (or ``benchmark`` instead).
    trimap_dir : path, optional
        Trimaps (0 / 128 / 255) for ``region="unknown"``.
    benchmark : (name, root), optional
        A public benchmark layout (:data:`ldmatte.matting.benchmarks.BENCHMARKS`): ground truth and trimaps.
    region : "whole" or "unknown", optional
        Default: "unknown" when trimaps are available (a benchmark, or ``trimap_dir``), else "whole".
        Trimaps: 0 background, 255 foreground, any other value unknown; one
        holding only values 0 to 2 (a label map) is a failure of its image.

    Returns
    -------
    dict
        ``{"convention", "region", "count", "images": [{"name", "sad", "mse", "mad", "grad", "conn"}, ...],
        "mean": {...}, "failures": [{"name", "reason"}, ...], "skipped": [{"name", "reason"}, ...]}``; a
        failure is a missing or unreadable file, a size mismatch or two files of one name stem, the other
        images are still evaluated; an image whose trimap has no unknown pixel is skipped (not a failure,
        not in the means).

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from ldmatte.io import write_png_atomic
    >>> from ldmatte.matting import evaluate_folders
    >>> root = tempfile.mkdtemp(); p, g = os.path.join(root, "p"), os.path.join(root, "g")
    >>> os.makedirs(p); os.makedirs(g)
    >>> write_png_atomic(os.path.join(p, "a.png"), np.full((10, 100), 255, np.uint8))
    >>> write_png_atomic(os.path.join(g, "a.png"), np.zeros((10, 100), np.uint8))
    >>> r = evaluate_folders(p, g)
    >>> r["region"], r["mean"]["sad"], r["failures"]
    ('whole', 1.0, [])
    """
    from tqdm import tqdm

    if (gt_dir is None) == (benchmark is None):
        raise ValueError("give a ground-truth folder or a benchmark, not both")
    has_trimaps = benchmark is not None or trimap_dir is not None
    region = region or ("unknown" if has_trimaps else "whole")
    if region not in REGIONS:
        raise ValueError(f"region must be one of {REGIONS}, got {region!r}")
    if region == "unknown" and not has_trimaps:
        raise ValueError("region 'unknown' needs trimaps: give a trimap folder or a benchmark")
    if trimap_dir is not None and not os.path.isdir(trimap_dir):
        raise ValueError(f"no such trimap folder: {trimap_dir}")
    pairs, failures = _pairs(os.fspath(pred_dir), gt_dir and os.fspath(gt_dir), trimap_dir, benchmark, region)
    rows, skipped = [], []
    for pair in tqdm(pairs, unit="img", desc="eval", disable=not progress):
        try:
            rows.append(_one(pair, region))
        except _NothingToScore as exc:
            skipped.append({"name": pair.name, "reason": str(exc)})
        except ValueError as exc:
            failures.append({"name": pair.name, "reason": str(exc)})
    from ..metrics import METRICS

    with np.errstate(all="ignore"):
        mean = {k: (float(np.nanmean([r[k] for r in rows])) if rows and not all(np.isnan(r[k]) for r in rows)
                    else float("nan")) for k in METRICS}  # fmt: skip
    failures.sort(key=lambda f: f["name"])
    return {"convention": CONVENTION.format(region="whole image" if region == "whole" else UNKNOWN_REGION),
            "region": region, "count": len(rows), "images": rows, "mean": mean, "failures": failures,
            "skipped": skipped}  # fmt: skip


def trimap_only_metrics(benchmark) -> dict:
    """Mean metrics (unknown region) of the trimap-only baseline on a benchmark: known regions as the
    trimap says, exactly 0.5 in the unknown region. What a model must beat to have learned anything."""
    from .. import metrics
    from .predictor import trimap_only

    items, _ = benchmark_items(*benchmark)
    rows = []
    for it in items:
        gt = read_matte(it.gt)
        tri = item_trimap(it, _u8(gt))
        rows.append(metrics.evaluate(trimap_only(tri), gt, tri))
    return {k: float(np.nanmean([r[k] for r in rows])) for k in metrics.METRICS}
