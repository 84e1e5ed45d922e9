"""The dataset card: README.md of a dataset folder, with counts, reasons and attribute histograms."""
from __future__ import annotations

import collections
import glob
import json
import os

import numpy as np

from .manifest import read_lines, read_manifest, write_atomic
from .qc import RULES, QCConfig

__all__ = ["card_text", "write_card"]

_BAR = 30


def _bar(count: int, top: int) -> str:
    return "#" * max(1 if count else 0, round(_BAR * count / top)) if top else ""


def _settings(root: str) -> dict:
    try:
        with open(os.path.join(root, "dataset.json"), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _errors(root: str) -> list[dict]:
    out = []
    for path in sorted(glob.glob(os.path.join(glob.escape(root), "errors*.jsonl"))):
        out.extend(read_lines(path))
    return out


def _counts_section(entries: dict, errors: list) -> list[str]:
    status = collections.Counter(e["status"] for e in entries.values())
    lines = ["## Counts", "", "| | samples |", "| --- | ---: |", f"| finished | {len(entries)} |",
             f"| kept (`fg/`, `alpha/`) | {status['kept']} |",
             f"| rejected (`rejected/`) | {status['rejected']} |",
             f"| could not be read or processed (`errors*.jsonl`) | {len(errors)} |", ""]  # fmt: skip
    sizes = collections.Counter(f"{e.get('width')}x{e.get('height')}" for e in entries.values())
    lines += ["Sizes (width x height): " + ", ".join(f"{k}: {v}" for k, v in sizes.most_common()), ""]
    return lines


def _reasons_section(entries: dict, qc: dict) -> list[str]:
    reasons = collections.Counter(r for e in entries.values() for r in e.get("qc", {}).get("reasons", []))
    lines = ["## Quality control", "",
             "A sample is rejected when any rule fires (a sample may have several reasons).", "",
             "| reason | rejected | rule | threshold |", "| --- | ---: | --- | --- |"]  # fmt: skip
    for rule in RULES:
        limit = qc.get(rule.threshold, getattr(QCConfig(), rule.threshold))
        cmp = ">" if rule.above else "<"
        lines.append(f"| `{rule.code}` | {reasons[rule.code]} | {rule.text} | {rule.measure} {cmp} {limit:g} |")
    return lines + [""]


def _attributes_section(entries: dict) -> list[str]:
    per_attr: dict = collections.defaultdict(lambda: collections.defaultdict(lambda: [0, 0]))
    for e in entries.values():
        for name, value in (e.get("attributes") or {}).items():
            cell = per_attr[name][str(value)]
            cell[0] += 1
            cell[1] += e["status"] == "kept"
    if not per_attr:
        return []
    lines = ["## Attributes", "", "Per attribute: samples with each value (all / kept), bars scaled to the most "
             "frequent value.", ""]  # fmt: skip
    for name in sorted(per_attr):
        values = sorted(per_attr[name].items(), key=lambda kv: (-kv[1][0], kv[0]))
        top = values[0][1][0]
        width = max(len(v) for v, _ in values)
        lines += [f"### {name}", "", "```"]
        lines += [f"{v:<{width}}  {n:>6} / {k:<6} {_bar(n, top)}" for v, (n, k) in values]
        lines += ["```", ""]
    return lines


def _refinement_section(entries: dict) -> list[str]:
    rows = [e["report"] for e in entries.values() if e.get("report")]
    if not rows:
        return []
    lines = ["## Refinement", "", "Per-image shares of the image (median, 95th percentile, max over finished "
             "samples).", "", "| measure | median | p95 | max |", "| --- | ---: | ---: | ---: |"]  # fmt: skip
    for key in ("transition_share_before", "transition_share_after", "changed_share", "uncertain_kept_share"):
        v = np.array([r.get(key, np.nan) for r in rows], float)
        v = v[np.isfinite(v)]
        if v.size:
            lines.append(f"| {key} | {np.median(v):.4f} | {np.percentile(v, 95):.4f} | {v.max():.4f} |")
    return lines + [""]


def _models_section(entries: dict) -> list[str]:
    models = collections.Counter(json.dumps(e["model"], sort_keys=True) for e in entries.values() if e.get("model"))
    if not models:
        return []
    lines = ["## Models", ""]
    for text, n in models.most_common():
        lines += [f"{n} samples:", "", "```json", json.dumps(json.loads(text), indent=2), "```", ""]
    return lines


_LAYOUT = """## Layout

- `fg/<id>.png`: foreground RGB; straight colour where alpha > 0, LayerDiffuse-style padded colour where alpha = 0.
- `alpha/<id>.png`: 8-bit alpha matte (refined).
- `manifest.jsonl`: one JSON line per finished sample (kept or rejected): prompt and attributes, seed, model
  identifiers, the refinement report, the quality verdict (`qc.keep`, `qc.reasons`, `qc.measures`).
- `rejected/fg`, `rejected/alpha`, `rejected/manifest.jsonl`: the samples quality control deleted, with reasons.
- `dataset.json`: source, refinement and quality-control settings of the last run.
"""


def card_text(root: str, entries: dict | None = None) -> str:
    """The Markdown of a dataset's card."""
    entries = read_manifest(root) if entries is None else entries
    settings = _settings(root)
    source = settings.get("source", {})
    head = [f"# Portrait matting dataset ({source.get('source', 'unknown source')})", "",
            f"Built with ldmatte {settings.get('ldmatte', '?')}. Source settings: "
            f"`{json.dumps(source, sort_keys=True)}`.", ""]  # fmt: skip
    parts = [head, _counts_section(entries, _errors(root)), _reasons_section(entries, settings.get("qc", {})),
             _attributes_section(entries), _refinement_section(entries), _models_section(entries),
             [_LAYOUT]]  # fmt: skip
    return "\n".join(line for part in parts for line in part).rstrip() + "\n"


def write_card(root: str, entries: dict | None = None) -> str:
    """Write README.md atomically; return its path."""
    path = os.path.join(root, "README.md")
    write_atomic(path, card_text(root, entries).encode("utf-8"))
    return path
