"""bench/video.py still runs (smallest settings; its figures are checked in bench/RESULTS.md, not here)."""
from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]  # the repository

pytest.importorskip("av")
pytest.importorskip("pymatting")


def test_video_bench_runs(tmp_path):
    out = tmp_path / "v.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "video.py"), "--size", "96", "--frames", "4",
                           "--json", str(out), "--panel", str(tmp_path / "p.png")],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert [r["method"] for r in result["rows"]][0] == "stabilised (shipped)" and result["fps"]["matting"] > 0
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_video_real_bench_runs(tmp_path):
    """bench/video_real.py on the first 3 frames of chair (skipped without the real clips)."""
    if not (ROOT.parent / "shared" / "data" / "video" / "chair" / "frames").is_dir():
        pytest.skip("real clips not present")
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "video_real.py"), "--clips", "chair", "--frames", "3",
                           "--segment", "chair", "--json", str(out), "--panel", str(tmp_path / "p.png")],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    clip = result["clips"][0]
    assert clip["frames"] == 3 and clip["iou"]["pipeline (alpha > 0.5)"]["mean"] > 0.7
    assert result["segment"][0]["frames"] == 3 and result["segment"][0]["iou_mean"] > 0.8
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_video_speed_bench_runs(tmp_path):
    out = tmp_path / "s.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "video_speed.py"), "--sizes", "72", "--frames", "2",
                           "--clips", "synthetic", "--modes", "full,2000", "--json", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [r["working_size"] for r in rows] == [[128, 72], [58, 34]] and all(r["fps"]["matting"] > 0 for r in rows)
