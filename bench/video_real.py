"""Video matting on real footage: per-frame IoU against hand-made masks, next to two baselines; frames/s.

Clips (from ``../shared/data/video/`` beside the repository; see its SOURCES.md; skipped when absent):

- ``chair``: 60 frames 720x480, a mask on every frame (palette id 1: the chair's reflection in a glass wall,
  thin legs and wheels, a person walking past in front);
- ``caps``: 87 frames 480x853, masks on frames 0, 14, 33, 43, 66 (id 1: a person's cap);
- ``bedroom``, ``dance`` (no masks): with ``--crash`` each runs to its end from a first-frame mask made by
  GrabCut seeded with a fixed box on frame 0 (a crash and speed check only: there is nothing to score).

``--keys 0,33,66`` gives the masks of those annotated frames as key frames (``--masks`` with a folder of them:
the first carried, the carry re-anchored on each other) and scores the annotated frames that were not given; the
naive warp is then re-anchored on the same key frames, and ``frozen`` is the last key frame's mask.

``--segment`` times the carried segmentation alone (``CarriedSegmenter.segment``, ms per frame, wall clock and the
process's CPU time, the shared flow tracker not counted) on any of the four or on ``synthetic`` (the 1080p
synthetic portrait at the pipeline's working size, 960x540), with the carried mask's IoU where masks exist.

Each clip is written as a lossless FFV1 video and matted by ``ldmatte.video.matte_video`` (closed-form
matting, default settings, or those changed by ``--set``) from the first frame's mask. Scored: IoU of
alpha > 0.5 with each annotated frame's mask (frame 0 excluded from the means: it is the given mask), next to

- ``naive warp``: the first mask backward-warped frame to frame along OpenCV DIS flow (medium), soft state,
  no matting, no feedback;
- ``frozen``: the first mask on every frame;
- ``carried mask``: the binary segmentation the pipeline carries (before the trimap and matting).

    python bench/video_real.py --panel docs/images/video_real.png --json video_real.json
    python bench/video_real.py --clips caps --keys 0,33,66
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "video"
# Boxes (x0, y0, x1, y1 in frame-0 pixels) around one person, drawn by eye on frame 0, seeding the crash
# check's GrabCut: the girl jumping on the bed in ``bedroom``, the dancer in ``dance``.
CRASH_BOXES = {"bedroom": (280, 0, 490, 375), "dance": (140, 95, 345, 480)}


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def _read_rgb(path) -> np.ndarray:
    import cv2

    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def load_clip(name: str, frames: int | None = None):
    """(frames (list of RGB uint8), masks {frame: bool (H, W)}) of a clip with an image folder."""
    from PIL import Image

    folder = DATA / name
    files = sorted((folder / "frames").glob("*.jpg"))[:frames]
    images = [_read_rgb(f) for f in files]
    masks = {}
    for i, f in enumerate(files):
        m = folder / "masks" / (f.stem + ".png")
        if m.exists():
            masks[i] = np.asarray(Image.open(m)) == 1  # palette id 1 is the object scored
    return images, masks


def naive_warp(images, first: np.ndarray, keys=None) -> list[np.ndarray]:
    """The first mask backward-warped frame to frame along DIS flow (medium), a soft state; masks > 0.5.
    ``keys`` ({frame: mask}): the state is reset to each key frame's mask on its frame."""
    from ldmatte.video.flow import FlowTracker, warp_backward

    tracker, soft, out = FlowTracker(), first.astype(np.float32), []
    for i, f in enumerate(images):
        tracker.step(f)
        if keys and i in keys:
            soft = keys[i].astype(np.float32)
        elif tracker.flow is not None:
            soft = warp_backward(soft, tracker.flow)
        out.append(soft > 0.5)
    return out


