"""Benchmark: how much of the machine's second core a batch refine turns into speed.

On a shared machine the speed-up two threads can give changes from second to
second (a virtual CPU is not always a whole core), so a single ratio says as
much about the neighbours as about the code. Short timings also flatter one
thread: a second virtual CPU that sat idle takes a while to be running again.
A dataset build is sustained work, so this script measures throughput over
windows of ``--window`` seconds of back-to-back batches. Each round runs, in
alternating order, a batch refine of real 1024x1024 RGBA at 1 and N threads
and a compute-bound loop (``_common._spin``, no memory traffic, nothing
shared) at 1 and N threads. Per round it records both speed-ups; the summary
gives their distributions, the refine speed-up in the rounds where the loop
got at least 90 % of N (the machine's cores were whole), and the ratio of the
two (refine's share of what the machine gave). A second yardstick is the same
refine in N separate processes at 1 thread each, started together: processes
share nothing but the hardware, so no threading of one process can beat them.
``--plot`` draws one point per round.

    python bench/bench_scaling.py --threads 2 --rounds 12 --json bench/out/scaling.json --plot bench/out/scaling.png
"""
from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import time

import numpy as np

from _common import BATCH, _spin, real_rgba_paths, set_threads, write_json
from bench_pad import load_rgba


def _timed(threads: int, fn) -> float:
    set_threads(threads)
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _throughput(threads: int, fn, window: float) -> float:
    """Calls per second of ``fn`` run back to back for at least ``window`` seconds."""
    set_threads(threads)
    calls, t0 = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= window:
            return calls / elapsed


def _loop_size(target_s: float) -> int:
    """Iterations per chunk of the calibration loop so that it takes about ``target_s`` on 1 thread."""
    set_threads(1)
    t0 = time.perf_counter()
    _spin(BATCH, 200_000)
    per_iter = (time.perf_counter() - t0) / (BATCH * 200_000)
    return max(10_000, int(target_s / (BATCH * per_iter)))


def _batch() -> np.ndarray:
    ims = [load_rgba(p) for p in real_rgba_paths((1024, 1024))]
    return np.ascontiguousarray(np.stack([ims[i % len(ims)] for i in range(BATCH)]))


_WORKER = {}


def _worker_init(barrier) -> None:
    import ldmatte

    stack = _batch()
    _WORKER.update(barrier=barrier, refine=lambda: ldmatte.refine(stack, return_report=True))
    _timed(1, _WORKER["refine"])


def _worker_window(window: float) -> float:
    """One process's images per second at 1 thread, after every process is ready."""
    _WORKER["barrier"].wait(timeout=600)
    return _throughput(1, _WORKER["refine"], window) * BATCH


