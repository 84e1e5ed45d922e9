"""SAM 2 as the video segmenter: time per frame and memory held, frames streamed, over a long synthetic clip.

Runs :class:`ldmatte.video.sam2_segmenter.SAM2Segmenter` (SAM 2.1 tiny by
default; random weights unless ``--checkpoint``: the figures are speed and
memory, not accuracy) on a textured disc moving over noise, frame by frame as
``ldmatte video`` does. Reports frames/s after the first frame, the frames and
per-frame outputs its inference state holds at the end, the bytes of the
tensors in it after the memory window filled and at the end (equal when memory
is bounded), the process's peak resident memory, and what sam2's own
``init_state`` would hold for the same clip (every frame at the model's input
size, float32).

    python bench/video_sam2.py --frames 60 --size 480 --json sam2.json
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time

import numpy as np


def moving_disc(n: int, h: int, w: int):
    """Frames of a textured disc moving right over noise, and the first frame's mask."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:h, :w]
    r = h // 5

    def frame(t):
        f = (rng.random((h, w, 3)) * 60).astype(np.uint8)
        disc = (xx - w // 4 - (t * w) // (2 * max(n, 1))) ** 2 + (yy - h // 2) ** 2 < r**2
        f[disc] = (180 + 40 * np.sin(xx[disc] / 3))[:, None].astype(np.uint8)
        return f, disc

    return frame


def state_bytes(state) -> int:
    """Bytes of the distinct tensors reachable from a SAM 2 inference state (frames held included)."""
    import torch

    seen, total, stack = set(), 0, [state]
    while stack:
        x = stack.pop()
        if isinstance(x, torch.Tensor):
            key = (x.untyped_storage().data_ptr(), x.device.type)
            if key not in seen:
                seen.add(key)
                total += x.untyped_storage().nbytes()
        elif isinstance(x, dict):
            stack.extend(x.values())
        elif isinstance(x, (list, tuple)):
            stack.extend(x)
        elif hasattr(x, "_frames"):  # StreamedFrames
            stack.extend(x._frames.values())
    return total


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--size", type=int, default=480, help="frame height (width 16:9)")
    ap.add_argument("--config", default="configs/sam2.1/sam2.1_hiera_t.yaml")
    ap.add_argument("--checkpoint", default=None, help="local weights (default: random)")
    ap.add_argument("--override", action="append", default=[], metavar="KEY=VALUE", help="a config override")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    import torch

    from ldmatte.video.sam2_segmenter import SAM2Segmenter, build_sam2_predictor

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    h, w = args.size, (args.size * 16 // 9) // 2 * 2
    predictor = build_sam2_predictor(args.checkpoint, args.config, args.device, args.override)
    frame = moving_disc(args.frames, h, w)
    f0, first = frame(0)
    seg = SAM2Segmenter(first, predictor=predictor)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seg.segment(f0, 0)
    times, filled = [], None
    for t in range(1, args.frames):
        f, _ = frame(t)
        start = time.perf_counter()
        seg.segment(f, t)
        times.append(time.perf_counter() - start)
        if t == seg.memory_window + 1:
            filled = state_bytes(seg.state)
    end = state_bytes(seg.state)
    s = predictor.image_size
    row = {
        "frames": args.frames, "frame": f"{w}x{h}", "image_size": s, "device": args.device,
        "params_M": round(sum(p.numel() for p in predictor.parameters()) / 1e6, 1),
        "fps": round(len(times) / sum(times), 3) if times else None,
        "s_per_frame_median": round(float(np.median(times)), 3) if times else None,
        "memory_window": seg.memory_window, "frames_held": seg.frames_held, "memory_frames": seg.memory_frames,
        "state_MB_window_filled": round(filled / 2**20, 1) if filled else None, "state_MB_end": round(end / 2**20, 1),
        "peak_rss_growth_MB": round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024, 1),
        "init_state_frames_MB": round(args.frames * 3 * s * s * 4 / 2**20, 1),
        "torch_threads": torch.get_num_threads(), "machine": platform.machine(),
    }  # fmt: skip
    for k, v in row.items():
        print(f"{k}: {v}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": [row]}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
