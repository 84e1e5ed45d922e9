"""Benchmark: full ``ldmatte.refine`` of real RGBA against the plain composition.

The plain composition is what a user would otherwise run: the scipy CAAR
reference (``refine_alpha_reference``), the OpenCV padding reference
(``pad_rgb_reference``) with the refined alpha, and the same compose step
(straight colour where the refined alpha is above 0, padding where it is 0).
Both return the per-image statistics. ``ldmatte.refine`` runs each image's
alpha repair and padding back to back on one thread; a third variant runs the
same kernels as two batched stages (``refine_alpha`` of the whole batch, then
the padding kernel's one-pass ``repad_rgba_batch``), to show what the
per-image pipeline gains on several threads. Variants: one 1024x1024 image at
1 thread, and a batch of 8 at 1 and ``--threads`` threads; samples are taken
round-robin in one run and every ratio compares timings of that run. A
compute-bound loop timed alongside says what the machine's threads gave.

    python bench/bench_refine.py --threads 2 --repeat 7 --json bench/out/refine.json --plot bench/out/refine.png
"""
from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

from _common import BATCH, interleaved_medians, machine_note, machine_scaling_fns, print_table, real_rgba_paths, set_threads, write_json
from bench_pad import TARGET, load_rgba


def plain_refine(rgba: np.ndarray):
    """refine() written plainly: scipy CAAR reference + OpenCV padding reference + compose."""
    from ldmatte.reference.caar import refine_alpha_reference
    from ldmatte.reference.pad import pad_rgb_reference

    alpha, stats = refine_alpha_reference(np.ascontiguousarray(rgba[..., 3]))
    with_alpha = np.concatenate([rgba[..., :3], alpha[..., None]], axis=-1)
    padded = pad_rgb_reference(with_alpha)
    rgb = np.where((alpha > 0)[..., None], rgba[..., :3], padded)
    return np.concatenate([rgb, alpha[..., None]], axis=-1), stats


def two_stage_refine(rgba: np.ndarray):
    """refine() as two batched stages: refine_alpha of every image, then repad_rgba_batch (new
    alpha, padding and compose in one pass) of every image."""
    import ldmatte
    from ldmatte._kernels.pad import repad_rgba_batch

    alpha, report = ldmatte.refine_alpha(np.ascontiguousarray(rgba[..., 3]), return_report=True)
    if rgba.ndim == 3:
        return repad_rgba_batch(rgba[None], alpha[None])[0], report
    return repad_rgba_batch(rgba, alpha), report


def check_close(rgba: np.ndarray) -> None:
    import ldmatte

    out, _ = ldmatte.refine(rgba, return_report=True)
    ref, _ = plain_refine(rgba)
    if not np.array_equal(out[..., 3], ref[..., 3]) or np.abs(out.astype(int) - ref).max() > 1:
        raise SystemExit("ldmatte.refine differs from the plain composition")
    if not np.array_equal(two_stage_refine(rgba)[0], out):
        raise SystemExit("the two-stage composition differs from ldmatte.refine")


def _threaded(n, fn):
    def call():
        set_threads(n)
        return fn()

    return call


