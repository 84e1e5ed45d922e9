"""``ldmatte key`` and ``ldmatte compare``: outputs, reruns, file safety, usage errors; compare's measures."""
from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest

from ldmatte.cli import main
from ldmatte.io import read_rgba, write_png_atomic
from ldmatte.keying.compare import sample_stats

SCREEN = (24, 178, 52)


def _shot(h=64, w=48, seed=0):
    rng = np.random.default_rng(seed)
    img = np.empty((h, w, 3), np.uint8)
    img[:] = SCREEN
    img[h // 4 :, w // 4 : 3 * w // 4] = (200, 150, 120)
    return np.clip(img + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8)


@pytest.fixture
def shots(tmp_path):
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    write_png_atomic(str(d / "a.png"), _shot())
    cv2.imwrite(str(d / "sub" / "b.jpg"), _shot(seed=1)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return d


def test_key_outputs_records_sheet_and_rerun(shots, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["key", str(shots), "-r", "-o", str(out), "--method", "vlahos", "--clip-black", "0.1", "-q"])
    assert rc == 1  # the broken file fails, the rest is keyed
    err = capsys.readouterr().err
    assert "broken.png" in err and err.count("failed:") == 1
    rgba, _ = read_rgba(str(out / "a.png"))
    assert rgba.shape == (64, 48, 4)
    assert rgba[0, 0, 3] == 0 and rgba[40, 24, 3] == 255
    assert rgba[40, 24, :3].tolist() == pytest.approx([200, 150, 120], abs=8)
    assert (out / "sub" / "b.png").is_file()
    rec = json.loads((out / "a.json").read_text())
    assert rec["settings"]["method"] == "vlahos" and rec["settings"]["params"]["clip_black"] == 0.1
    assert np.abs(np.array([int(rec["key_color"][i : i + 2], 16) for i in (1, 3, 5)]) - SCREEN).max() <= 2
    summary = json.loads((out / "key-summary.json").read_text())
    assert summary["counts"] == {"keyed": 2, "skipped": 0, "failed": 1}
    html = (out / "index.html").read_text()
    assert "a.png" in html and "_sheet/a.keyed.png" in html and "broken.png" in html
    before = (out / "a.png").stat().st_mtime_ns
    assert main(["key", str(shots), "-r", "-o", str(out), "--method", "vlahos", "--clip-black", "0.1", "-q"]) == 1
    assert (out / "a.png").stat().st_mtime_ns == before  # finished: skipped
    assert json.loads((out / "key-summary.json").read_text())["counts"]["skipped"] == 2
    # Other settings redo the images (the folder's own files).
    assert main(["key", str(shots / "a.png"), "-o", str(out), "--method", "chromakey", "-q"]) == 0
    assert json.loads((out / "a.json").read_text())["settings"]["method"] == "chromakey"


@pytest.mark.parametrize("argv,message", [
    (["--method", "chromakey", "--smoothness", "0.1"], "has no --smoothness"),
    (["--similarity", "0"], "similarity"),
    (["--key-color", "#12"], "key colour"),
    (["--no-despill", "--despill-mix", "0.3"], "exclude each other"),
    (["--method", "vlahos", "--key-color", "#808080"], None),  # per image: a failure line, not a usage error
])
def test_key_usage_errors(shots, tmp_path, capsys, argv, message):
    rc = main(["key", str(shots / "a.png"), "-o", str(tmp_path / "o"), "-q", *argv])
    err = capsys.readouterr().err
    if message is None:
        assert rc == 1 and "no green excess" in err
    else:
        assert rc == 2 and message in err and err.count("\n") == 1


def test_key_file_safety(shots, tmp_path, capsys):
    assert main(["key", str(shots), "-o", str(shots / "out"), "-q"]) == 2
    assert "inside" in capsys.readouterr().err
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("keep me")
    assert main(["key", str(shots / "a.png"), "-o", str(foreign), "-q"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (foreign / "mine.txt").read_text() == "keep me" and sorted(os.listdir(foreign)) == ["mine.txt"]


def test_sample_stats_constructed():
    clean = np.zeros((80, 80, 4), np.uint8)
    clean[20:60, 20:60] = (200, 150, 120, 255)
    s = sample_stats(clean)
    assert s["tint_mean"] < 0 and s["tinted_share"] == 0 and s["far_translucent_share"] == 0
    assert s["opaque_share"] == pytest.approx(1600 / 6400)
    tinted = clean.copy()
    tinted[18:22, 20:60] = (150, 200, 110, 128)  # a green fringe along the top edge
    t = sample_stats(tinted)
    assert t["tint_mean"] > s["tint_mean"] and t["tinted_share"] > 0.1
    haze = clean.copy()
    haze[0:6, 70:80, 3] = 20  # translucent background far from the subject
    assert sample_stats(haze)["far_translucent_share"] == pytest.approx(60 / 6400)


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    root = tmp_path_factory.mktemp("builds")
    a, b = root / "ld", root / "gs"
    assert main(["build", "synthetic", "-n", "4", "--size", "96", "--bad-fraction", "0.5", "-o", str(a),
                 "--no-progress"]) in (0, 1)
    assert main(["build", "synthetic", "-n", "4", "--size", "96", "--artifacts", "none", "-o", str(b),
                 "--no-progress"]) in (0, 1)
    return a, b


def test_compare_two_builds(two_builds, tmp_path, capsys):
    a, b = two_builds
    out = tmp_path / "cmp"
    rc = main(["compare", str(a), str(b), "-o", str(out), "--labels", "LD", "GS"])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "| measure | LD | GS |" in text and "green tint" in text
    payload = json.loads((out / "compare.json").read_text())
    assert payload["summary"]["pairs"] == 4 and payload["summary"]["paired_by"] == "id"
    ld = payload["summary"]["datasets"][0]
    assert ld["samples"] == 4 and ld["kept"] + ld["rejected"] == 4
    if ld["rejected"]:
        assert "rejected by QC" in (out / "compare.md").read_text()
    html = (out / "index.html").read_text()
    assert html.count('class="row"') == 4 and "_sheet/a-" in html and "_sheet/b-" in html
    assert main(["compare", str(a), str(b), "-o", str(a / "x"), "-q"]) == 2  # output inside an input
    assert main(["compare", str(a), str(tmp_path / "missing"), "-o", str(tmp_path / "c2"), "-q"]) == 2


def test_key_device_choice(shots, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    rc = main(["key", str(shots / "a.png"), "-o", str(tmp_path / "o"), "--device", "cuda", "-q"])
    if torch.cuda.is_available():
        assert rc == 0
    else:
        assert rc == 2 and "--device cuda" in capsys.readouterr().err
    assert main(["key", str(shots / "a.png"), "-o", str(tmp_path / "o2"), "--device", "auto", "-q"]) == 0


def test_key_unmix_option(shots, tmp_path):
    out = tmp_path / "u"
    assert main(["key", str(shots / "a.png"), "-o", str(out), "--method", "vlahos", "--unmix", "-q"]) == 0
    assert json.loads((out / "a.json").read_text())["settings"]["unmix"] is True
