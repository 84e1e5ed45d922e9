"""Benchmark: the dataset builder's overhead per image (refinement + quality control + writing).

Samples are drawn from the synthetic source once, before timing, so the
generator's own cost is left out; each run builds them into a fresh folder.
Variants, timed round-robin in one run (medians over ``--repeat`` runs):

- ``refine only``: ``ldmatte.refine`` of every sample, nothing else (the reference);
- ``refine + write``: plus two PNGs per sample with ``cv2.imwrite`` (what a bare script would do);
- ``build``: :func:`ldmatte.dataset.build` (refine, QC, atomic PNG writes, durable manifest line),
  with and without fsync, at 1 worker (Numba and OpenCV pinned to 1 thread) and ``--workers`` workers.

Ratios compare timings of the same run. With ``--generation-seconds`` (seconds per
generated image on the GPU), the overhead is also given as a share of generation time.

    python bench/bench_build.py --size 1024 -n 8 --repeat 5 --workers 2 --json bench/out/build.json
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile

from _common import interleaved_medians, print_table, set_threads, write_json


class Preloaded:
    """A source serving samples drawn beforehand (times the builder, not the generator)."""

    name = "synthetic"

    def __init__(self, samples: dict):
        self.samples = samples

    def ids(self):
        return list(self.samples)

    def produce(self, ids):
        from ldmatte.dataset import Produced

        for i in ids:
            yield Produced(i, self.samples[i], {"seed": int(i.rsplit("-", 1)[1])})

    def describe(self):
        return {"source": "preloaded synthetic", "n": len(self.samples)}


def _samples(n: int, size: int, seed: int) -> dict:
    from ldmatte.dataset import SyntheticSource

    src = SyntheticSource(n, seed=seed, size=size, bad_fraction=0.25)
    return {p.id: p.rgba for p in src.produce(src.ids())}


def _fresh(fn):
    """Run ``fn(folder)`` in a new temp folder, removed afterwards (deletion not timed: outside fn)."""
    folder = tempfile.mkdtemp(prefix="bench-build-")
    try:
        return fn(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _variants(samples: dict, workers: int) -> dict:
    import os

    import cv2

    import ldmatte
    from ldmatte.dataset import build

    source = Preloaded(samples)

    def refine_only(threads=1):
        set_threads(threads)
        for rgba in samples.values():
            ldmatte.refine(rgba, return_report=True)

    def refine_write(folder):
        set_threads(1)
        for i, rgba in samples.items():
            out = ldmatte.refine(rgba)
            cv2.imwrite(os.path.join(folder, f"{i}.fg.png"), cv2.cvtColor(out[..., :3], cv2.COLOR_RGB2BGR))
            cv2.imwrite(os.path.join(folder, f"{i}.alpha.png"), out[..., 3])

    def builder(w, durable):
        def run(folder):
            set_threads(1)
            build(source, folder, progress=False, workers=w, durable=durable)

        return lambda: _fresh(run)

    fns = {"refine only, 1 thread": refine_only, f"refine only, {workers} threads": lambda: refine_only(workers),
           "refine + write, 1 thread": lambda: _fresh(refine_write),
           "build, 1 worker, fsync": builder(1, True), "build, 1 worker, no fsync": builder(1, False)}  # fmt: skip
    if workers > 1:
        fns[f"build, {workers} workers, fsync"] = builder(workers, True)
    else:
        del fns[f"refine only, {workers} threads"]
    return fns


def _stage_shares(samples: dict) -> dict:
    from ldmatte.dataset import build

    set_threads(1)
    summary = _fresh(lambda folder: build(Preloaded(samples), folder, progress=False, workers=1))
    n = summary.processed
    return {k: v * 1e3 / n for k, v in summary.timings.items() if k != "produce"}


def run(n: int, size: int, repeat: int, workers: int, generation_seconds: float | None):
    samples = _samples(n, size, seed=0)
    fns = _variants(samples, workers)
    for fn in fns.values():  # warm-up: JIT caches, first allocations
        fn()
    t = interleaved_medians(fns, repeat=repeat)
    ref = t["refine only, 1 thread"]
    rows = []
    for name, seconds in t.items():
        row = {"variant": name, "ms/img": seconds * 1e3 / n, "img/s": n / seconds, "vs refine only": seconds / ref}
        if generation_seconds:
            row["% of generation"] = 100 * seconds / n / generation_seconds
        rows.append(row)
    stages = _stage_shares(samples)
    return rows, stages


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=8, help="samples per run (default 8)")
    ap.add_argument("--size", type=int, default=1024, help="side in pixels (default 1024)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--generation-seconds", type=float, default=None, help="GPU seconds per generated image")
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args(argv)
    rows, stages = run(args.n, args.size, args.repeat, args.workers, args.generation_seconds)
    print(f"dataset build overhead, {args.n} synthetic samples of {args.size}x{args.size}, median of {args.repeat}")
    columns = ["variant", "ms/img", "img/s", "vs refine only"] + (["% of generation"] if args.generation_seconds
                                                                   else [])  # fmt: skip
    print_table(rows, columns)
    print("stages inside the build, 1 worker (ms per image): " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))
    if args.json:
        write_json(args.json, {"n": args.n, "size": args.size, "rows": rows, "stages_ms": stages})
    return 0


if __name__ == "__main__":
    sys.exit(main())
