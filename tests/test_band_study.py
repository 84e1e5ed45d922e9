"""bench/band_study.py runs on real samples: the report, the panels and the overview."""
from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_band_study_two_samples(tmp_path, data_dir):
    cmd = [sys.executable, str(ROOT / "bench" / "band_study.py"), "--data", str(data_dir), "--only", "dog_sd15",
           "fg_cond_sd15", "--out", str(tmp_path / "b.md"), "--panels", str(tmp_path / "p.png"), "--overview",
           str(tmp_path / "o.png"), "--panel-rows", "3"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = (tmp_path / "b.md").read_text()
    assert "| dog_sd15 | 512 |" in text and "| fg_cond_sd15 | 512 |" in text and "## Thick stretches" in text
    assert (tmp_path / "p.png").stat().st_size > 1000 and (tmp_path / "o.png").stat().st_size > 1000