def run_clip(name: str, images, first: np.ndarray, work: str, keep=(), overrides=(), keys=None) -> dict:
    """Matte a clip; returns masks and alphas (> 0.5) of the frames in ``keep``, notes and speed. ``keys``
    ({frame: mask}, frame 0 among them): key-frame masks, given as a ``--masks`` folder of them."""
    from _common import with_overrides
    from ldmatte.io import write_png_atomic
    from ldmatte.video.masks import FolderMasks
    from ldmatte.video.pipeline import VideoMattingSettings, matte_video
    from ldmatte.video.synthetic import write_video

    video = os.path.join(work, f"{name}.mkv")
    write_video(video, np.stack(images), fps=24)
    kept: dict = {}
    segmenter = np.where(first, 255, 0).astype(np.uint8)
    if keys:
        folder = os.path.join(work, f"{name}-keys")
        os.makedirs(folder, exist_ok=True)
        for i, m in keys.items():
            write_png_atomic(os.path.join(folder, f"{i:05d}.png"), np.where(m, 255, 0).astype(np.uint8))
        segmenter = FolderMasks(folder)

    def on_frame(fr):
        if fr.index in keep:
            kept[fr.index] = (fr.mask > 127, fr.alpha > 127, fr.alpha)

    t = time.perf_counter()
    settings = with_overrides(VideoMattingSettings(formats=("png",)), overrides)
    res = matte_video(video, os.path.join(work, name), segmenter, settings, on_frame=on_frame, claim=False)
    wall = time.perf_counter() - t
    return {"result": res, "kept": kept, "wall": wall}


def score(name: str, images, masks, work: str, overrides=(), key_frames=None) -> dict:
    """IoU at the annotated frames; with ``key_frames`` (frame numbers, 0 among them) their masks are given
    as key frames and only the other annotated frames are scored (``later``: their positions in ``scored``)."""
    scored = sorted(masks)
    keys = {i: masks[i] for i in key_frames} if key_frames else None
    run = run_clip(name, images, masks[0], work, keep=set(scored), overrides=overrides, keys=keys)
    naive = naive_warp(images, masks[0], keys)
    frozen = "frozen last key mask" if keys else "frozen first mask"
    rows = {"pipeline (alpha > 0.5)": [], "carried mask": [], "naive warp": [], frozen: []}
    for i in scored:
        mask, alpha, _ = run["kept"][i]
        gt = masks[i]
        rows["pipeline (alpha > 0.5)"].append(_iou(alpha, gt))
        rows["carried mask"].append(_iou(mask, gt))
        rows["naive warp"].append(_iou(naive[i], gt))
        rows[frozen].append(_iou(masks[max(k for k in (keys or {0: None}) if k <= i)], gt))
    res = run["result"]
    given = set(keys or (0,))
    return {"clip": name, "frames": res.frames, "scored": scored, "iou": rows, "wall": run["wall"],
            "seconds": res.seconds, "notes": res.frame_notes, "kept": run["kept"], "keys": sorted(given),
            "later": [k for k, i in enumerate(scored) if i not in given]}  # fmt: skip


def load_unmasked(name: str, frames: int | None):
    """(frames, first mask) of a clip without masks: the mask is GrabCut seeded with its box in CRASH_BOXES."""
    import cv2

    from ldmatte.video.reader import iter_frames

    if name == "dance":
        src = DATA / "dance" / "dance.mp4"
        images = [f for _, f in zip(range(frames or 10**9), iter_frames(str(src)))]
    else:
        images = load_clip(name, frames)[0]
    h, w = images[0].shape[:2]
    box = CRASH_BOXES[name]
    lab = np.zeros((h, w), np.uint8)
    bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.setRNGSeed(0)
    cv2.grabCut(images[0], lab, (box[0], box[1], box[2] - box[0], box[3] - box[1]), bgd, fgd, 5,
                cv2.GC_INIT_WITH_RECT)  # fmt: skip
    return images, (lab == cv2.GC_FGD) | (lab == cv2.GC_PR_FGD)


