"""Benchmark: the Numba CAAR kernel (ldmatte.refine_alpha) against the plain scipy reference.

Real 1024x1024 alphas, one image and a batch of 8, at 1 and ``--threads``
threads. Samples of all variants are taken round-robin in one run and the
ratios compare timings of that run (the machine is shared and noisy).

    python bench/bench_caar.py --threads 2 --repeat 9 --json bench/out/caar.json
    python bench/bench_caar.py --repeat 9 --hysteresis   # also hysteresis on vs off, same run
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from _common import BATCH, interleaved_medians, machine_note, machine_scaling_fns, print_table, real_alphas, set_threads, write_json


def _threaded(n, fn):
    def call():
        set_threads(n)
        return fn()

    return call


def check_equal(alpha: np.ndarray, **kw) -> None:
    import ldmatte
    from ldmatte.reference.caar import STAT_FIELDS, refine_alpha_reference

    out, reps = ldmatte.refine_alpha(alpha, return_report=True, **kw)
    ref, ref_stats = refine_alpha_reference(alpha, **{**dict(hysteresis=ldmatte.DEFAULTS["hysteresis"]), **kw})
    stats = [r.to_dict() for r in (reps if isinstance(reps, list) else [reps])]
    ref_rows = np.atleast_2d(ref_stats)
    same_stats = all([d[k] for k in STAT_FIELDS] == row.tolist() for d, row in zip(stats, ref_rows))
    if not np.array_equal(out, ref) or not same_stats:
        raise SystemExit("refine_alpha differs from refine_alpha_reference")


def run(threads: int, repeat: int, hysteresis: bool = False) -> tuple[list[dict], dict]:
    import ldmatte
    from ldmatte.reference.caar import refine_alpha_reference

    alphas = real_alphas((1024, 1024))
    rows = []
    for name, a in alphas.items():
        check_equal(a)
        fns = {
            "ldmatte": _threaded(1, lambda: ldmatte.refine_alpha(a)),
            "reference": _threaded(1, lambda: refine_alpha_reference(a)),
        }
        if hysteresis:  # the defaults with hysteresis off and on, timed in the same round-robin
            for on in (False, True):
                check_equal(a, hysteresis=on)
                fns[f"hyst {on}"] = _threaded(1, lambda on=on: ldmatte.refine_alpha(a, hysteresis=on))
        t = interleaved_medians(fns, repeat=repeat)
        rows.append({"case": name, "images": 1, "threads": 1, "ldmatte ms/img": t["ldmatte"] * 1e3,
                     "reference ms/img": t["reference"] * 1e3, "speed-up": t["reference"] / t["ldmatte"]})
        if hysteresis:
            rows[-1].update({"hyst off ms/img": t["hyst False"] * 1e3, "hyst on ms/img": t["hyst True"] * 1e3,
                             "on / off": t["hyst True"] / t["hyst False"]})
    names = list(alphas)
    stack = np.stack([alphas[names[i % len(names)]] for i in range(BATCH)]) if names else None
    summary = {}
    if stack is not None:
        check_equal(stack)
        counts = sorted({1, threads})
        fns = {f"ldmatte {n}": _threaded(n, lambda: ldmatte.refine_alpha(stack)) for n in counts}
        fns["reference"] = _threaded(1, lambda: refine_alpha_reference(stack))
        fns.update(machine_scaling_fns(counts))
        t = interleaved_medians(fns, repeat=max(3, repeat // 2))
        for n in counts:
            rows.append({"case": f"batch of {BATCH} real", "images": BATCH, "threads": n,
                         "ldmatte ms/img": t[f"ldmatte {n}"] * 1e3 / BATCH,
                         "reference ms/img": t["reference"] * 1e3 / BATCH,
                         "speed-up": t["reference"] / t[f"ldmatte {n}"]})
        summary = {"batch_thread_speedup": t["ldmatte 1"] / t[f"ldmatte {max(counts)}"], "threads": max(counts),
                   "machine_thread_speedup": t["machine 1"] / t[f"machine {max(counts)}"],
                   "machine_note": machine_note(t, max(counts))}
    return rows, summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="thread count for the batch, besides 1 (default 2)")
    ap.add_argument("--repeat", type=int, default=9, help="timed samples per function (median reported)")
    ap.add_argument("--json", metavar="OUT", help="also write the rows as JSON")
    ap.add_argument("--hysteresis", action="store_true", help="also time hysteresis off and on (per image)")
    args = ap.parse_args(argv)
    rows, summary = run(args.threads, args.repeat, args.hysteresis)
    if not rows:
        print("no data", file=sys.stderr)
        return 1
    print(f"refine_alpha (CAAR, defaults), median of {args.repeat}; reference = refine_alpha_reference")
    print_table(rows, list(dict.fromkeys(k for r in rows for k in r)))
    if summary:
        n, speedup = summary["threads"], summary["batch_thread_speedup"]
        print(f"batch of {BATCH}: {n} threads are {speedup:.2f}x faster than 1{summary['machine_note']}")
    if args.json:
        write_json(args.json, {"benchmark": "caar", "rows": rows, **summary})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
