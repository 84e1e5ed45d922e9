"""The bench/ scripts still run: each once, with the smallest settings (their figures are not checked here)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_script(name, *args, timeout=300, data_dir=None):
    env = dict(os.environ, **({"LDMATTE_DATA": str(data_dir)} if data_dir else {}))
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / name), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_panels_synthetic(tmp_path):
    out = run_script("panels.py", "--synthetic", 1, "--width", 400, "--out", tmp_path)
    assert (tmp_path / "demo.png").stat().st_size > 1000, out


def test_kill_resume(tmp_path):
    out = run_script("kill_resume.py", "-n", 40, "--kills", 1, "--size", 96)
    assert "checks: all passed" in out


def test_qc_table(tmp_path):
    out = run_script("qc_table.py", "--n", 8, "--size", 96, "--out", tmp_path / "qc.md")
    assert "8 of 8 caught by the expected rule" in out and (tmp_path / "qc.md").exists()


def test_quality_defaults_only(tmp_path, data_dir):
    out = run_script("quality.py", "--n", 2, "--size", 128, "--no-sweep", "--ablation-n", 1, "--out", tmp_path / "q.md",
                     data_dir=data_dir)  # fmt: skip
    assert "refine_alpha, current DEFAULTS" in out and "all but halo" in out


@pytest.mark.parametrize("name", ["bench_label.py", "bench_caar.py", "bench_pad.py", "bench_refine.py"])
def test_speed_benchmarks(name, tmp_path, data_dir):
    run_script(name, "--repeat", 1, "--json", tmp_path / "r.json", data_dir=data_dir)
    rows = json.loads((tmp_path / "r.json").read_text())["rows"]
    assert rows


def test_thread_scaling_rounds(tmp_path, data_dir):
    out = run_script("bench_scaling.py", "--rounds", 2, "--window", 0.2, "--json", tmp_path / "s.json", "--plot",
                     tmp_path / "s.png", data_dir=data_dir)  # fmt: skip
    assert len(json.loads((tmp_path / "s.json").read_text())["rows"]) == 2 and (tmp_path / "s.png").exists(), out


def test_build_overhead(tmp_path):
    run_script("bench_build.py", "-n", 2, "--size", 96, "--repeat", 1, "--json", tmp_path / "b.json")
    assert json.loads((tmp_path / "b.json").read_text())["rows"]


def test_decoder_batched_vs_sequential(tmp_path):
    pytest.importorskip("diffusers")
    run_script("bench_decoder.py", "--size", 64, "--batch", 1, "--repeat", 1, "--json", tmp_path / "d.json")
    result = json.loads((tmp_path / "d.json").read_text())
    assert result["max_uint8_diff"] <= 1