def segment_only(name: str, frames: int | None, key_frames=()) -> dict:
    """The carried segmentation alone (no matting): ms per frame of ``CarriedSegmenter.segment`` (the flow
    tracker it shares with the pipeline not counted, as the pipeline's "segment" stage) and, with masks, IoU
    (of the annotated frames after 0 not among ``key_frames``, whose masks re-anchor the carry)."""
    from ldmatte.video.carried import CarriedSegmenter
    from ldmatte.video.flow import FlowTracker

    if name == "synthetic":  # the 1080p synthetic portrait at the pipeline's working size (960x540)
        from ldmatte.video.synthetic import make_video
        from ldmatte.video.upsample import WorkingResolution

        clip = make_video(frames or 24, (1080, 1920), seed=0)
        work = WorkingResolution(1080, 1920)
        images = [work.shrink(f) for f in clip.frames]
        masks = {i: work.shrink(a) > 127 for i, a in enumerate(clip.alphas)}
        first = masks[0]
    elif name in CRASH_BOXES:
        (images, first), masks = load_unmasked(name, frames), {}
    else:
        images, masks = load_clip(name, frames)
        first = masks[0]
    tracker = FlowTracker()
    seg = CarriedSegmenter(first, tracker=tracker, key_masks={k: masks[k] for k in key_frames if k and k in masks})
    seconds, cpu, ious = [], [], []
    for i, f in enumerate(images):
        tracker.step(f)
        t, c = time.perf_counter(), time.process_time()
        m = seg.segment(f, i) > 127
        seconds.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)  # all the process's threads: what the stage costs beside another
        if i > 0 and i in masks and i not in key_frames:
            ious.append(_iou(m, masks[i]))
    later = seconds[1:] or seconds
    return {"clip": name, "size": images[0].shape[1::-1], "frames": len(images), "ms_mean": 1000 * np.mean(later),
            "ms_median": 1000 * np.median(later), "cpu_ms_mean": 1000 * np.mean(cpu[1:] or cpu),
            "iou_mean": float(np.mean(ious)) if ious else None,
            "iou_min": float(np.min(ious)) if ious else None}  # fmt: skip


def crash_check(name: str, work: str, frames: int | None, overrides=()) -> dict:
    """Run a clip without masks to its end from a GrabCut-seeded first mask (a box around the person)."""
    images, first = load_unmasked(name, frames)
    box = CRASH_BOXES[name]
    run = run_clip(name, images, first, work, overrides=overrides)
    res = run["result"]
    return {"clip": name, "frames": res.frames, "of": len(images), "wall": run["wall"], "seconds": res.seconds,
            "notes": res.frame_notes, "first_mask_px": int(first.sum()), "box": box}


