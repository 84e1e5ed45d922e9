"""Training-data tools: composites over backgrounds (determinism, blend formula) and trimaps (values, reference)."""
from __future__ import annotations

import doctest
import json

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ldmatte.reference.patterns import adversarial_masks, alpha_from_mask
from scipy import ndimage

import ldmatte.training
from ldmatte.cli import main
from ldmatte.dataset import SyntheticSource, build
from ldmatte.files import MARKER
from ldmatte.training import composite, composite_dataset, fit_background, trimap, trimap_folder


def test_doctests():
    assert doctest.testmod(ldmatte.training).failed == 0


# --- composite ------------------------------------------------------------------------------------------------


def test_composite_formula(rng):
    fg = rng.integers(0, 256, (17, 23, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (17, 23), dtype=np.uint8)
    alpha[0], alpha[1] = 0, 255
    bg = rng.integers(0, 256, (17, 23, 3), dtype=np.uint8)
    out = composite(fg, alpha, bg)
    a = alpha[..., None] / 255.0
    expected = np.floor(fg * a + bg * (1 - a) + 0.5)
    assert np.abs(out.astype(float) - expected).max() <= 1  # float32 arithmetic, rounded
    assert np.array_equal(out[0], bg[0]) and np.array_equal(out[1], fg[1])


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 60), st.integers(1, 60), st.integers(0, 2**32 - 1))
def test_fit_background_covers_and_crops_inside(h, w, bh, bw, seed):
    bg = np.random.default_rng(seed).integers(0, 256, (bh, bw, 3), dtype=np.uint8)
    out, how = fit_background(bg, h, w, np.random.default_rng(seed))
    assert out.shape == (h, w, 3) and out.flags["C_CONTIGUOUS"]
    assert how["scale"] >= 1 and how["scale"] == pytest.approx(max(h / bh, w / bw, 1.0), rel=1e-5)
    if how["scale"] == 1:  # never shrunk: a crop of the original at the reported place
        t, left = how["top"], how["left"]
        assert np.array_equal(out, bg[t : t + h, left : left + w])
    again, how2 = fit_background(bg, h, w, np.random.default_rng(seed))
    assert np.array_equal(out, again) and how == how2


def test_composite_validation():
    fg, a, bg = np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(TypeError, match="fg must be uint8"):
        composite(fg.astype(np.float32), a, bg)
    with pytest.raises(ValueError, match="alpha must be a non-empty"):
        composite(fg, a[None], bg)
    with pytest.raises(ValueError, match="differ in size"):
        composite(fg, a[:3], bg)
    with pytest.raises(ValueError, match=r"bg must be a non-empty \(H, W, 3\)"):
        composite(fg, a, bg[..., :1])


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    build(SyntheticSource(5, seed=0, size=96), root, progress=False)
    bgs = tmp_path_factory.mktemp("bgs")
    rng = np.random.default_rng(0)
    for i, shape in enumerate([(50, 70), (200, 150), (96, 96), (30, 300)]):
        cv2.imwrite(str(bgs / f"bg{i}.{'png' if i % 2 else 'jpg'}"), rng.integers(0, 256, (*shape, 3), np.uint8))
    (bgs / "notes.txt").write_text("not an image")
    return root, bgs


