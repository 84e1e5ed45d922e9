"""Benchmark: how much of the machine's second core a batch refine turns into speed.

On a shared machine the speed-up two threads can give changes from second to
second (a virtual CPU is not always a whole core), so a single ratio says as
much about the neighbours as about the code. This script takes many short
rounds; each round times, back to back and in alternating order, a batch
refine of real 1024x1024 RGBA at 1 and N threads and a compute-bound loop
(``_common._spin``, no memory traffic, nothing shared) at 1 and N threads,
sized to take about as long. Per round it records both speed-ups; the
summary gives their distributions, the refine speed-up in the rounds where
the loop got at least 90 % of N (the machine's cores were whole), and the
ratio of the two (refine's share of what the machine gave). ``--plot`` draws
one point per round.

    python bench/bench_scaling.py --threads 2 --rounds 40 --json bench/out/scaling.json --plot bench/out/scaling.png
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


def _loop_size(target_s: float) -> int:
    """Iterations per chunk of the calibration loop so that it takes about ``target_s`` on 1 thread."""
    set_threads(1)
    t0 = time.perf_counter()
    _spin(BATCH, 200_000)
    per_iter = (time.perf_counter() - t0) / (BATCH * 200_000)
    return max(10_000, int(target_s / (BATCH * per_iter)))


def run(threads: int, rounds: int, inner: int = 2) -> tuple[list[dict], dict]:
    import ldmatte

    paths = real_rgba_paths((1024, 1024))
    if not paths:
        return [], {}
    ims = [load_rgba(p) for p in paths]
    stack = np.ascontiguousarray(np.stack([ims[i % len(ims)] for i in range(BATCH)]))
    refine = lambda: ldmatte.refine(stack, return_report=True)  # noqa: E731
    for n in (1, threads):
        _timed(n, refine)
    t1 = statistics.median(_timed(1, refine) for _ in range(3))
    n_iter = _loop_size(t1)
    spin = lambda: _spin(BATCH, n_iter)  # noqa: E731
    for n in (1, threads):
        _timed(n, spin)
    rows = []
    for r in range(rounds):
        order = [(1, "refine"), (threads, "refine"), (1, "loop"), (threads, "loop")]
        if r % 2:
            order.reverse()
        t = {key: [] for key in order}
        for _ in range(inner):
            for n, what in order:
                t[(n, what)].append(_timed(n, refine if what == "refine" else spin))
        m = {key: min(v) for key, v in t.items()}  # the least disturbed of the round's samples
        rows.append({"round": r, "refine 1 ms/img": m[(1, "refine")] * 1e3 / BATCH,
                     "refine speed-up": m[(1, "refine")] / m[(threads, "refine")],
                     "loop speed-up": m[(1, "loop")] / m[(threads, "loop")]})
    return rows, summarise(rows, threads)


def summarise(rows: list[dict], threads: int) -> dict:
    ref = np.array([r["refine speed-up"] for r in rows])
    loop = np.array([r["loop speed-up"] for r in rows])
    whole = loop >= 0.9 * threads
    q = lambda a: [float(np.percentile(a, p)) for p in (10, 50, 90)] if a.size else []  # noqa: E731
    return {
        "threads": threads, "rounds": len(rows),
        "refine_speedup_p10_p50_p90": q(ref), "loop_speedup_p10_p50_p90": q(loop),
        "share_of_machine_p10_p50_p90": q(ref / loop),
        "rounds_with_whole_cores": int(whole.sum()),
        "refine_speedup_when_whole_p10_p50_p90": q(ref[whole]),
        "refine_ms_per_image_1_thread": float(np.median([r["refine 1 ms/img"] for r in rows])),
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
    ax.scatter(loop, ref, s=14, color="#2a7ab9", label="one round")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel(f"compute-bound loop: {threads} threads vs 1")
    ax.set_ylabel(f"batch refine (8 x 1024² RGBA): {threads} threads vs 1")
    ax.set_title("Thread speed-up, round by round")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="thread count compared with 1 (default 2)")
    ap.add_argument("--rounds", type=int, default=40, help="rounds (each about a second at 1024x1024)")
    ap.add_argument("--json", metavar="OUT", help="also write the rounds and summary as JSON")
    ap.add_argument("--plot", metavar="PNG", help="also write a scatter plot, one point per round")
    args = ap.parse_args(argv)
    rows, s = run(args.threads, args.rounds)
    if not rows:
        print("no data: real 1024x1024 RGBA samples not found (set LDMATTE_DATA)", file=sys.stderr)
        return 1
    f = lambda v: " / ".join(f"{x:.2f}" for x in v) or "-"  # noqa: E731
    n = args.threads
    print(f"batch refine of {BATCH} real 1024x1024 RGBA, {n} threads vs 1, {s['rounds']} rounds (p10 / p50 / p90)")
    print(f"  refine speed-up:              {f(s['refine_speedup_p10_p50_p90'])}")
    print(f"  compute-bound loop speed-up:  {f(s['loop_speedup_p10_p50_p90'])}")
    print(f"  refine / loop, per round:     {f(s['share_of_machine_p10_p50_p90'])}")
    print(f"  rounds where the loop got >= {0.9 * n:.1f}x: {s['rounds_with_whole_cores']}; refine speed-up in them: "
          f"{f(s['refine_speedup_when_whole_p10_p50_p90'])}")
    print(f"  refine at 1 thread: {s['refine_ms_per_image_1_thread']:.1f} ms per image (median of the rounds' best)")
    if args.json:
        pathlib.Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        write_json(args.json, {"benchmark": "scaling", "rows": rows, **s})
    if args.plot:
        pathlib.Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        plot(rows, n, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
