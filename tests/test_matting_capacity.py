"""bench/capacity.py runs end to end at the smallest settings (nested subsets, same budget, table and plot)."""
from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]  # the repository

pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.mark.slow
def test_capacity_tiny(tmp_path):
    out = tmp_path / "cap"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "capacity.py"), "--n", "4", "--size", "96",
                           "--sizes", "2,4", "--steps", "2", "--batch", "2", "--crop", "64", "--heldout-n", "2",
                           "--device", "cpu", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads((out / "capacity.json").read_text())
    assert [r["samples"] for r in result["rows"]] == [2, 4]
    assert all(r["failures"] == 0 and r["steps"] == 2 for r in result["rows"])
    assert result["baseline"]["sad"] > 0
    assert (out / "capacity.png").stat().st_size > 1000
    assert "trimap only (0.5)" in (out / "capacity.md").read_text()
    runs = sorted(out.glob("capacity-*/run-*/split.json"))
    small, large = (set(json.loads(p.read_text())["train"]) for p in runs)
    assert len(small) == 2 and small < large  # nested subsets
