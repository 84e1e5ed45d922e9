"""Side-by-side statistics of two dataset builds without ground truth (``ldmatte compare``).

Made for the two routes to portrait mattes — Layer Diffusion + refinement, and
generation over a green screen + chroma keying — built from the same prompts,
but it compares any two dataset folders (``fg/``, ``alpha/``,
``manifest.jsonl``, see :mod:`ldmatte.dataset.layout`). Per sample it
measures what reveals each route's failures:

- **green tint** of the foreground where it matters, the edge band (pixels with
  0 < alpha < 255, and the subject's pixels within ``EDGE_PX`` of its
  silhouette): the alpha-weighted mean of ``G - max(R, B)`` and the share of
  band pixels where it exceeds ``TINT_LEVELS`` (spill left by the keyer);
- **translucent background left**: the share of the image with 0 < alpha < 255
  farther than ``FAR_FRACTION`` of the shorter side from the subject (alpha >=
  128) — haze, keyed-backing noise;
- the shares of alpha = 0, alpha = 255 and in between;

and per dataset the kept / rejected counts and quality-control rejections by
reason (from the manifests). Samples are paired by id (the same prompt and seed
in both builds), or by prompt text when the ids differ.

Examples
--------
>>> import numpy as np
>>> from ldmatte.keying.compare import sample_stats
>>> rgba = np.zeros((64, 64, 4), np.uint8); rgba[16:48, 16:48] = (120, 200, 100, 255)
>>> s = sample_stats(rgba)
>>> round(s["tint_mean"]), s["tinted_share"], s["far_translucent_share"]
(80, 1.0, 0.0)
"""
from __future__ import annotations

import collections
import dataclasses
import json
import os
import time

import cv2
import numpy as np

__all__ = ["EDGE_PX", "TINT_LEVELS", "FAR_FRACTION", "sample_stats", "compare_datasets", "CompareResult"]

EDGE_PX = 3
TINT_LEVELS = 8
FAR_FRACTION = 0.03
KIND = "compare"
STATS = ("tint_mean", "tinted_share", "far_translucent_share", "transparent_share", "translucent_share",
         "opaque_share")


def sample_stats(rgba: np.ndarray) -> dict:
    """The per-sample measures of one (H, W, 4) uint8 RGBA (see the module docstring)."""
    rgb, a = rgba[..., :3].astype(np.int32), rgba[..., 3]
    h, w = a.shape
    visible = (a > 0).view(np.uint8) if a.dtype == np.uint8 else (a > 0).astype(np.uint8)
    depth = cv2.distanceTransform(np.pad(visible, 1, constant_values=0), cv2.DIST_L2, 3)[1:-1, 1:-1]
    band = (a > 0) & ((a < 255) | (depth <= EDGE_PX))
    excess = rgb[..., 1] - np.maximum(rgb[..., 0], rgb[..., 2])
    wgt = a[band].astype(np.float64)
    tint = float((excess[band] * wgt).sum() / wgt.sum()) if wgt.sum() else 0.0
    tinted = float((excess[band] > TINT_LEVELS).mean()) if band.any() else 0.0
    subject = (a >= 128).astype(np.uint8)
    translucent = (a > 0) & (a < 255)
    if subject.any():
        far = cv2.distanceTransform(1 - subject, cv2.DIST_L2, 3) > FAR_FRACTION * min(h, w)
    else:
        far = np.ones_like(translucent)
    n = float(a.size)
    return dict(tint_mean=tint, tinted_share=tinted, far_translucent_share=float((translucent & far).sum() / n),
                transparent_share=float((a == 0).sum() / n), translucent_share=float(translucent.sum() / n),
                opaque_share=float((a == 255).sum() / n))


@dataclasses.dataclass
class CompareResult:
    """What :func:`compare_datasets` found: per-dataset ``summary``, ``pairs`` compared, ``failures``."""

    summary: dict
    pairs: list
    failures: list
    seconds: float


def _entries(root):
    from ..dataset.manifest import read_manifest

    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: no such dataset folder")
    entries = read_manifest(root)
    if not entries:
        raise ValueError(f"{root}: no manifest.jsonl with samples (is it a dataset folder made by ldmatte build?)")
    return entries