def _tree(folder):
    """Every file's bytes by relative path; the ownership marker (it holds its creation time) left out."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != MARKER}  # fmt: skip


def test_composite_dataset_is_deterministic_and_order_free(dataset, tmp_path):
    root, bgs = dataset
    a = composite_dataset(root, bgs, tmp_path / "a", per_fg=3, seed=7, workers=1).records
    b = composite_dataset(root, bgs, tmp_path / "b", per_fg=3, seed=7, workers=3).records
    assert a == b and _tree(tmp_path / "a") == _tree(tmp_path / "b")
    assert len(a) == 15 and len({r["image"] for r in a}) == 15
    assert len({r["background"] for r in a}) > 1  # random backgrounds per foreground
    c = composite_dataset(root, bgs, tmp_path / "c", per_fg=1, seed=8).records
    assert [r["background"] for r in c] != [r["background"] for r in a[::3]] or [
        (r["top"], r["left"]) for r in c] != [(r["top"], r["left"]) for r in a[::3]]  # fmt: skip
    # copy 0 of a sample does not depend on how many copies were asked for
    d = composite_dataset(root, bgs, tmp_path / "d", per_fg=1, seed=7).records
    assert d == a[::3]
    mapping = [json.loads(line) for line in (tmp_path / "a" / "mapping.jsonl").read_text().splitlines()]
    assert mapping == a


def test_composite_dataset_pixels(dataset, tmp_path):
    root, bgs = dataset
    rec = composite_dataset(root, bgs, tmp_path / "o", seed=1).records[0]
    out = tmp_path / "o"
    merged = cv2.cvtColor(cv2.imread(str(out / rec["image"])), cv2.COLOR_BGR2RGB)
    alpha = cv2.imread(str(out / rec["alpha"]), cv2.IMREAD_UNCHANGED)
    fg = cv2.cvtColor(cv2.imread(str(root / rec["fg"])), cv2.COLOR_BGR2RGB)
    assert np.array_equal(alpha, cv2.imread(str(root / "alpha" / f"{rec['id']}.png"), cv2.IMREAD_UNCHANGED))
    bg = cv2.cvtColor(cv2.imread(str(bgs / rec["background"])), cv2.COLOR_BGR2RGB)
    if rec["scale"] > 1:
        h, w = bg.shape[:2]
        size = (max(96, int(np.ceil(w * rec["scale"]))), max(96, int(np.ceil(h * rec["scale"]))))
        bg = cv2.resize(bg, size, interpolation=cv2.INTER_CUBIC)
    crop = bg[rec["top"] : rec["top"] + 96, rec["left"] : rec["left"] + 96]
    assert np.array_equal(merged, composite(fg, alpha, crop))


def test_cli_composite(dataset, tmp_path, capsys):
    root, bgs = dataset
    assert main(["composite", str(root), "--backgrounds", str(bgs), "-o", str(tmp_path / "o"), "--no-progress",
                 "--per-fg", "2", "--seed", "3"]) == 0  # fmt: skip
    assert "wrote 10 composites" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["composite", str(root), "--backgrounds", str(empty), "-o", str(tmp_path / "x")]) == 2
    assert "no background images" in capsys.readouterr().err
    assert main(["composite", str(root), "--backgrounds", str(bgs), "-o", str(tmp_path / "x"), "--per-fg", "0"]) == 2


# --- trimap ---------------------------------------------------------------------------------------------------


def _trimap_reference(alpha, erode, dilate, fg_threshold=255, bg_threshold=0):
    """scipy erosion with the same elliptical structuring elements; the frame counts as inside."""

    def shrink(mask, size):
        if size <= 1:
            return mask
        se = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)).astype(bool)
        return ndimage.binary_erosion(mask, structure=se, border_value=1)

    out = np.full(alpha.shape, 128, np.uint8)
    out[shrink(alpha >= fg_threshold, erode)] = 255
    out[shrink(alpha <= bg_threshold, dilate)] = 0
    return out


MASKS = {k: v for k, v in adversarial_masks().items() if v.size}


@pytest.mark.parametrize("name", sorted(MASKS))
@pytest.mark.parametrize("sizes", [(0, 0), (1, 1), (3, 5), (4, 2), (9, 9)])
def test_trimap_matches_the_reference_on_adversarial_masks(name, sizes, rng):
    mask = MASKS[name]
    for alpha in (np.where(mask, 255, 0).astype(np.uint8), alpha_from_mask(mask, rng)):
        out = trimap(alpha, *sizes)
        assert np.array_equal(out, _trimap_reference(alpha, *sizes))
        assert set(np.unique(out)) <= {0, 128, 255}


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.integers(0, 12), st.integers(0, 12), st.integers(0, 2**32 - 1),
       st.integers(0, 120), st.integers(130, 255))  # fmt: skip
def test_trimap_properties(h, w, erode, dilate, seed, bg_thr, fg_thr):
    rng = np.random.default_rng(seed)
    alpha = np.where(rng.random((h, w)) < 0.5, 255, rng.integers(0, 256, (h, w))).astype(np.uint8)
    out = trimap(alpha, erode, dilate, fg_thr, bg_thr)
    assert np.array_equal(out, _trimap_reference(alpha, erode, dilate, fg_thr, bg_thr))
    assert set(np.unique(out)) <= {0, 128, 255}
    assert np.all(alpha[out == 255] >= fg_thr) and np.all(alpha[out == 0] <= bg_thr)
    exact = trimap(alpha, 0, 0, fg_thr, bg_thr)  # no kernels: the plain classification
    assert np.array_equal(exact == 255, alpha >= fg_thr) and np.array_equal(exact == 0, alpha <= bg_thr)
    bigger = trimap(alpha, erode + 2, dilate + 2, fg_thr, bg_thr)
    assert np.all((bigger == 128) >= (out == 128))  # larger kernels only grow the unknown band


def test_trimap_known_values():
    a = np.zeros((21, 21), np.uint8)
    a[5:16, 5:16] = 255
    out = trimap(a, erode=5, dilate=5)
    assert out[10, 10] == 255 and out[0, 0] == 0 and out[5, 5] == 128 and out[10, 3] == 128
    assert np.count_nonzero(out == 255) == np.count_nonzero(_trimap_reference(a, 5, 5) == 255)
    full = np.full((8, 8), 255, np.uint8)  # the frame does not erode
    assert np.all(trimap(full, 5, 5) == 255) and np.all(trimap(np.zeros((8, 8), np.uint8), 5, 5) == 0)


def test_trimap_validation():
    a = np.zeros((4, 4), np.uint8)
    with pytest.raises(TypeError, match="alpha must be uint8"):
        trimap(a.astype(np.float64))
    with pytest.raises(ValueError, match="erode must be an int >= 0"):
        trimap(a, erode=-1)
    with pytest.raises(ValueError, match="dilate must be an int"):
        trimap(a, dilate=2.5)
    with pytest.raises(ValueError, match="bg_threshold < fg_threshold"):
        trimap(a, fg_threshold=10, bg_threshold=10)


def test_trimap_folder_and_cli(dataset, tmp_path, capsys):
    root, _ = dataset
    recs = trimap_folder(root, tmp_path / "t1", erode=(3, 9), dilate=4, seed=2).records
    again = trimap_folder(root / "alpha", tmp_path / "t2", erode=(3, 9), dilate=4, seed=2).records
    assert recs == again and _tree(tmp_path / "t1") == _tree(tmp_path / "t2")
    assert all(3 <= r["erode"] <= 9 and r["dilate"] == 4 for r in recs) and len(recs) == 5
    alpha = cv2.imread(str(root / "alpha" / recs[0]["alpha"]), cv2.IMREAD_UNCHANGED)
    tri = cv2.imread(str(tmp_path / "t1" / recs[0]["trimap"]), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(tri, trimap(alpha, recs[0]["erode"], 4))
    # RGBA input uses its alpha channel
    rgba = np.dstack([np.zeros((*alpha.shape, 3), np.uint8), alpha])
    (tmp_path / "rgba").mkdir()
    cv2.imwrite(str(tmp_path / "rgba" / "x.png"), rgba)
    trimap_folder(tmp_path / "rgba", tmp_path / "t3", erode=5, dilate=5)
    assert np.array_equal(cv2.imread(str(tmp_path / "t3" / "x.png"), cv2.IMREAD_UNCHANGED), trimap(alpha, 5, 5))
    assert main(["trimap", str(root), "-o", str(tmp_path / "t4"), "--erode", "3:9", "--dilate", "4", "--seed",
                 "2"]) == 0  # fmt: skip
    assert _tree(tmp_path / "t4") == _tree(tmp_path / "t1")
    assert main(["trimap", str(root), "-o", str(tmp_path / "t5"), "--erode", "x"]) == 2
    assert main(["trimap", str(root), "-o", str(tmp_path / "t5"), "--erode", "9:3"]) == 2
    assert "kernel size" in capsys.readouterr().err
