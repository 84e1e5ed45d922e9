"""``ldmatte eval``: metrics against hand computations, pairing, failures, benchmark layouts, JSON, --video."""
from __future__ import annotations

import json
import sys

import cv2
import numpy as np
import pytest

from ldmatte import metrics
from ldmatte.cli import main

GT = np.array([[0, 255, 255, 0], [255, 255, 0, 0], [0, 0, 128, 255]], np.uint8)
PRED = np.array([[51, 255, 0, 0], [255, 204, 0, 0], [0, 0, 128, 255]], np.uint8)
TRI = np.array([[128, 255, 128, 0], [255, 128, 0, 0], [0, 0, 128, 128]], np.uint8)


def _write(folder, name, image):
    folder.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(folder / name), image)


@pytest.fixture
def folders(tmp_path):
    _write(tmp_path / "pred", "a.png", PRED)
    _write(tmp_path / "gt", "a.png", GT)
    _write(tmp_path / "tri", "a.png", TRI)
    return tmp_path


def test_whole_image_matches_hand_computation(folders, capsys):
    out = folders / "r.json"
    assert main(["eval", str(folders / "pred"), str(folders / "gt"), "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    row = r["images"][0]
    # |p - g| / 255: 0.2 (51), 1.0 (a 255 predicted 0), 0.2 (204 for 255); the rest equal
    assert row["sad"] == pytest.approx((0.2 + 1.0 + 0.2) / 1000)
    assert row["mse"] == pytest.approx((0.04 + 1.0 + 0.04) / 12)
    assert row["mad"] == pytest.approx(1.4 / 12)
    assert row["grad"] == pytest.approx(metrics.grad(PRED, GT))
    assert row["conn"] == pytest.approx(metrics.conn(PRED, GT))
    assert r["region"] == "whole" and r["mean"]["sad"] == pytest.approx(row["sad"]) and r["failures"] == []
    text = capsys.readouterr().out
    assert "convention:" in text and "/ 1000" in text and "mean" in text


def test_unknown_region_matches_hand_computation(folders):
    out = folders / "r.json"
    assert main(["eval", str(folders / "pred"), str(folders / "gt"), "--trimap", str(folders / "tri"),
                 "--json", str(out)]) == 0  # fmt: skip
    r = json.loads(out.read_text())
    row = r["images"][0]
    # unknown pixels: (0,0) 0.2, (0,2) 1.0, (1,1) 0.2, (2,2) 0, (2,3) 0 -> 5 pixels
    assert r["region"] == "unknown" and row["unknown_pixels"] == 5
    assert row["sad"] == pytest.approx(1.4 / 1000)
    assert row["mse"] == pytest.approx(1.08 / 5)
    assert row["mad"] == pytest.approx(1.4 / 5)
    assert row["grad"] == pytest.approx(metrics.grad(PRED, GT, TRI))
    assert main(["eval", str(folders / "pred"), str(folders / "gt"), "--trimap", str(folders / "tri"),
                 "--region", "whole", "--json", str(out)]) == 0  # fmt: skip
    assert json.loads(out.read_text())["images"][0]["sad"] == pytest.approx(1.4 / 1000)


def test_mean_over_images_and_jpg_pairing(tmp_path):
    _write(tmp_path / "pred", "a.png", np.full((4, 5), 255, np.uint8))
    _write(tmp_path / "pred", "b.png", np.zeros((4, 5), np.uint8))
    _write(tmp_path / "gt", "a.png", np.zeros((4, 5), np.uint8))
    _write(tmp_path / "gt", "b.jpg", np.zeros((4, 5), np.uint8))  # JPEG of a constant is exact
    out = tmp_path / "r.json"
    assert main(["eval", str(tmp_path / "pred"), str(tmp_path / "gt"), "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert [row["name"] for row in r["images"]] == ["a", "b"]
    assert r["mean"]["sad"] == pytest.approx((20 / 1000 + 0) / 2)
    assert r["mean"]["mse"] == pytest.approx(0.5)


def test_failures_are_per_file(tmp_path, capsys):
    _write(tmp_path / "pred", "ok.png", np.zeros((4, 4), np.uint8))
    _write(tmp_path / "gt", "ok.png", np.zeros((4, 4), np.uint8))
    _write(tmp_path / "pred", "big.png", np.zeros((4, 6), np.uint8))
    _write(tmp_path / "gt", "big.png", np.zeros((4, 4), np.uint8))
    _write(tmp_path / "gt", "lost.png", np.zeros((4, 4), np.uint8))
    _write(tmp_path / "pred", "extra.png", np.zeros((4, 4), np.uint8))
    out = tmp_path / "r.json"
    assert main(["eval", str(tmp_path / "pred"), str(tmp_path / "gt"), "--json", str(out)]) == 1
    r = json.loads(out.read_text())
    assert [row["name"] for row in r["images"]] == ["ok"]
    reasons = {f["name"]: f["reason"] for f in r["failures"]}
    assert "size differs" in reasons["big"] and "no prediction" in reasons["lost"]
    assert "no ground truth" in reasons["extra"]
    err = capsys.readouterr().err
    assert "big: size differs" in err and "Traceback" not in err


def test_usage_errors(tmp_path, capsys):
    (tmp_path / "p").mkdir()
    assert main(["eval", str(tmp_path / "p")]) == 2
    assert main(["eval", str(tmp_path / "p"), str(tmp_path / "nope")]) == 2
    assert main(["eval", str(tmp_path / "p"), str(tmp_path / "p"), "--region", "unknown"]) == 2
    assert "needs trimaps" in capsys.readouterr().err


def test_rgba_and_16bit_mattes(tmp_path):
    gt = np.zeros((3, 3), np.uint8)
    rgba = np.zeros((3, 3, 4), np.uint8)
    rgba[..., 3] = 255
    _write(tmp_path / "pred", "x.png", rgba)
    _write(tmp_path / "pred", "y.png", np.full((3, 3), 65535, np.uint16))
    _write(tmp_path / "gt", "x.png", gt)
    _write(tmp_path / "gt", "y.png", gt)
    out = tmp_path / "r.json"
    assert main(["eval", str(tmp_path / "pred"), str(tmp_path / "gt"), "--json", str(out)]) == 0
    assert [row["sad"] for row in json.loads(out.read_text())["images"]] == pytest.approx([0.009, 0.009])


def _p3m(root, images="original_image"):
    base = root / "P3M-10k" / "validation" / "P3M-500-NP"
    _write(base / images, "p1.jpg", np.full((8, 8, 3), 90, np.uint8))
    _write(base / "mask", "p1.png", GT[:2, :2].repeat(4, 0).repeat(4, 1))
    _write(base / "trimap", "p1.png", np.full((8, 8), 128, np.uint8))
    return base


def test_benchmark_layouts(tmp_path):
    from ldmatte.matting.benchmarks import benchmark_items, item_trimap, ppm_kernel

    _p3m(tmp_path / "a")
    items, problems = benchmark_items("p3m-np", tmp_path / "a" / "P3M-10k")
    assert [i.name for i in items] == ["p1"] and problems == []
    am = tmp_path / "b" / "AM-2k" / "validation"
    _write(am / "original", "m_1.jpg", np.zeros((8, 8, 3), np.uint8))
    _write(am / "mask", "m_1.png", np.zeros((8, 8), np.uint8))
    _write(am / "mask", "m_2.png", np.zeros((8, 8), np.uint8))
    _write(am / "trimap", "m_1.png", np.full((8, 8), 127, np.uint8))
    items, problems = benchmark_items("am2k", tmp_path / "b")
    assert [i.name for i in items] == ["m_1"] and problems[0][0] == "m_2" and "no image" in problems[0][1]
    assert set(np.unique(item_trimap(items[0], np.zeros((8, 8), np.uint8))).tolist()) == {128}  # 127 -> unknown
    ppm = tmp_path / "c" / "PPM-100"
    matte = np.zeros((200, 300), np.uint8)
    matte[50:150, 100:200] = 255
    matte[50:150, 95:100] = 120
    _write(ppm / "image", "q.jpg", np.zeros((200, 300, 3), np.uint8))
    _write(ppm / "matte", "q.png", matte)
    items, _ = benchmark_items("ppm100", tmp_path / "c")
    tri = item_trimap(items[0], matte)
    k = ppm_kernel(200, 300)
    assert k == 4 and tri[100, 150] == 255 and tri[100, 97] == 128 and tri[0, 0] == 0
    with pytest.raises(ValueError, match="no ground-truth folder"):
        benchmark_items("p3m-p", tmp_path / "c")


def test_eval_benchmark_cli(tmp_path):
    base = _p3m(tmp_path)
    _write(tmp_path / "pred", "p1.png", np.full((8, 8), 128, np.uint8))
    out = tmp_path / "r.json"
    root = str(tmp_path / "P3M-10k")
    assert main(["eval", str(tmp_path / "pred"), "--benchmark", "p3m-np", root, "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    gt = cv2.imread(str(base / "mask" / "p1.png"), cv2.IMREAD_GRAYSCALE)
    expected = metrics.sad(np.full((8, 8), 128, np.uint8), gt)
    assert r["region"] == "unknown" and r["images"][0]["sad"] == pytest.approx(expected)


def test_video_flag_without_module(tmp_path, monkeypatch, capsys):
    (tmp_path / "p").mkdir()
    monkeypatch.setitem(sys.modules, "ldmatte.video.evaluate", None)
    assert main(["eval", str(tmp_path / "p"), str(tmp_path / "p"), "--video"]) == 2
    assert "--video needs ldmatte.video.evaluate" in capsys.readouterr().err


def test_video_flag_calls_evaluate_video(tmp_path, monkeypatch, capsys):
    import types

    calls = []

    def evaluate_video(pred_dir, gt_dir):
        calls.append((pred_dir, gt_dir))
        return {"frames": [{"name": "f0", "sad": 1.0, "mse": 0.1, "grad": 2.0, "conn": 1.0}],
                "mean": {"sad": 1.0, "mse": 0.1, "grad": 2.0, "conn": 1.0, "dtssd": 3.0},
                "failures": [], "convention": "test units"}  # fmt: skip

    monkeypatch.setitem(sys.modules, "ldmatte.video.evaluate", types.SimpleNamespace(evaluate_video=evaluate_video))
    out = tmp_path / "v.json"
    assert main(["eval", "P", "G", "--video", "--json", str(out)]) == 0
    assert calls == [("P", "G")] and json.loads(out.read_text())["mean"]["dtssd"] == 3.0
    assert "dtSSD 3.0000" in capsys.readouterr().out
