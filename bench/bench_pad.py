"""Benchmark: the Numba LayerDiffuse padding (ldmatte.pad_rgb) against the OpenCV reference.

Real 1024x1024 RGBA samples: each image alone at 1 thread, the target image
alone and a batch of 8 at 1 and ``--threads`` threads (Numba and OpenCV pinned
alike). Samples of all variants are taken round-robin in one run and every
ratio compares timings of that run (the machine is shared and noisy). Outputs
are checked against the reference (uint8, within 1 level) before timing.

    python bench/bench_pad.py --threads 2 --repeat 9 --json bench/out/pad.json
"""
from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

from _common import BATCH, interleaved_medians, machine_note, machine_scaling_fns, print_table, real_rgba_paths, set_threads, write_json

TARGET = "curly_man_i2i_sdxl"


def load_rgba(path) -> np.ndarray:
    """An RGBA PNG as a C-contiguous (H, W, 4) uint8 array (R, G, B, A order)."""
    from PIL import Image

    with Image.open(path) as im:
        return np.ascontiguousarray(np.asarray(im.convert("RGBA")))


def real_rgbas(size=(1024, 1024)) -> dict[str, np.ndarray]:
    return {p.stem: load_rgba(p) for p in real_rgba_paths(size)}


def _threaded(n, fn):
    def call():
        set_threads(n)
        return fn()

    return call


def check_close(rgba: np.ndarray) -> int:
    """Max uint8 difference between ldmatte.pad_rgb and the reference; exits when above 1."""
    import ldmatte
    from ldmatte.reference.pad import pad_rgb_reference

    err = int(np.abs(ldmatte.pad_rgb(rgba).astype(int) - pad_rgb_reference(rgba)).max())
    if err > 1:
        raise SystemExit(f"pad_rgb differs from pad_rgb_reference by {err} levels")
    return err


def _row(case, images, threads, t_ld, t_ref, err=None):
    row = {"case": case, "images": images, "threads": threads, "ldmatte ms/img": t_ld * 1e3 / images,
           "reference ms/img": t_ref * 1e3 / images, "ldmatte img/s": images / t_ld, "speed-up": t_ref / t_ld}
    if err is not None:
        row["max err"] = err
    return row


def run(threads: int, repeat: int) -> tuple[list[dict], dict]:
    import ldmatte
    from ldmatte.reference.pad import pad_rgb_reference

    ims = real_rgbas()
    rows = []
    for name, im in ims.items():
        err = check_close(im)
        t = interleaved_medians({
            "ldmatte": _threaded(1, lambda: ldmatte.pad_rgb(im)),
            "reference": _threaded(1, lambda: pad_rgb_reference(im)),
        }, repeat=repeat)
        rows.append(_row(name, 1, 1, t["ldmatte"], t["reference"], err))
    summary = {}
    if not ims:
        return rows, summary
    names = sorted(ims)
    target = ims.get(TARGET, ims[names[0]])
    stack = np.stack([ims[names[i % len(names)]] for i in range(BATCH)])
    counts = sorted({1, threads})
    fns = {}
    for n in counts:
        fns[f"one {n}"] = _threaded(n, lambda: ldmatte.pad_rgb(target))
        fns[f"one ref {n}"] = _threaded(n, lambda: pad_rgb_reference(target))
        fns[f"batch {n}"] = _threaded(n, lambda: ldmatte.pad_rgb(stack))
        fns[f"batch ref {n}"] = _threaded(n, lambda: pad_rgb_reference(stack))
    fns.update(machine_scaling_fns(counts))
    t = interleaved_medians(fns, repeat=repeat)
    for n in counts:
        rows.append(_row(f"{TARGET} (target)", 1, n, t[f"one {n}"], t[f"one ref {n}"]))
        rows.append(_row(f"batch of {BATCH} real", BATCH, n, t[f"batch {n}"], t[f"batch ref {n}"]))
    one = [r["speed-up"] for r in rows if r["threads"] == 1 and r["images"] == 1]
    summary = {
        "threads": max(counts),
        "target_speedup_1_thread": t["one ref 1"] / t["one 1"],
        "median_speedup_1_thread": float(np.median(one)),
        "batch_thread_speedup": t["batch 1"] / t[f"batch {max(counts)}"],
        "machine_thread_speedup": t["machine 1"] / t[f"machine {max(counts)}"],
        "machine_note": machine_note(t, max(counts)),
    }
    return rows, summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="thread count besides 1 (default 2)")
    ap.add_argument("--repeat", type=int, default=9, help="timed samples per function (median reported)")
    ap.add_argument("--json", metavar="OUT", help="also write the rows as JSON")
    args = ap.parse_args(argv)
    rows, summary = run(args.threads, args.repeat)
    if not rows:
        print("no data: real 1024x1024 RGBA samples not found (set LDMATTE_DATA)", file=sys.stderr)
        return 1
    print(f"pad_rgb (uint8 out), median of {args.repeat}; reference = pad_rgb_reference (OpenCV resizes)")
    print_table(rows, ["case", "images", "threads", "ldmatte ms/img", "reference ms/img", "ldmatte img/s",
                       "speed-up", "max err"])
    print(f"target image, 1 thread: {summary['target_speedup_1_thread']:.1f}x the reference "
          f"(median over the real samples {summary['median_speedup_1_thread']:.1f}x); "
          f"batch of {BATCH}: {summary['threads']} threads are {summary['batch_thread_speedup']:.2f}x faster than 1"
          f"{summary['machine_note']}")
    if args.json:
        pathlib.Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        write_json(args.json, {"benchmark": "pad", "repeat": args.repeat, "rows": rows, **summary})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