def run(threads: int, repeat: int) -> tuple[list[dict], dict]:
    import ldmatte

    paths = real_rgba_paths((1024, 1024))
    if not paths:
        return [], {}
    ims = {p.stem: load_rgba(p) for p in paths}
    names = sorted(ims)
    target = ims.get(TARGET, ims[names[0]])
    stack = np.stack([ims[names[i % len(names)]] for i in range(BATCH)])
    check_close(target)
    check_close(stack)
    counts = sorted({1, threads})
    fns = {"ldmatte one 1": _threaded(1, lambda: ldmatte.refine(target, return_report=True)),
           "stages one 1": _threaded(1, lambda: two_stage_refine(target)),
           "plain one 1": _threaded(1, lambda: plain_refine(target))}
    for n in counts:
        fns[f"ldmatte batch {n}"] = _threaded(n, lambda: ldmatte.refine(stack, return_report=True))
        fns[f"stages batch {n}"] = _threaded(n, lambda: two_stage_refine(stack))
    fns["plain batch 1"] = _threaded(1, lambda: plain_refine(stack))
    fns.update(machine_scaling_fns(counts))
    t = interleaved_medians(fns, repeat=repeat)
    rows = [{"variant": "plain composition, 1 image", "images": 1, "threads": 1, "seconds": t["plain one 1"]},
            {"variant": "ldmatte.refine, 1 image", "images": 1, "threads": 1, "seconds": t["ldmatte one 1"]},
            {"variant": "two stages, 1 image", "images": 1, "threads": 1, "seconds": t["stages one 1"]},
            {"variant": f"plain composition, batch of {BATCH}", "images": BATCH, "threads": 1,
             "seconds": t["plain batch 1"]}]
    for name, key in (("ldmatte.refine", "ldmatte"), ("two stages", "stages")):
        rows += [{"variant": f"{name}, batch of {BATCH}", "images": BATCH, "threads": n,
                  "seconds": t[f"{key} batch {n}"]} for n in counts]
    for r in rows:
        r["ms/img"] = r["seconds"] * 1e3 / r["images"]
        r["img/s"] = r["images"] / r["seconds"]
        plain = t["plain one 1"] if r["images"] == 1 else t["plain batch 1"]
        r["vs plain 1 thread"] = plain / r["seconds"]
    summary = {
        "threads": max(counts),
        "ms_per_image_1_thread": t["ldmatte one 1"] * 1e3,
        "speedup_vs_plain_1_thread": t["plain one 1"] / t["ldmatte one 1"],
        "batch_thread_speedup": t["ldmatte batch 1"] / t[f"ldmatte batch {max(counts)}"],
        "two_stage_ms_per_image_1_thread": t["stages one 1"] * 1e3,
        "two_stage_speedup_vs_plain_1_thread": t["plain one 1"] / t["stages one 1"],
        "two_stage_batch_thread_speedup": t["stages batch 1"] / t[f"stages batch {max(counts)}"],
        "machine_thread_speedup": t["machine 1"] / t[f"machine {max(counts)}"],
        "machine_note": machine_note(t, max(counts)),
    }
    return rows, summary


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['variant']}\n{r['threads']} thread{'s' if r['threads'] > 1 else ''}" for r in rows]
    values = [r["img/s"] for r in rows]
    palette = {"plain composition": "#999999", "ldmatte.refine": "#2a7ab9", "two stages": "#e08a1e"}
    colours = [palette[r["variant"].split(",")[0]] for r in rows]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    bars = ax.barh(range(len(rows)), values, color=colours)
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("images per second (1024x1024 RGBA, higher is better)")
    ax.set_title("Full RGBA refine: ldmatte vs the plain scipy + OpenCV composition")
    for bar, v in zip(bars, values):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {v:.1f}", va="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="thread count for the batch, besides 1 (default 2)")
    ap.add_argument("--repeat", type=int, default=7, help="timed samples per function (median reported)")
    ap.add_argument("--json", metavar="OUT", help="also write the rows as JSON")
    ap.add_argument("--plot", metavar="PNG", help="also write a bar chart of images/s per variant")
    args = ap.parse_args(argv)
    rows, summary = run(args.threads, args.repeat)
    if not rows:
        print("no data: real 1024x1024 RGBA samples not found (set LDMATTE_DATA)", file=sys.stderr)
        return 1
    print(f"refine (RGBA, defaults, with report), median of {args.repeat}; plain = scipy CAAR + OpenCV padding")
    print_table(rows, ["variant", "images", "threads", "ms/img", "img/s", "vs plain 1 thread"])
    for label, key in (("ldmatte.refine", ""), ("two stages", "two_stage_")):
        print(f"{label}, 1 thread: {summary[key + 'ms_per_image_1_thread']:.1f} ms per image, "
              f"{summary[key + 'speedup_vs_plain_1_thread']:.1f}x the plain composition; batch of {BATCH}: "
              f"{summary['threads']} threads are {summary[key + 'batch_thread_speedup']:.2f}x faster than 1"
              f"{summary['machine_note']}")
    if args.json:
        pathlib.Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        write_json(args.json, {"benchmark": "refine", "repeat": args.repeat, "rows": rows, **summary})
    if args.plot:
        pathlib.Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
