"""Benchmark: what the Ray engine of ``ldmatte build`` costs per sample against the local engine, and a 20k estimate.

Measured in one run, on one Ray instance started once (its start-up is reported apart):

- the local engine and the Ray engine building the same synthetic samples with the same number of workers, at
  two sizes (``-n`` and ``2 n``), alternately, ``--repeat`` times (medians): the slope between the two sizes is
  the cost per sample, the rest the fixed cost of a run (for Ray: starting the actors, which import ldmatte);
  the ratio of the slopes is the Ray engine's per-sample overhead on this machine;
- the executor's own round trip per item (driver -> actor -> driver, a function that does nothing), at the
  batch size the build uses: what the engine adds to every batch whatever the work.

Then a table estimates a 20,051-sample build on 1, 8 and 32 GPUs from a per-image generation time
(``--generation-seconds``, measured elsewhere on the GPU: SDXL + LayerDiffuse at 1024², batch 4), the
CPU time per sample of quality control and writing measured here, the driver's cost per manifest row and a
model-loading time per worker (``--load-seconds``).

    python bench/bench_ray.py -n 24 --size 256 --workers 2 --repeat 3 --generation-seconds 2.0 --json bench/out/ray.json
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time

from _common import print_table, write_json

PAPER_SAMPLES = 20051


def _timed_build(n: int, size: int, workers: int, executor=None) -> tuple[float, object]:
    from ldmatte.dataset import SyntheticSource, build

    folder = tempfile.mkdtemp(prefix="bench-ray-")
    try:
        t0 = time.perf_counter()
        summary = build(SyntheticSource(n, seed=0, size=size, bad_fraction=0.25), folder, progress=False,
                        workers=None if executor is not None else workers, executor=executor)  # fmt: skip
        return time.perf_counter() - t0, summary
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _noop(ids):
    return [{"id": i} for i in ids]


def _round_trip(workers: int, items: int, batch: int) -> float:
    """Seconds per item of RayExecutor.map over a function that does nothing (actor start excluded)."""
    from ldmatte.dataset.ray_engine import RayExecutor, RayOptions

    batches = [[f"x{k}-{j}" for j in range(batch)] for k in range(items)]
    ex = RayExecutor(RayOptions(workers=workers))
    it = ex.map(_noop, batches)
    first = next(it)  # the actors are up once the first item is back
    t0 = time.perf_counter()
    rest = sum(1 for _ in it)
    assert first.error is None and rest == items - 1
    return (time.perf_counter() - t0) / max(1, rest)


def run(n: int, size: int, workers: int, repeat: int, batch: int, address=None, warmup: bool = True) -> dict:
    import ray

    from ldmatte.dataset.ray_engine import RayExecutor, RayOptions

    t0 = time.perf_counter()
    kwargs = {"address": address} if address else {"num_cpus": workers, "include_dashboard": False}
    ray.init(log_to_driver=False, logging_level="ERROR", **kwargs)
    init_s = time.perf_counter() - t0
    try:
        options = RayOptions(workers=workers, batch_size=batch)
        runs = {("local", n): [], ("local", 2 * n): [], ("ray", n): [], ("ray", 2 * n): []}
        if warmup:
            _timed_build(2, size, workers)  # warm-up: kernel caches of this process
            _timed_build(2, size, workers, RayExecutor(options))  # and of the workers' first import
        stages = {}
        steady = []  # ray: seconds per sample once the first batch is back (actor start-up excluded)
        for _ in range(repeat):
            for engine, count in runs:
                seconds, summary = _timed_build(count, size, workers, RayExecutor(options) if engine == "ray" else None)
                runs[(engine, count)].append(seconds)
                if engine == "ray" and count == 2 * n:
                    stages = {k: v / summary.processed for k, v in summary.timings.items()}
                    steady.append((summary.seconds - summary.startup_seconds) / (summary.processed - batch))
        med = {k: statistics.median(v) for k, v in runs.items()}
        per_sample = {e: (med[(e, 2 * n)] - med[(e, n)]) / n for e in ("local", "ray")}
        fixed = {e: med[(e, n)] - n * per_sample[e] for e in ("local", "ray")}
        per_sample["ray, started"] = statistics.median(steady)
        trip = statistics.median(_round_trip(workers, 40, batch) for _ in range(repeat))
    finally:
        ray.shutdown()
    return {"init_s": init_s, "median_s": {f"{e} n={c}": v for (e, c), v in med.items()}, "per_sample_s": per_sample,
            "fixed_s": fixed, "round_trip_per_batch_s": trip, "batch": batch, "stages_s": stages}  # fmt: skip


def estimate(gen_s: float, cpu_s: float, driver_s: float, load_s: float, gpus=(1, 8, 32)) -> list[dict]:
    """Hours for PAPER_SAMPLES samples on each GPU count, one worker per GPU.

    A worker generates then runs QC and writing on the CPU (``cpu_s``) before its next batch; the driver
    appends every row (``driver_s`` each) and bounds the whole run's rate at ``1 / driver_s``.
    """
    rows = []
    for g in gpus:
        rate = min(g / (gen_s + cpu_s), 1.0 / driver_s)
        seconds = load_s + PAPER_SAMPLES / rate
        rows.append({"GPUs": g, "img/s": rate, "hours": seconds / 3600, "GPU-hours": g * seconds / 3600,
                     "driver busy %": 100 * rate * driver_s, "engine overhead %": 100 * cpu_s / (gen_s + cpu_s)})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=24, help="samples of the smaller build (the larger has 2 n)")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch", type=int, default=4, help="ids per call to a worker (the build's default)")
    ap.add_argument("--generation-seconds", type=float, default=None,
                    help="GPU seconds per generated image (SDXL + LayerDiffuse, 1024²); the estimate needs it")
    ap.add_argument("--load-seconds", type=float, default=120.0, help="model loading per worker (default 120)")
    ap.add_argument("--ray-address", default=None, help="join this Ray cluster (default: start a local instance)")
    ap.add_argument("--no-warmup", action="store_true", help="skip the warm-up builds (smoke runs)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    r = run(args.n, args.size, args.workers, args.repeat, args.batch, args.ray_address, not args.no_warmup)
    print(f"Ray start-up (ray.init{', joining ' + args.ray_address if args.ray_address else ', local instance'}): "
          f"{r['init_s']:.1f} s")
    print(f"synthetic {args.size}x{args.size}, {args.workers} workers, medians of {args.repeat}")
    rows = [{"engine": e, "ms/sample": 1e3 * r["per_sample_s"][e], "fixed s per run": r["fixed_s"][e],
             f"s for {args.n}": r["median_s"][f"{e} n={args.n}"], f"s for {2 * args.n}": r["median_s"][f"{e} n={2 * args.n}"]}
            for e in ("local", "ray")]  # fmt: skip
    print_table(rows, list(rows[0]))
    ratio = r["per_sample_s"]["ray, started"] / r["per_sample_s"]["local"]
    print(f"ray once its workers are up: {1e3 * r['per_sample_s']['ray, started']:.1f} ms/sample; ray / local per "
          f"sample: {ratio:.2f}x (slopes: {r['per_sample_s']['ray'] / r['per_sample_s']['local']:.2f}x)")
    print(f"executor round trip: {1e3 * r['round_trip_per_batch_s']:.2f} ms per "
          f"batch of {args.batch} ({1e3 * r['round_trip_per_batch_s'] / args.batch:.2f} ms per sample)")
    r["ratio"] = ratio
    cpu_s = sum(v for k, v in r["stages_s"].items() if k in ("qc", "write"))
    if args.generation_seconds:
        driver_s = r["round_trip_per_batch_s"] / args.batch
        rows = estimate(args.generation_seconds, cpu_s, driver_s, args.load_seconds)
        print(f"estimate for {PAPER_SAMPLES} samples: {args.generation_seconds:g} s generation per image (given), "
              f"{1e3 * cpu_s:.1f} ms QC + writing per sample on a worker's CPU, {1e3 * driver_s:.2f} ms driver per "
              f"sample (measured here), {args.load_seconds:g} s model loading")
        print_table(rows, list(rows[0]))
        r["estimate"] = rows
    if args.json:
        write_json(args.json, r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
