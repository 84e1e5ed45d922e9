"""Video matting speed by stage at 480p, 720p and 1080p: full resolution against the working resolution.

Each clip is scaled to 854x480, 1280x720 and 1920x1080 (16:9; the real clip is
upscaled, so its 1080p holds no more detail than its source) and written as H.264,
then matted by ``ldmatte.video.matte_video`` from its first-frame mask
(propagated with optical flow, as ``ldmatte video --mask`` does) twice in the same
process: at full resolution (``max_pixels=0``, the pipeline as it was) and at the
working resolution (the default ``max_pixels``, alpha brought to full size by the
guided filter). Outputs: the command's default formats (alpha and RGBA PNGs, preview).

- ``chair``: the real clip (720x480, a mask on every frame) in ``../shared/data/video/``; accuracy is the mean
  IoU of alpha > 0.5 with its masks (scaled to each size).
- ``synthetic``: ``ldmatte.video.synthetic.make_video`` rendered at each size; accuracy is SAD (/1000) and the
  mean IoU against its ground truth.

Frames/s by stage (wall clock of that stage over the frames), of the whole run (wall), and from the process's
CPU seconds (on a machine shared with other jobs the wall clock stretches while the CPU time does not; a
stage that uses both cores counts twice in it). ``--json`` writes the figures.

    python bench/video_speed.py --frames 12 --sizes 480,720,1080 --clips chair,synthetic --json speed.json
"""
from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import os
import pathlib
import platform
import sys
import tempfile
import time

import cv2
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
VIDEO_DATA = pathlib.Path(os.environ.get("LDMATTE_VIDEO_DATA", ROOT.parent / "shared" / "data" / "video"))
SIZES = {480: (854, 480), 720: (1280, 720), 1080: (1920, 1080)}


def _chair(n: int):
    """(frames at 720x480, masks) of the real clip, or None when the data is absent."""
    from PIL import Image

    frames = sorted(glob.glob(str(VIDEO_DATA / "chair" / "frames" / "*.jpg")))[:n]
    masks = sorted(glob.glob(str(VIDEO_DATA / "chair" / "masks" / "*.png")))[:n]
    if not frames or len(masks) < len(frames):
        return None
    rgb = [cv2.cvtColor(cv2.imread(f), cv2.COLOR_BGR2RGB) for f in frames]
    # Palette masks: id 1 is the chair.
    return rgb, [np.where(np.array(Image.open(m)) == 1, 255, 0).astype(np.uint8) for m in masks]


def _inputs(clip: str, n: int, size: tuple[int, int], work: str):
    """(video path, first mask, ground truth alphas at that size) for one clip at one size."""
    from ldmatte.video.synthetic import make_video, write_video

    w, h = size
    if clip == "synthetic":
        c = make_video(n, (h, w), seed=0)
        frames, truth = c.frames, list(c.alphas)
    else:
        data = _chair(n)
        if data is None:
            return None
        frames = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_CUBIC) for f in data[0]])
        truth = [cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST) for m in data[1]]
    path = os.path.join(work, f"{clip}-{h}.mp4")
    write_video(path, frames, fps=25)
    return path, np.where(truth[0] > 127, 255, 0).astype(np.uint8), truth


