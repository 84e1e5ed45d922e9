"""Quality-control measures and verdicts: real samples, good synthetic portraits, constructed bad kinds.

The numbers behind the defaults of ``ldmatte.dataset.qc.QCConfig``: every
measure of every rule on the refined alpha, the verdict with the default
thresholds, and per measure the margin between what good samples reach and
the threshold.

    python bench/qc_table.py                      # markdown on stdout
    python bench/qc_table.py --n 24 --size 512 --out qc.md
"""
from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import DATA_DIR  # noqa: E402

from ldmatte import refine_alpha, synth  # noqa: E402
from ldmatte.dataset.constructed import BAD_KINDS, EXPECTED, make_bad  # noqa: E402
from ldmatte.dataset.qc import QCConfig, evaluate  # noqa: E402
from ldmatte.io import ImageReadError, read_rgba  # noqa: E402

# measure -> (threshold attribute, True when the rule fires above the threshold)
MEASURES = {
    "subject_area": ("min_subject_area", False),
    "top_contact": ("max_top_contact", True),
    "side_contact": ("max_side_contact", True),
    "second_subject": ("max_second_subject", True),
    "haze": ("max_haze", True),
    "uniform": ("max_uniform", True),
    "repaired": ("max_repaired", True),
}


def judge(rgba: np.ndarray) -> dict:
    alpha, report = refine_alpha(np.ascontiguousarray(rgba[..., 3]), return_report=True)
    return evaluate(alpha, report).to_dict()


def real_rows(data) -> list[tuple[str, dict]]:
    rows = []
    for path in sorted(pathlib.Path(data).glob("*.png")) if pathlib.Path(data).is_dir() else []:
        try:
            rgba, info = read_rgba(path)
        except ImageReadError:
            continue
        if not info.alpha_only and path.stem != "pad_input":
            rows.append((path.stem, judge(rgba)))
    return rows


def synthetic_rows(n, size, seed) -> tuple[list, list]:
    good, bad = [], []
    for i in range(n):
        raw = synth.make_sample(seed + i, size).rgba
        good.append((f"synthetic {seed + i}", judge(raw)))
        kind = BAD_KINDS[i % len(BAD_KINDS)]
        bad.append((f"{kind} (from {seed + i}), expect {EXPECTED[kind]}", judge(make_bad(kind, raw, seed=i))))
    return good, bad


def fmt(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def table(rows) -> str:
    head = ["sample", *MEASURES, "verdict"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, v in rows:
        m = v["measures"]
        verdict = "keep" if v["keep"] else "delete: " + ", ".join(v["reasons"])
        out.append("| " + " | ".join([name, *(fmt(m.get(k)) for k in MEASURES), verdict]) + " |")
    return "\n".join(out)


def margins(good_rows, config) -> str:
    """Per measure: the worst value among good samples, the threshold, and their ratio."""
    out = ["| measure | threshold | worst good sample | threshold / worst (or worst / threshold) |", "|---|---|---|---|"]
    for k, (attr, above) in MEASURES.items():
        vals = [v["measures"][k] for _, v in good_rows if v["measures"].get(k) is not None]
        if not vals:
            continue
        t = getattr(config, attr)
        worst = max(vals) if above else min(vals)
        ratio = (t / worst if worst else None) if above else (worst / t)
        out.append(f"| {k} | {t:g} | {worst:.3f} | {'(never above 0)' if ratio is None else f'{ratio:.1f}x'} |")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=16, help="synthetic portraits (and as many bad samples)")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=str(DATA_DIR), help="folder of real Layer Diffusion RGBA samples")
    ap.add_argument("--out", help="also write the markdown here")
    args = ap.parse_args(argv)
    config = QCConfig()
    reals = real_rows(args.data)
    good, bad = synthetic_rows(args.n, args.size, args.seed)
    caught = sum(1 for name, v in bad if name.split("expect ")[1] in v["reasons"])
    portraits = [r for r in reals if not r[0].startswith("glass")]
    text = "\n".join([
        f"# Quality control (bench/qc_table.py): defaults {config}", "",
        f"## Real samples ({len(reals)})", "", table(reals), "",
        f"## Good synthetic portraits ({len(good)}, {args.size}^2, seed {args.seed})", "", table(good), "",
        f"## Constructed bad samples: {caught} of {len(bad)} caught by the expected rule", "", table(bad), "",
        "## Margins: thresholds against the worst kept-worthy sample (good synthetic + kept real)", "",
        margins(good + [r for r in portraits if r[1]["keep"]], config), "",
    ])
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text)
    return 0 if caught == len(bad) else 1


if __name__ == "__main__":
    sys.exit(main())