def _pairs(a: dict, b: dict):
    common = [i for i in a if i in b]
    if common:
        return [(i, a[i], b[i]) for i in common], "id"
    by_prompt = {}
    for e in b.values():
        by_prompt.setdefault(e.get("prompt"), e)
    pairs = [(e["id"], e, by_prompt[e.get("prompt")]) for e in a.values() if e.get("prompt") in by_prompt]
    return pairs, "prompt"


def _rejections(entries: dict) -> dict:
    reasons = collections.Counter()
    for e in entries.values():
        if e.get("status") == "rejected":
            reasons.update((e.get("qc") or {}).get("reasons") or ["(no reason recorded)"])
    return dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))


def _summary(label, root, entries, stats: list) -> dict:
    status = collections.Counter(e.get("status", "?") for e in entries.values())
    out = dict(label=label, folder=os.path.abspath(root), samples=len(entries), kept=status.get("kept", 0),
               rejected=status.get("rejected", 0), rejections=_rejections(entries), measured=len(stats))
    for k in STATS:
        vals = np.array([s[k] for s in stats], np.float64)
        out[k] = dict(mean=float(vals.mean()), median=float(np.median(vals))) if len(vals) else None
    return out


def compare_datasets(root_a, root_b, outdir, *, labels=("A", "B"), sheet_limit: int = 200, workers=None,
                     progress: bool = True, stop=None, thumb_width: int = 200) -> CompareResult:
    """Measure both datasets' samples, write ``compare.json``, ``compare.md`` and ``index.html`` into ``outdir``.

    Every sample with files is measured (kept and rejected); the sheet shows
    the first ``sheet_limit`` pairs, A and B side by side. ``outdir`` must be
    claimed by the caller (:meth:`ldmatte.files.OutputFolder.claim`).
    """
    from ..fileio import readwrite as io
    from ..batch import ThreadExecutor, default_workers, run_items
    from ..dataset.layout import read_sample
    from ..review.panels import composite

    start = time.perf_counter()
    ea, eb = _entries(root_a), _entries(root_b)
    pairs, paired_by = _pairs(ea, eb)
    shown = {pid for pid, _, _ in pairs[:sheet_limit]}
    thumbs_dir = os.path.join(outdir, "_sheet")
    os.makedirs(thumbs_dir, exist_ok=True)
    io.remove_stale_temps(outdir)
    items = [(0, e) for e in ea.values()] + [(1, e) for e in eb.values()]
    pair_of = [{a["id"]: pid for pid, a, _ in pairs}, {b["id"]: pid for pid, _, b in pairs}]
    roots = (root_a, root_b)

    def work(item):
        side, entry = item
        rgba = read_sample(roots[side], entry)
        stats = sample_stats(rgba)
        pid = pair_of[side].get(entry["id"])
        thumbs = {}
        if pid in shown:
            h, w = rgba.shape[:2]
            size = (min(w, thumb_width), max(1, round(h * min(w, thumb_width) / w)))
            small = cv2.resize(cv2.cvtColor(rgba, cv2.COLOR_RGBA2mRGBA), size, interpolation=cv2.INTER_AREA)
            straight = cv2.cvtColor(small, cv2.COLOR_mRGBA2RGBA)
            for kind, img in (("composite", composite(straight, 8)), ("alpha", small[..., 3])):
                rel = f"_sheet/{'ab'[side]}-{_safe(pid)}.{kind}.png"
                io.write_png_atomic(os.path.join(outdir, rel), img, durable=False)
                thumbs[kind] = rel
        return stats, thumbs

    results = [{}, {}]
    workers = max(1, min(workers or default_workers(8), len(items) or 1))
    report = run_items(items, work, name=lambda it: f"{roots[it[0]]}: sample {it[1]['id']}",
                       on_result=lambda it, v: results[it[0]].__setitem__(it[1]["id"], v),
                       executor=ThreadExecutor(workers), total=len(items), desc="compare", progress=progress,
                       stop=stop)
    summary = dict(paired_by=paired_by, pairs=len(pairs),
                   datasets=[_summary(labels[i], roots[i], (ea, eb)[i], [s for s, _ in results[i].values()])
                             for i in (0, 1)])
    pair_rows = []
    for pid, a, b in pairs:
        ra, rb = results[0].get(a["id"]), results[1].get(b["id"])
        pair_rows.append(dict(id=pid, prompt=a.get("prompt") or b.get("prompt"), status=[a.get("status"),
                              b.get("status")], reasons=[(a.get("qc") or {}).get("reasons", []),
                                                         (b.get("qc") or {}).get("reasons", [])],
                              stats=[ra[0] if ra else None, rb[0] if rb else None],
                              thumbnails=[ra[1] if ra else {}, rb[1] if rb else {}]))
    failures = [f.to_dict() for f in report.failures]
    result = CompareResult(summary, pair_rows, failures, time.perf_counter() - start)
    result.stopped = report.stopped
    result.interrupted = report.interrupted
    _write(outdir, result, sheet_limit)
    return result


