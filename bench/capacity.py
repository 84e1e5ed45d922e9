"""Dataset capacity: train on nested subsets of one dataset, evaluate each on one benchmark, plot metric vs size.

Every subset trains with the same step budget and seed (``ldmatte train --limit N``:
the first N samples of a seeded order, so the smaller subsets are contained in
the larger ones). Each model predicts the benchmark and is scored on the
trimap's unknown region (:func:`ldmatte.matting.evaluate_folders`), next to the
trimap-only baseline (unknown = 0.5). The benchmark is a public layout
(``--benchmark p3m-np ROOT``, ...) or, by default, held-out synthetic composites
built from other seeds than the training data.

Writes OUT/capacity.json, OUT/capacity.md (the table) and OUT/capacity.png.

Examples (GPU, a real dataset)::

    python bench/capacity.py --dataset DS --sizes 1000,5000,10000,20000 --steps 20000 --model vitmatte-small \\
        --crop 512 --batch 16 --benchmark p3m-np /data/P3M-10k --out capacity
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time


def _plot(rows, baseline, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["samples"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), dpi=100)
    for ax, key, label in ((axes[0], "sad", "SAD / image"), (axes[1], "mse", "MSE x1e3")):
        scale = 1e3 if key == "mse" else 1.0
        ax.plot(sizes, [r["mean"][key] * scale for r in rows], "o-", label="trained")
        ax.axhline(baseline[key] * scale, ls="--", color="grey", label="trimap only (0.5)")
        ax.set_xscale("log")
        ax.set(xlabel="training samples", ylabel=f"{label} (unknown region)", title=title)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", help="dataset folder (default: a synthetic one of --n samples in a temp folder)")
    ap.add_argument("--n", type=int, default=48, help="samples of the synthetic dataset (default 48)")
    ap.add_argument("--size", type=int, default=256, help="side of the synthetic samples (default 256)")
    ap.add_argument("--sizes", default="12,24,48", help="nested subset sizes, comma-separated (default 12,24,48)")
    ap.add_argument("--steps", type=int, default=200, help="steps per subset, the same for all (default 200)")
    ap.add_argument("--model", default="vitmatte-tiny")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--crop", type=int, default=192)
    ap.add_argument("--lr", type=float, help="peak learning rate (default: ldmatte train's)")
    ap.add_argument("--backgrounds", default="synthetic", help="background folder or 'synthetic'")
    ap.add_argument("--benchmark", nargs=2, metavar=("NAME", "ROOT"),
                    help="benchmark layout (default: held-out synthetic composites of --heldout-n samples)")
    ap.add_argument("--heldout-n", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, help="torch CPU threads")
    ap.add_argument("--out", default="capacity", help="output folder (default ./capacity)")
    args = ap.parse_args(argv)

    import torch

    from ldmatte.dataset import SyntheticSource, build
    from ldmatte.matting import TrainConfig, evaluate_folders, load_predictor, train, write_heldout_set
    from ldmatte.matting.evaluate import trimap_only_metrics
    from ldmatte.matting.predictor import predict_files, prediction_jobs

    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = sorted({int(s) for s in args.sizes.split(",")})
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="capacity-", dir=args.out)
    dataset = args.dataset
    if dataset is None:
        dataset = os.path.join(work, "train")
        build(SyntheticSource(args.n, seed=args.seed, size=args.size), dataset, progress=False)
    benchmark = tuple(args.benchmark) if args.benchmark else None
    if benchmark is None:  # other seeds than the training samples (0 .. n-1), other backgrounds
        heldout = os.path.join(work, "heldout-src")
        build(SyntheticSource(args.heldout_n, seed=10_000 + args.seed, size=args.size), heldout, progress=False)
        write_heldout_set([heldout], os.path.join(work, "heldout"), seed=args.seed + 1, max_side=args.size,
                          kernel=max(3, args.crop * 16 // 512))  # fmt: skip
        benchmark = ("ldmatte", os.path.join(work, "heldout"))
    baseline = trimap_only_metrics(benchmark)
    rows = []
    for n in sizes:
        run = os.path.join(work, f"run-{n}")
        t0 = time.perf_counter()
        cfg = TrainConfig(datasets=[dataset], output=run, backgrounds=args.backgrounds, model=args.model,
                          steps=args.steps, batch=args.batch, crop=args.crop, device=args.device, val=0.0,
                          seed=args.seed, limit=n, lr=args.lr, save_every=10**9, progress=False)  # fmt: skip
        train(cfg, log=lambda m: None)
        seconds = time.perf_counter() - t0
        predictor = load_predictor(run, args.device)
        jobs, _ = prediction_jobs(benchmark=benchmark)
        pred = os.path.join(work, f"pred-{n}")
        os.makedirs(pred, exist_ok=True)
        predict_files(predictor, jobs, pred, progress=False)
        result = evaluate_folders(pred, benchmark=benchmark)
        rows.append({"samples": n, "steps": args.steps, "train_seconds": round(seconds, 1), "mean": result["mean"],
                     "failures": len(result["failures"])})  # fmt: skip
        print(f"{n} samples: SAD {result['mean']['sad']:.3f} (baseline {baseline['sad']:.3f})", file=sys.stderr)

    title = f"{args.model}, {args.steps} steps, {benchmark[0]}"
    lines = [f"Capacity ({title}; unknown region, mean per image; MSE x1e3)", "",
             "| training samples | SAD | MSE | Grad | Conn | train s |", "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        m = r["mean"]
        lines.append(f"| {r['samples']} | {m['sad']:.3f} | {m['mse'] * 1e3:.2f} | {m['grad']:.3f} | "
                     f"{m['conn']:.3f} | {r['train_seconds']} |")  # fmt: skip
    b = baseline
    lines.append(f"| trimap only (0.5) | {b['sad']:.3f} | {b['mse'] * 1e3:.2f} | {b['grad']:.3f} | {b['conn']:.3f} | |")
    table = "\n".join(lines)
    print(table)
    with open(os.path.join(args.out, "capacity.md"), "w", encoding="utf-8") as f:
        f.write(table + "\n")
    with open(os.path.join(args.out, "capacity.json"), "w", encoding="utf-8") as f:
        record = {"settings": vars(args), "benchmark": list(benchmark), "baseline": baseline, "rows": rows}
        json.dump(record, f, indent=1)
    _plot(rows, baseline, os.path.join(args.out, "capacity.png"), title)
    return 0


if __name__ == "__main__":
    sys.exit(main())
