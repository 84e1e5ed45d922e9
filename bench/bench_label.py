"""Benchmark: ldmatte.label against cv2, scipy and cc3d on real transition masks and on noise.

Every figure is a median over ``--repeat`` round-robin samples taken in this
run, and the ratios compare timings of the same run (the machine is shared and
noisy; absolute times from another run mean little).

    python bench/bench_label.py --threads 1 --repeat 15 --json bench/out/label.json
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from _common import interleaved_medians, noise_mask, print_table, real_alphas, set_threads, transition_mask, write_json


def cases() -> dict[str, np.ndarray]:
    masks = {f"{name} (8<a<247)": transition_mask(a) for name, a in real_alphas((1024, 1024)).items()}
    masks["noise 50% 1024x1024"] = noise_mask((1024, 1024), 0.5)
    return masks


def competitors(mask: np.ndarray, connectivity: int) -> dict:
    import cc3d
    import cv2
    from scipy import ndimage

    import ldmatte

    structure = np.ones((3, 3), bool) if connectivity == 8 else ndimage.generate_binary_structure(2, 1)
    as_bool = mask.view(bool)
    return {
        "ldmatte": lambda: ldmatte.label(mask, connectivity),
        "cv2": lambda: cv2.connectedComponents(mask, connectivity=connectivity, ltype=cv2.CV_32S),
        "scipy": lambda: ndimage.label(as_bool, structure=structure),
        "cc3d": lambda: cc3d.connected_components(mask, connectivity=connectivity),
    }


def check_equal(mask: np.ndarray, connectivity: int) -> None:
    from ldmatte.reference.label import label_reference

    import ldmatte

    if not np.array_equal(ldmatte.label(mask, connectivity), label_reference(mask, connectivity)[0]):
        raise SystemExit("ldmatte.label differs from scipy.ndimage.label")


def run(threads: int, repeat: int, connectivity: int) -> list[dict]:
    set_threads(threads)
    rows = []
    for name, mask in cases().items():
        check_equal(mask, connectivity)
        t = interleaved_medians(competitors(mask, connectivity), repeat=repeat, inner=3)
        rows.append({
            "case": name,
            "threads": threads,
            "fg share": float(mask.mean()),
            "ldmatte ms": t["ldmatte"] * 1e3,
            "cv2 ms": t["cv2"] * 1e3,
            "scipy ms": t["scipy"] * 1e3,
            "cc3d ms": t["cc3d"] * 1e3,
            "ld/cv2": t["ldmatte"] / t["cv2"],
            "ld/scipy": t["ldmatte"] / t["scipy"],
            "ld/cc3d": t["ldmatte"] / t["cc3d"],
        })
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="Numba and OpenCV threads (default 1)")
    ap.add_argument("--repeat", type=int, default=9, help="timed samples per function (median reported)")
    ap.add_argument("--connectivity", type=int, choices=(4, 8), default=8)
    ap.add_argument("--json", metavar="OUT", help="also write the rows as JSON")
    args = ap.parse_args(argv)
    rows = run(args.threads, args.repeat, args.connectivity)
    if not rows:
        print("no data", file=sys.stderr)
        return 1
    print(f"label, {args.connectivity}-connectivity, {args.threads} thread(s), median of {args.repeat}")
    print_table(rows, list(rows[0]))
    if args.json:
        write_json(args.json, {"benchmark": "label", "connectivity": args.connectivity, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
