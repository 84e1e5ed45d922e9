"""``ldmatte demo``: synthetic portraits refined end to end, with the sheet and the error figures."""
import json
import os
import re

import numpy as np

from ldmatte import metrics, synth
from ldmatte.cli import main
from ldmatte.io import read_rgba


def test_demo_small(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "-n", "2", "--size", "256"]) == 0
    stdout = capsys.readouterr().out
    assert "SAD raw" in stdout and f"open {out / 'index.html'}" in stdout
    assert sorted(os.listdir(out / "inputs")) == ["portrait-01.png", "portrait-02.png"]
    html = (out / "index.html").read_text()
    assert "ldmatte demo: 2 synthetic portraits" in html and html.count('class="row"') == 2
    for i in (1, 2):
        sample = synth.make_sample(i - 1, 256, artifacts="realistic")
        assert np.array_equal(read_rgba(out / "inputs" / f"portrait-{i:02d}.png")[0], sample.rgba)
        rec = json.loads((out / f"portrait-{i:02d}.json").read_text())
        refined = read_rgba(out / f"portrait-{i:02d}.png")[0]
        sad = rec["metrics"]["SAD"]
        assert np.isclose(sad["before"], metrics.sad(sample.rgba[..., 3], sample.alpha_gt))
        assert np.isclose(sad["after"], metrics.sad(refined[..., 3], sample.alpha_gt))
        assert re.search(rf"portrait-{i:02d}\.png\s+{sad['before']:.2f}\s+{sad['after']:.2f}", stdout)
    mean = re.search(r"refinement cut SAD by (-?[\d.]+) %", stdout)
    assert mean and float(mean.group(1)) > 0  # the refinement helps on average


def test_demo_reruns_in_its_folder_and_refuses_others(tmp_path, capsys):
    out = tmp_path / "demo"
    argv = ["demo", "-o", str(out), "-n", "1", "--size", "128", "-q", "--seed", "7"]
    assert main(argv) == 0 and main(argv) == 0
    assert capsys.readouterr().out == ""
    assert json.loads((out / "ldmatte-demo.json").read_text()) == {"n": 1, "size": 128, "seed": 7}
    other = tmp_path / "photos"
    other.mkdir()
    (other / "mine.png").write_bytes(b"precious")
    assert main(["demo", "-o", str(other), "-n", "1", "--size", "128"]) == 2
    assert "not empty" in capsys.readouterr().err and os.listdir(other) == ["mine.png"]
    for bad, msg in [(["--size", "16"], "--size"), (["-n", "0"], "-n"), (["--bg-tol", "-1"], "bg_tol")]:
        assert main(["demo", "-o", str(tmp_path / "d2"), *bad]) == 2
        assert msg in capsys.readouterr().err