def _processes(n: int):
    """A pool of ``n`` processes; ``rate(window)`` is their summed images/s over a window run together."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    pool = ctx.Pool(n, initializer=_worker_init, initargs=(ctx.Barrier(n),))
    return pool, lambda window: sum(pool.map(_worker_window, [window] * n, chunksize=1))


def run(threads: int, rounds: int, window: float) -> tuple[list[dict], dict]:
    import ldmatte

    if not real_rgba_paths((1024, 1024)):
        return [], {}
    stack = _batch()
    refine = lambda: ldmatte.refine(stack, return_report=True)  # noqa: E731
    pool, processes = _processes(threads)
    try:
        processes(0.0)  # every worker has loaded the images and compiled before anything is timed
        return _rounds(threads, rounds, window, refine, processes)
    finally:
        pool.terminate()


def _rounds(threads, rounds, window, refine, processes):
    for n in (1, threads):
        _timed(n, refine)
    t1 = statistics.median(_timed(1, refine) for _ in range(3))
    n_iter = _loop_size(t1)
    spin = lambda: _spin(BATCH, n_iter)  # noqa: E731
    for n in (1, threads):
        _timed(n, spin)
    rows = []
    for r in range(rounds):
        order = [(1, "refine"), (threads, "refine"), (threads, "processes"), (1, "loop"), (threads, "loop")]
        if r % 2:
            order.reverse()
        q = {}
        for n, what in order:
            if what == "processes":
                q[(n, what)] = processes(window) / BATCH
            else:
                q[(n, what)] = _throughput(n, refine if what == "refine" else spin, window)
        rows.append({"round": r, "refine 1 ms/img": 1e3 / (q[(1, "refine")] * BATCH),
                     f"refine {threads} img/s": q[(threads, "refine")] * BATCH,
                     "refine speed-up": q[(threads, "refine")] / q[(1, "refine")],
                     "processes speed-up": q[(threads, "processes")] / q[(1, "refine")],
                     "loop speed-up": q[(threads, "loop")] / q[(1, "loop")]})
    return rows, summarise(rows, threads)


def summarise(rows: list[dict], threads: int) -> dict:
    ref = np.array([r["refine speed-up"] for r in rows])
    loop = np.array([r["loop speed-up"] for r in rows])
    procs = np.array([r["processes speed-up"] for r in rows])
    whole = loop >= 0.9 * threads
    q = lambda a: [float(np.percentile(a, p)) for p in (10, 50, 90)] if a.size else []  # noqa: E731
    return {
        "threads": threads, "rounds": len(rows),
        "refine_speedup_p10_p50_p90": q(ref), "loop_speedup_p10_p50_p90": q(loop),
        "share_of_machine_p10_p50_p90": q(ref / loop),
        "processes_speedup_p10_p50_p90": q(procs), "share_of_processes_p10_p50_p90": q(ref / procs),
        "rounds_with_whole_cores": int(whole.sum()),
        "refine_speedup_when_whole_p10_p50_p90": q(ref[whole]),
        "refine_ms_per_image_1_thread": float(np.median([r["refine 1 ms/img"] for r in rows])),
        "refine_img_per_s_threads": float(np.median([r[f"refine {threads} img/s"] for r in rows])),
    }


def plot(rows: list[dict], threads: int, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    loop = [r["loop speed-up"] for r in rows]
    ref = [r["refine speed-up"] for r in rows]
    fig, ax = plt.subplots(figsize=(5.5, 5))
    lo, hi = 1.0, threads * 1.05
    ax.plot([lo, hi], [lo, hi], color="#999999", lw=1, label="as much as the machine gave")
    ax.axhline(1.8 if threads == 2 else 0.9 * threads, color="#e08a1e", lw=1, ls="--", label="target")
    procs = [r["processes speed-up"] for r in rows]
    ax.scatter(loop, procs, s=14, color="#bbbbbb", marker="s", label=f"{threads} processes at 1 thread, one round")
    ax.scatter(loop, ref, s=16, color="#2a7ab9", label=f"ldmatte.refine at {threads} threads, one round")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel(f"compute-bound loop: {threads} threads vs 1")
    ax.set_ylabel(f"refine of 8 x 1024² RGBA: throughput vs 1 thread")
    ax.set_title("Sustained thread speed-up, round by round")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="thread count compared with 1 (default 2)")
    ap.add_argument("--rounds", type=int, default=12, help="rounds (each four windows)")
    ap.add_argument("--window", type=float, default=2.0, help="seconds of back-to-back batches per measurement")
    ap.add_argument("--json", metavar="OUT", help="also write the rounds and summary as JSON")
    ap.add_argument("--plot", metavar="PNG", help="also write a scatter plot, one point per round")
    args = ap.parse_args(argv)
    rows, s = run(args.threads, args.rounds, args.window)
    if not rows:
        print("no data: real 1024x1024 RGBA samples not found (set LDMATTE_DATA)", file=sys.stderr)
        return 1
    f = lambda v: " / ".join(f"{x:.2f}" for x in v) or "-"  # noqa: E731
    n = args.threads
    print(f"batch refine of {BATCH} real 1024x1024 RGBA, {n} threads vs 1, sustained throughput over {args.window:g} s "
          f"windows, {s['rounds']} rounds (p10 / p50 / p90)")
    print(f"  refine speed-up:              {f(s['refine_speedup_p10_p50_p90'])}")
    print(f"  compute-bound loop speed-up:  {f(s['loop_speedup_p10_p50_p90'])}")
    print(f"  refine / loop, per round:     {f(s['share_of_machine_p10_p50_p90'])}")
    print(f"  {n} processes at 1 thread:      {f(s['processes_speedup_p10_p50_p90'])}")
    print(f"  refine / processes, per round: {f(s['share_of_processes_p10_p50_p90'])}")
    print(f"  rounds where the loop got >= {0.9 * n:.1f}x: {s['rounds_with_whole_cores']}; refine speed-up in them: "
          f"{f(s['refine_speedup_when_whole_p10_p50_p90'])}")
    print(f"  refine at 1 thread: {s['refine_ms_per_image_1_thread']:.1f} ms per image (median over the rounds)")
    if args.json:
        pathlib.Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        write_json(args.json, {"benchmark": "scaling", "rows": rows, **s})
    if args.plot:
        pathlib.Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        plot(rows, n, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
