"""bench/bench_generate.py runs once on the CPU with the tiny random SDXL and the smallest settings
(its figures are not checked: a smoke run; full size runs from bench/gpu_check.sh on a GPU)."""
from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]  # the repository

pytest.importorskip("diffusers")


@pytest.mark.slow
def test_generation_benchmark_tiny_cpu(tmp_path):
    out = tmp_path / "g.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_generate.py"), "--device", "cpu", "--tiny", "--batch", "1",
         "--batches", "1", "--steps", "1", "--threads", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    r = json.loads(out.read_text())
    assert r["images"] == 1 and r["images_per_s"] > 0
    assert r["files_written"] == 2 * 2  # fg and alpha of the warm-up and the timed sample
    assert set(r["stage_share"]) == {"text", "unet_steps", "vae", "decoder_tta_batched", "refine", "host", "qc",
                                     "write"}  # fmt: skip
    assert r["tta_batched_s"] > 0 and r["tta_sequential_s"] > 0 and "TTA decode alone" in proc.stdout