def _safe(pid: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in str(pid))[:100]


def markdown(summary: dict) -> str:
    """The side-by-side table of two dataset summaries."""
    a, b = summary["datasets"]
    pct = lambda d, k, f="mean": "—" if d[k] is None else f"{100 * d[k][f]:.2f} %"  # noqa: E731
    lv = lambda d, k: "—" if d[k] is None else f"{d[k]['mean']:.1f}"  # noqa: E731
    rows = [("samples (kept / rejected)", f"{a['samples']} ({a['kept']} / {a['rejected']})",
             f"{b['samples']} ({b['kept']} / {b['rejected']})"),
            ("green tint in the edge band, mean G - max(R, B) (levels)", lv(a, "tint_mean"), lv(b, "tint_mean")),
            (f"edge-band pixels tinted (> {TINT_LEVELS} levels), mean", pct(a, "tinted_share"),
             pct(b, "tinted_share")),
            ("translucent background far from the subject, mean share of image", pct(a, "far_translucent_share"),
             pct(b, "far_translucent_share")),
            ("0 < alpha < 255, mean share of image", pct(a, "translucent_share"), pct(b, "translucent_share")),
            ("alpha = 0 / alpha = 255, mean share", f"{pct(a, 'transparent_share')} / {pct(a, 'opaque_share')}",
             f"{pct(b, 'transparent_share')} / {pct(b, 'opaque_share')}")]
    for reason in sorted(set(a["rejections"]) | set(b["rejections"])):
        rows.append((f"rejected by QC: {reason}", str(a["rejections"].get(reason, 0)),
                     str(b["rejections"].get(reason, 0))))
    lines = [f"| measure | {a['label']} | {b['label']} |", "|---|---|---|"]
    lines += [f"| {m} | {x} | {y} |" for m, x, y in rows]
    return "\n".join(lines) + f"\n\n{summary['pairs']} samples paired by {summary['paired_by']}.\n"


def _write(outdir, result: CompareResult, sheet_limit: int) -> None:
    from ..fileio import readwrite as io
    from .sheet import write_rows_sheet

    payload = dict(summary=result.summary, pairs=result.pairs, failures=result.failures,
                   seconds=round(result.seconds, 3))
    io.write_json_atomic(os.path.join(outdir, "compare.json"), payload)
    md = markdown(result.summary)
    io.write_bytes_atomic(os.path.join(outdir, "compare.md"), md.encode("utf-8"))
    labels = [d["label"] for d in result.summary["datasets"]]
    rows = []
    for p in result.pairs[:sheet_limit]:
        stats = [("prompt", p.get("prompt") or "—")]
        for i, lab in enumerate(labels):
            s = p["stats"][i]
            status = p["status"][i] + (f" ({', '.join(p['reasons'][i])})" if p["reasons"][i] else "")
            stats.append((f"{lab}", status))
            if s:
                stats.append((f"{lab} tint / far translucent",
                              f"{s['tint_mean']:.1f} / {100 * s['far_translucent_share']:.2f} %"))
        imgs = []
        for i, lab in enumerate(labels):
            t = p["thumbnails"][i]
            imgs += [(f"{lab}: composite", t.get("composite")), (f"{lab}: alpha", t.get("alpha"))]
        rows.append(dict(title=str(p["id"]), stats=stats, images=imgs))
    a, b = result.summary["datasets"]
    lines = [f"{a['label']}: {a['folder']}", f"{b['label']}: {b['folder']}",
             f"{result.summary['pairs']} pairs (by {result.summary['paired_by']}); the first {min(sheet_limit, len(result.pairs))} shown"]
    write_rows_sheet(os.path.join(outdir, "index.html"), "ldmatte compare", lines, rows, result.failures)
