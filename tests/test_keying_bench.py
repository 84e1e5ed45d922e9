"""bench/chroma.py runs with the smallest settings, and its green-screen model does what it documents."""
from __future__ import annotations

import pathlib
import subprocess
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]  # the repository

sys.path.insert(0, str(ROOT / "bench"))
import chroma  # noqa: E402

from ldmatte import synth  # noqa: E402


def test_green_screen_shot_model():
    s = synth.make_sample(1, size=128)
    shot = chroma.green_screen_shot(s, 1)
    assert shot.shape == (128, 128, 3) and shot.dtype == np.uint8
    back = shot[s.alpha_gt == 0].astype(int)
    assert (back[:, 1] > back[:, 0] + 60).mean() > 0.95  # green backing
    assert back.std(axis=0).max() > 3  # uneven, noisy
    opaque = s.alpha_gt == 255
    assert np.abs(shot[opaque].astype(int) - s.rgb_gt[opaque]).mean() < 25  # the subject is still itself
    assert np.array_equal(shot, chroma.green_screen_shot(s, 1))  # reproducible


def test_chroma_bench_runs(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "chroma.py"), "--n", "1", "--tune-n", "1",
                           "--size", "96", "--out", str(tmp_path / "c.md"), "--panel", str(tmp_path / "c.png")],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = (tmp_path / "c.md").read_text()
    assert "| Layer Diffusion + ldmatte.refine |" in text and "Vlahos colour difference, tuned" in text
    assert (tmp_path / "c.png").stat().st_size > 1000