def _run(path, first_mask, truth, out, max_pixels):
    from ldmatte.video.pipeline import VideoMattingSettings, matte_video

    fields = {f.name for f in dataclasses.fields(VideoMattingSettings)}
    extra = {"max_pixels": max_pixels} if "max_pixels" in fields else {}
    settings = VideoMattingSettings(formats=("png", "preview"), **extra)
    alphas = []
    t, c = time.perf_counter(), time.process_time()
    res = matte_video(path, out, first_mask, settings, on_frame=lambda f: alphas.append(f.alpha))
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    n = res.frames
    ious = [float(((a > 127) & (g > 127)).sum() / max(1, ((a > 127) | (g > 127)).sum())) for a, g in zip(alphas, truth)]
    sad = float(np.mean([np.abs(a / 255.0 - g / 255.0).sum() / 1000 for a, g in zip(alphas, truth)]))
    return {"frames": n, "fps": {k: n / v for k, v in res.seconds.items() if v > 0}, "wall_fps": n / wall,
            "cpu_fps": n / cpu, "iou_mean": float(np.mean(ious)), "iou_min": float(np.min(ious)), "sad": sad,
            "working_size": res.info.get("working_size", [res.info["width"], res.info["height"]])}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--sizes", default="480,720,1080",
                    help="comma list of frame heights (16:9; 480 is 854x480)")
    ap.add_argument("--clips", default="chair,synthetic", help="comma list of chair, synthetic")
    ap.add_argument("--modes", default="full,working",
                    help="comma list of full (max_pixels 0), working (the default max_pixels) or a pixel count "
                         "(another max_pixels); full,working by default")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="stage times by the wall clock (default) or by the main thread's CPU time (steadier on a "
                         "shared machine; the writer thread's work then shows only in the whole run's CPU time)")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)

    try:
        from ldmatte.video.upsample import MAX_PIXELS
    except ImportError:  # a version without a working resolution (a baseline): full size only
        MAX_PIXELS = None

    if args.clock == "cpu":
        import types

        import ldmatte.video.pipeline as pipeline

        # The pipeline times its stages with time.perf_counter(); give it the main thread's CPU clock instead.
        pipeline.time = types.SimpleNamespace(perf_counter=time.thread_time)
    work = tempfile.mkdtemp(prefix="ldmatte-bench-video-speed-")
    warm = _inputs("synthetic", 3, (96, 64), work)  # compiles the JIT kernels before anything is timed
    _run(*warm, os.path.join(work, "warm-up"), 0)
    modes = {"full": 0, "working": MAX_PIXELS}
    rows = []
    print(f"{args.frames} frames a clip, stage clock {args.clock}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs; "
          f"load average {os.getloadavg()[0]:.1f} at the start")
    for clip in [c.strip() for c in args.clips.split(",") if c.strip()]:
        for height in [int(s) for s in args.sizes.split(",") if s.strip()]:
            size = SIZES.get(height, (2 * round(height * 8 / 9), height))
            made = _inputs(clip, args.frames, size, work)
            if made is None:
                print(f"{clip}: data not found under {VIDEO_DATA}, skipped")
                break
            path, first, truth = made
            for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
                max_pixels = modes[mode] if mode in modes else int(mode)
                if max_pixels is None:
                    continue
                r = _run(path, first, truth, os.path.join(work, f"out-{clip}-{height}-{mode}"), max_pixels)
                rows.append({"clip": clip, "size": f"{size[0]}x{size[1]}", "mode": mode, **r})
                print(f"{clip} {height}p {mode}: {r['wall_fps']:.2f} frames/s (CPU {r['cpu_fps']:.2f}), IoU "
                      f"{r['iou_mean']:.3f}, SAD {r['sad']:.2f}", flush=True)
    stages = [s for s in ("decode", "flow", "segment", "trimap", "matting", "stabilise", "upsample", "write")
              if any(s in r["fps"] for r in rows)]  # fmt: skip
    print("\n| clip | size | mode (working size) | " + " | ".join(stages) + " | whole run | from CPU time | IoU mean "
          "| IoU min | SAD |")
    print("| --- " * (len(stages) + 8) + "|")
    for r in rows:
        # A stage that did nothing (no upsampling at full size) shows a dash, not its clock's noise.
        cells = [f"{r['fps'][s]:.1f}" if r["fps"].get(s, 1e9) < 1e4 else "—" for s in stages]
        print(f"| {r['clip']} | {r['size']} | {r['mode']} ({r['working_size'][0]}x{r['working_size'][1]}) | "
              + " | ".join(cells) + f" | **{r['wall_fps']:.2f}** | {r['cpu_fps']:.2f} | {r['iou_mean']:.3f} | "
              f"{r['iou_min']:.3f} | {r['sad']:.2f} |")
    for clip, size in {(r["clip"], r["size"]) for r in rows}:
        pair = {r["mode"]: r for r in rows if r["clip"] == clip and r["size"] == size}
        if "full" in pair and "working" in pair:
            f, w = pair["full"], pair["working"]
            print(f"{clip} {size}: working / full = {w['wall_fps'] / f['wall_fps']:.2f}x (wall), "
                  f"{w['cpu_fps'] / f['cpu_fps']:.2f}x (CPU); IoU {f['iou_mean']:.3f} -> {w['iou_mean']:.3f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"frames": args.frames, "clock": args.clock, "rows": rows}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
