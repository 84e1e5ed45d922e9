"""Video matting on a synthetic moving portrait with ground truth: speed per stage and accuracy.

The clip (ldmatte.video.synthetic: a synthetic portrait moving over a panning
textured background) is written as a lossless video, then matted by
``ldmatte.video.matte_video`` from the first frame's ground-truth mask:

- ``stabilised``: the pipeline as shipped (the carried segmentation, trimaps, matting, stabilisation);
- ``per-frame``: the same with stabilisation off (strength 0): per-frame matting;
- baselines: the carried binary mask of the stabilised run and the ground truth thresholded at 0.5 (a
  perfect binary mask).

Accuracy: IoU of alpha > 0.5 with the ground truth on every frame (min and mean), SAD / MSE / Grad / Conn and
dtSSD through ``evaluate_video``. Speed: frames/s of each stage (seconds of that stage over the frames).

    python bench/video.py --size 320 --frames 48 --panel docs/images/video.png --json video.json
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import platform
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def _write_folder(folder: str, images) -> None:
    from ldmatte.io import write_png_atomic

    os.makedirs(folder, exist_ok=True)
    for i, im in enumerate(images):
        write_png_atomic(os.path.join(folder, f"{i:06d}.png"), im, durable=False)


def _run(video, out, first_mask, settings):
    from ldmatte.video.pipeline import matte_video

    frames = []
    t = time.perf_counter()
    res = matte_video(video, out, first_mask, settings, on_frame=frames.append)
    return res, frames, time.perf_counter() - t


def _accuracy(name, alphas, gt, gt_dir, work):
    from ldmatte.video.evaluate import evaluate_video

    folder = os.path.join(work, "eval-" + name)
    _write_folder(folder, alphas)
    ev = evaluate_video(folder, gt_dir)
    ious = [_iou(a > 127, g > 127) for a, g in zip(alphas, gt)]
    return {"method": name, "iou_min": min(ious), "iou_mean": float(np.mean(ious)), **ev["mean"]}


def _panel(clip, frames, path, picks):
    import cv2

    from ldmatte.io import write_png_atomic
    from ldmatte.panels import caption, composite, fit_width

    rows = []
    for i in picks:
        fr = frames[i]
        rgba = np.dstack([fr.frame, fr.alpha])
        err = np.abs(fr.alpha.astype(np.int16) - clip.alphas[i].astype(np.int16)).clip(0, 255).astype(np.uint8)
        tri = fr.trimap if fr.trimap is not None else np.zeros_like(fr.alpha)
        err_map = cv2.applyColorMap(255 - np.minimum(err * 4, 255).astype(np.uint8), cv2.COLORMAP_BONE)[..., ::-1]
        cells = [fr.frame, cv2.cvtColor(tri, cv2.COLOR_GRAY2RGB), cv2.cvtColor(fr.alpha, cv2.COLOR_GRAY2RGB),
                 composite(rgba), err_map]
        rows.append(np.concatenate(cells, axis=1))
    sheet = fit_width(np.concatenate(rows, axis=0), min(1200, 5 * clip.frames.shape[2]))
    sheet = caption(sheet, f"frames {', '.join(map(str, picks))}: source | trimap | alpha | composite | "
                           "error x4 (dark)")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_png_atomic(path, sheet)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=320, help="frame height and width (default 320)")
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default="closed-form", help="closed-form or a training run / checkpoint folder")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a setting of VideoMattingSettings (dotted, repeatable), in both runs: "
                    "background.history=0, detail_reach=0")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--panel", help="write a preview panel (PNG) here")
    args = ap.parse_args(argv)

    from _common import with_overrides
    from ldmatte.video.pipeline import VideoMattingSettings
    from ldmatte.video.carried import CarriedSegmenter
    from ldmatte.video.stabilise import StabiliseSettings
    from ldmatte.video.synthetic import make_video, write_video

    clip = make_video(args.frames, args.size, args.seed)
    work = tempfile.mkdtemp(prefix="ldmatte-bench-video-")
    video = os.path.join(work, "clip.mkv")
    write_video(video, clip.frames, fps=24)
    gt_dir = os.path.join(work, "gt")
    _write_folder(gt_dir, clip.alphas)

    base = with_overrides(VideoMattingSettings(model=args.model, formats=("png",)), args.set)
    res, frames, wall = _run(video, os.path.join(work, "stabilised"), clip.first_mask, base)
    plain = dataclasses.replace(base, stabilise=StabiliseSettings(strength=0.0))
    res_plain, frames_plain, wall_plain = _run(video, os.path.join(work, "per-frame"), clip.first_mask, plain)

    carried = CarriedSegmenter(clip.first_mask)
    t = time.perf_counter()
    for i, f in enumerate(clip.frames):
        carried.segment(f, i)
    t_alone = time.perf_counter() - t
    perfect = [np.where(a > 127, 255, 0).astype(np.uint8) for a in clip.alphas]

    gt = list(clip.alphas)
    rows = [
        _accuracy("stabilised (shipped)", [f.alpha for f in frames], gt, gt_dir, work),
        _accuracy("per-frame (no stabilisation)", [f.alpha for f in frames_plain], gt, gt_dir, work),
        _accuracy("carried mask (of the shipped run)", [f.mask for f in frames], gt, gt_dir, work),
        _accuracy("perfect binary mask (gt > 0.5)", perfect, gt, gt_dir, work),
    ]
    n = res.frames
    speed = {stage: (n / sec if sec > 0 else float("inf")) for stage, sec in res.seconds.items()}
    speed["whole run"] = n / wall
    speed["carried segmentation alone (flow + mask)"] = n / t_alone

    print(f"synthetic clip: {args.frames} frames of {args.size}x{args.size}, seed {args.seed}, "
          f"matting {res.info['matting']}, band {res.info['band_width']} px; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
          + (f"; settings changed: {', '.join(args.set)}" if args.set else ""))
    print("\n| method | IoU min | IoU mean | SAD | MSE x1e3 | Grad | Conn | dtSSD |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['method']} | {r['iou_min']:.4f} | {r['iou_mean']:.4f} | {r['sad']:.3f} | {r['mse'] * 1e3:.3f} | "
              f"{r['grad']:.3f} | {r['conn']:.3f} | {r['dtssd']:.3f} |")
    st, pf, pm = rows[0], rows[1], rows[2]
    checks = {
        "IoU >= 0.95 on every frame": st["iou_min"] >= 0.95,
        "SAD at least 30 % below the carried mask's": st["sad"] <= 0.7 * pm["sad"],
        "SAD below the perfect binary mask's": st["sad"] < rows[3]["sad"],
        "dtSSD below per-frame matting's": st["dtssd"] < pf["dtssd"],
    }
    print(f"\nSAD cut vs the carried mask: {100 * (1 - st['sad'] / pm['sad']):.1f} %; "
          f"dtSSD vs per-frame: {st['dtssd']:.3f} vs {pf['dtssd']:.3f} "
          f"({100 * (1 - st['dtssd'] / pf['dtssd']):.1f} % lower)")
    print("\n| stage | frames/s |")
    print("| --- | --- |")
    for stage, fps in speed.items():
        print(f"| {stage} | {fps:.1f} |")
    for name, ok in checks.items():
        print(f"check: {name}: {'yes' if ok else 'NO'}")
    if args.panel:
        picks = [0, n // 2, n - 1]
        _panel(clip, frames, args.panel, picks)
        print(f"panel: {args.panel}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"size": args.size, "frames": args.frames, "seed": args.seed, "rows": rows, "fps": speed,
                       "checks": checks, "band_width": res.info["band_width"]}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