def panel(scores, images_by_clip, path: str) -> None:
    """Frames, their masks and the alpha, three annotated frames a clip, cropped around the object."""
    import cv2

    from ldmatte.io import write_png_atomic
    from ldmatte.panels import caption

    rows = []
    for sc in scores:
        images = images_by_clip[sc["clip"]]
        picks = [sc["scored"][len(sc["scored"]) // 3], sc["scored"][(2 * len(sc["scored"])) // 3], sc["scored"][-1]]
        cells = []
        for i in picks:
            gt, alpha = sc["gt"][i], sc["kept"][i][2]
            ys, xs = np.nonzero(gt)  # around the object (the alpha may stray far on a lost track)
            pad = max(16, (ys.max() - ys.min() + xs.max() - xs.min()) // 3)
            y0, y1 = max(0, ys.min() - pad), min(gt.shape[0], ys.max() + pad)
            x0, x1 = max(0, xs.min() - pad), min(gt.shape[1], xs.max() + pad)
            tiles = [images[i][y0:y1, x0:x1], np.repeat((gt[y0:y1, x0:x1, None] * 255).astype(np.uint8), 3, 2),
                     np.repeat(alpha[y0:y1, x0:x1, None], 3, 2)]
            tile = np.concatenate(tiles, axis=1)
            k = 120 / tile.shape[0]
            cells.append(cv2.resize(tile, (round(tile.shape[1] * k), 120), interpolation=cv2.INTER_AREA))
        row = np.concatenate([np.pad(c, ((0, 0), (0, 6), (0, 0)), constant_values=255) for c in cells], axis=1)
        rows.append(caption(row, f"{sc['clip']}, frames {', '.join(map(str, picks))}: frame | mask | alpha"))
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255)
                            for r in rows], axis=0)  # fmt: skip
    if sheet.shape[1] > 1200:
        sheet = cv2.resize(sheet, (1200, round(sheet.shape[0] * 1200 / sheet.shape[1])), interpolation=cv2.INTER_AREA)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_png_atomic(path, sheet)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", default="chair,caps", help="comma list of chair, caps (default both)")
    ap.add_argument("--frames", type=int, default=None, help="only the first N frames of each clip")
    ap.add_argument("--crash", default="", help="comma list of bedroom, dance: run to the end, no scoring")
    ap.add_argument("--segment", default="", help="comma list of chair, caps, bedroom, dance, synthetic (the 1080p "
                    "synthetic portrait at 960x540, 24 frames): the carried segmentation alone, ms/frame (and IoU "
                    "where masks exist)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a setting of VideoMattingSettings (dotted, repeatable): background.history=0, "
                    "propagation.carry.recall=None, stabilise.strength=0")
    ap.add_argument("--keys", default="", help="comma list of annotated frames given as key frames (0 among "
                    "them; default: 0 only, the first-frame mask); the other annotated frames are scored (--segment too)")
    ap.add_argument("--panel", help="write a panel (PNG) here")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    if not DATA.is_dir():
        print(f"no real clips in {DATA}: nothing to do")
        return 0
    work = tempfile.mkdtemp(prefix="ldmatte-bench-video-real-")
    scores, images_by_clip, out = [], {}, {"clips": [], "crash": []}
    for name in [c for c in args.clips.split(",") if c]:
        images, masks = load_clip(name, args.frames)
        key_frames = [int(k) for k in args.keys.split(",") if k.strip()]
        if key_frames and (0 not in key_frames or not set(key_frames) <= set(masks)):
            ap.error(f"--keys must be annotated frames of {name} ({', '.join(map(str, sorted(masks)))}), 0 among them")
        sc = score(name, images, masks, work, args.set, key_frames)
        sc["gt"] = masks
        scores.append(sc)
        images_by_clip[name] = images
        later = sc["later"]
        print(f"\n{name}: {sc['frames']} of {len(images)} frames matted, {len(sc['scored'])} with a mask, key "
              f"frames {', '.join(map(str, sc['keys']))}; scored: {', '.join(str(sc['scored'][k]) for k in later)}; "
              f"{len(sc['notes'])} frame note(s)")
        print("| method | IoU mean | IoU min |")
        print("| --- | --- | --- |")
        summary = {}
        for method, ious in sc["iou"].items():
            vals = [ious[k] for k in later]
            summary[method] = {"mean": float(np.mean(vals)), "min": float(np.min(vals)), "per_frame": ious}
            print(f"| {method} | {np.mean(vals):.3f} | {np.min(vals):.3f} |")
        per = sc["iou"]["pipeline (alpha > 0.5)"]
        print("per frame (pipeline): " + " ".join(f"{i}:{v:.2f}" for i, v in zip(sc["scored"], per)))
        fps = {k: (sc["frames"] / v if v > 0 else None) for k, v in sc["seconds"].items()}
        fps["whole run"] = sc["frames"] / sc["wall"]
        if args.set:
            print("settings changed: " + ", ".join(args.set))
        print("frames/s: " + ", ".join(f"{k} {v:.1f}" for k, v in fps.items() if v))
        for n in sc["notes"][:10]:
            print(f"  note: frame {n['frame']}: {n['kind']}: {n['reason']}")
        out["clips"].append({"clip": name, "frames": sc["frames"], "scored": sc["scored"], "iou": summary,
                             "fps": fps, "notes": sc["notes"], "keys": sc["keys"]})  # fmt: skip
    for name in [c for c in args.crash.split(",") if c]:
        cr = crash_check(name, work, args.frames, args.set)
        fps = cr["frames"] / cr["wall"]
        print(f"\ncrash check {name}: {cr['frames']} of {cr['of']} frames, {fps:.2f} frames/s, first mask "
              f"{cr['first_mask_px']} px (GrabCut in box {cr['box']}), {len(cr['notes'])} frame note(s)")
        out["crash"].append({k: v for k, v in cr.items() if k != "seconds"} | {"fps": fps})
    out["segment"] = []
    for name in [c for c in args.segment.split(",") if c]:
        sg = segment_only(name, args.frames, [int(k) for k in args.keys.split(",") if k.strip()])
        iou = "" if sg["iou_mean"] is None else f", carried mask IoU mean {sg['iou_mean']:.3f} min {sg['iou_min']:.3f}"
        print(f"\nsegment only {name} ({sg['size'][0]}x{sg['size'][1]}, {sg['frames']} frames): "
              f"{sg['ms_mean']:.1f} ms/frame (median {sg['ms_median']:.1f}, CPU {sg['cpu_ms_mean']:.1f}){iou}")
        out["segment"].append(sg)
    if args.panel and scores:
        panel(scores, images_by_clip, args.panel)
        print(f"panel: {args.panel}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=2, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
