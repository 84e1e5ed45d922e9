"""Video on hard cases: the carried segmentation, frames that cannot be matted, resume bit for bit, real clips."""
from __future__ import annotations

import hashlib
import os
import pathlib

import cv2
import numpy as np
import pytest

pytest.importorskip("av")
pytest.importorskip("pymatting")

from ldmatte.video.carried import (  # noqa: E402
    CarriedSegmenter,
    CarrySettings,
    colour_log_ratio,
    fit_colour_model,
    forward_backward_error,
)
from ldmatte.video.pipeline import VideoMattingSettings, matte_video  # noqa: E402
from ldmatte.video.synthetic import make_video, write_video  # noqa: E402
from ldmatte.video.trimaps import mask_trimap, thin_core  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "video"
N = 8


@pytest.fixture(scope="module")
def clip_files(tmp_path_factory):
    work = tmp_path_factory.mktemp("carried")
    clip = make_video(N, 64, seed=1)
    mkv = work / "clip.mkv"
    write_video(mkv, clip.frames, fps=12)
    return {"clip": clip, "mkv": mkv}


def _hashes(folder) -> dict:
    return {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in sorted(os.listdir(folder))}


def test_resume_equals_an_uninterrupted_run(clip_files, tmp_path):
    clip, mkv = clip_files["clip"], clip_files["mkv"]
    settings = VideoMattingSettings(formats=("png",))
    matte_video(mkv, tmp_path / "whole", clip.first_mask, settings)
    # Interrupted after 3 frames (as Ctrl-C between frames or a full disk would leave it), then run again.
    part = matte_video(mkv, tmp_path / "resumed", clip.first_mask, VideoMattingSettings(formats=("png",), max_frames=3))
    assert part.frames == 3
    again = matte_video(mkv, tmp_path / "resumed", clip.first_mask, settings)
    assert (again.skipped, again.matted) == (3, N - 3)
    whole, resumed = _hashes(tmp_path / "whole" / "alpha"), _hashes(tmp_path / "resumed" / "alpha")
    assert len(whole) == N and whole == resumed
    assert _hashes(tmp_path / "whole" / "rgba") == _hashes(tmp_path / "resumed" / "rgba")


def _disc_clip(centres, size=48, radius=8):
    """A textured red disc on a grey textured background, at the given x positions (may leave the frame)."""
    yy, xx = np.mgrid[:size, :size]
    frames, masks = [], []
    for cx in centres:
        f = np.full((size, size, 3), 90, np.uint8)
        f[..., 1] = (90 + 20 * np.sin(yy / 2.0)).astype(np.uint8)
        disc = (xx - cx) ** 2 + (yy - size // 2) ** 2 < radius**2
        f[disc] = np.stack([200 + 40 * np.sin(xx[disc] - cx), 40 + 0 * xx[disc], 60 + 0 * xx[disc]], -1)
        frames.append(f)
        masks.append(disc)
    return np.stack(frames), masks


def test_a_subject_leaving_the_frame_and_an_empty_mask_never_stop_the_run(tmp_path):
    frames, masks = _disc_clip([24, 34, 44, 54, 64, 70])  # too fast for the flow on a frame this small
    video = tmp_path / "leave.mkv"
    write_video(video, frames, fps=12)
    res = matte_video(video, tmp_path / "out", np.where(masks[0], 255, 0).astype(np.uint8),
                      VideoMattingSettings(formats=("png",)))  # fmt: skip
    assert res.frames == len(frames) and not res.interrupted and len(os.listdir(tmp_path / "out" / "alpha")) == 6
    assert any(n["kind"] == "guessed" and "jumped" in n["reason"] for n in res.frame_notes)  # the guard held
    # An empty first mask: every frame all 0, each listed as lost.
    empty = matte_video(video, tmp_path / "empty", np.zeros(frames.shape[1:3], np.uint8),
                        VideoMattingSettings(formats=("png",)))  # fmt: skip
    assert empty.frames == len(frames) and len(empty.frame_notes) == len(frames)
    assert all(cv2.imread(str(p), 0).max() == 0 for p in (tmp_path / "empty" / "alpha").iterdir())


class _Failing:
    """A matting backend that fails on every frame but the first (as pymatting does on a degenerate trimap)."""

    name, batch_size = "failing", 2

    def __init__(self):
        self.calls = 0

    def predict(self, images, trimaps):
        self.calls += 1
        if self.calls > 1:
            raise ValueError("Trimap did not contain foreground values (values >= 0.900000)")
        return np.where(trimaps >= 128, 255, 0).astype(np.uint8)


def test_a_matting_error_falls_back_to_the_mask_and_is_recorded(clip_files, tmp_path):
    clip, mkv = clip_files["clip"], clip_files["mkv"]
    res = matte_video(mkv, tmp_path / "out", clip.first_mask, VideoMattingSettings(formats=("png",)),
                      matting=_Failing())  # fmt: skip
    assert res.frames == N
    guessed = [n for n in res.frame_notes if n["kind"] == "guessed"]
    assert len(guessed) == N - 2 and "Trimap did not contain" in guessed[0]["reason"]
    import json

    assert json.loads((tmp_path / "out" / "video.json").read_text())["frame_notes"] == res.frame_notes


def test_a_tiny_mask_is_matted_or_kept(clip_files, tmp_path):
    clip, mkv = clip_files["clip"], clip_files["mkv"]
    tiny = np.zeros(clip.first_mask.shape, np.uint8)
    tiny[30:32, 30:32] = 255  # 4 px: its trimap has no room for known foreground
    res = matte_video(mkv, tmp_path / "out", tiny, VideoMattingSettings(formats=("png",)))
    assert res.frames == N


def test_carried_segmenter_follows_a_disc_and_keeps_its_colour_anchor():
    frames, masks = _disc_clip([14, 16, 18, 20, 22, 24])
    seg = CarriedSegmenter(masks[0])
    for i, f in enumerate(frames):
        m = seg.segment(f, i) > 127
        assert (m & masks[i]).sum() / (m | masks[i]).sum() > 0.85, i
    # Deterministic: a second segmenter over the same frames gives the same masks.
    a, b = CarriedSegmenter(masks[0]), CarriedSegmenter(masks[0])
    for i, f in enumerate(frames):
        assert np.array_equal(a.segment(f, i), b.segment(f, i))


def test_a_first_mask_of_another_size_is_resized_with_a_note():
    frames, masks = _disc_clip([14, 16])
    seg = CarriedSegmenter(cv2.resize(masks[0].astype(np.uint8) * 255, (96, 96), interpolation=cv2.INTER_NEAREST))
    m = seg.segment(frames[0], 0) > 127
    assert m.shape == masks[0].shape and (m ^ masks[0]).sum() < 10 and "resized" in seg.note[1]


def test_collapse_guard_falls_back_to_the_warp():
    frames, masks = _disc_clip([14, 16, 18])
    seg = CarriedSegmenter(masks[0], CarrySettings(jump=1.01))
    for i, f in enumerate(frames):
        seg.segment(f, i)
    assert seg._guard(np.zeros_like(masks[0]), masks[0], masks[1]) is masks[1]
    assert seg.note[0] == "guessed"


def _plain_log_likelihood(model, x):
    """The mixture's log density per pixel, component by component in float64 (the reference)."""
    m = model.ravel()
    parts = []
    for c in range(5):
        if m[c] <= 0:
            continue
        mu, cov = m[5 + 3 * c:8 + 3 * c], m[20 + 9 * c:29 + 9 * c].reshape(3, 3)
        d = x - mu
        maha = ((d @ np.linalg.inv(cov)) * d).sum(1)
        parts.append(np.log(m[c]) - 0.5 * (np.log(np.linalg.det(cov)) + 3 * np.log(2 * np.pi)) - 0.5 * maha)
    ll = np.stack(parts)
    top = ll.max(0)
    return top + np.log(np.exp(ll - top).sum(0))


@pytest.mark.parametrize("case", ["random", "tight", "few", "extremes"])
def test_colour_log_ratio_matches_the_plain_mixture(case):
    rng = np.random.default_rng(3)
    if case == "tight":  # flat colours: covariances at their one-grey-level floor
        fg, bg = fit_colour_model(np.full((200, 3), 250.0)), fit_colour_model(np.full((200, 3), 3.0))
    elif case == "few":  # fewer samples than five components need: zero-weight components
        fg, bg = fit_colour_model(rng.normal(120, 9, (12, 3))), fit_colour_model(rng.normal(60, 30, (400, 3)))
    else:
        fg = fit_colour_model(rng.integers(0, 256, (600, 3)))
        bg = fit_colour_model(np.concatenate([rng.normal(30, 2, (300, 3)), rng.normal(220, 15, (300, 3))]))
    x = rng.integers(0, 256, (5000, 3)).astype(np.float64)
    if case == "extremes":
        x = np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 255], [128, 128, 128]], np.float64)
    ref = _plain_log_likelihood(fg, x) - _plain_log_likelihood(bg, x)
    got = colour_log_ratio(fg, bg, x)
    assert got.dtype == np.float32 and got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=0.05)
    assert np.array_equal(got > 0, ref > 0) or np.abs(ref[(got > 0) != (ref > 0)]).max() < 0.05


def test_colour_log_ratio_in_place_reads_only_where_asked():
    from ldmatte.video.carried import _log_ratio_into

    rng = np.random.default_rng(4)
    fg, bg = fit_colour_model(rng.normal(180, 20, (400, 3))), fit_colour_model(rng.normal(70, 25, (400, 3)))
    image = rng.integers(0, 256, (37, 53, 3)).astype(np.uint8)
    image[0, :3] = [[0, 0, 0], [255, 255, 255], [255, 0, 255]]  # the cube's corners
    where = rng.random((37, 53)) < 0.3
    out = np.full((37, 53), 7.0, np.float32)
    _log_ratio_into(out, fg, bg, image, where)
    ref = _plain_log_likelihood(fg, image[where].astype(np.float64)) - _plain_log_likelihood(bg, image[where])
    np.testing.assert_allclose(out[where], ref, rtol=1e-5, atol=1e-3)
    assert (out[~where] == 7).all()
    every = _log_ratio_into(np.zeros((37, 53), np.float32), fg, bg, image)
    assert np.array_equal(every[where], out[where])
    assert np.array_equal(every.ravel(), colour_log_ratio(fg, bg, image.reshape(-1, 3)))


@pytest.mark.parametrize("case", ["colour", "grey", "empty", "few"])
def test_colour_samples_are_the_plain_pick_of_the_masked_pixels(case):
    from ldmatte.video.carried import _pick

    rng = np.random.default_rng(5)
    frame = rng.integers(0, 256, (41, 67, 3) if case != "grey" else (41, 67)).astype(np.uint8)
    fg = np.zeros((41, 67), bool)
    if case != "empty":
        fg[5:30, 10:50] = rng.random((25, 40)) < (0.9 if case != "few" else 0.01)
    bg = ~fg & (rng.random((41, 67)) < 0.5)
    seg = CarriedSegmenter(fg | True, CarrySettings(samples=300))
    got = seg._samples(frame, fg, bg, seed=9)
    plain = np.random.default_rng(9)
    for g, m in zip(got, (fg, bg)):
        ref = _pick(frame[m], 300, plain)
        assert g.dtype == ref.dtype and np.array_equal(g, ref)


def test_the_consistency_check_flow_is_coarser_only_when_asked():
    fine = CarriedSegmenter(np.ones((8, 8), bool), CarrySettings(coarse_check=False))
    assert fine._check_dis is fine._dis
    coarse = CarriedSegmenter(np.ones((8, 8), bool))
    assert coarse._check_dis.getFinestScale() == coarse._dis.getFinestScale() + 1
    assert coarse._check_dis.getVariationalRefinementIterations() == 0
    assert coarse._dis.getVariationalRefinementIterations() > 0
    # A box whose scaled shorter side is below 32 px (a thin strip along the frame's edge) is checked by the
    # finer flow: DIS one level coarser has too shallow a pyramid there (OpenCV 5.1 crashes on a 24 x 400 image).
    grey = cv2.GaussianBlur(np.random.default_rng(0).integers(0, 256, (300, 800)).astype(np.uint8), (0, 0), 2)
    coarse._grey = grey
    back, fwd = coarse._box_flows(np.roll(grey, 1, axis=1), (0, 24, 0, 400), side=400, check=coarse._check_dis)
    assert back.shape == fwd.shape == (24, 400, 2) and np.isfinite(fwd).all()


def test_recall_brings_back_the_first_mask_and_stays_away_from_a_moved_subject():
    frames, masks = _disc_clip([14, 14, 46], size=64)
    seg = CarriedSegmenter(masks[0])
    seg.segment(frames[0], 0)
    seg.segment(frames[1], 1)
    drifted = masks[0] | np.roll(masks[0], 3, axis=1)  # a carried mask grown to one side
    recalled, trusted = seg._recall(drifted, 3)
    assert trusted[masks[0]].mean() > 0.9 and (recalled == masks[0])[trusted].mean() > 0.97
    seg.segment(frames[2], 2)  # the disc moved far from its first place: no recall
    assert seg._recall(masks[2], 3) == (None, None)
    with pytest.raises(ValueError, match="recall"):
        CarrySettings(recall=0)


def test_a_lost_subject_is_found_again_where_its_first_mask_fits_and_not_on_empty_background():
    frames, masks = _disc_clip([14, 14, 14, 14], size=64)
    empty = frames[0].copy()
    empty[masks[0]] = np.roll(frames[0], 20, axis=1)[masks[0]]  # the disc's place shows background
    seg = CarriedSegmenter(masks[0])
    seg.segment(frames[0], 0)
    seg._mask = np.zeros_like(masks[0])  # lost
    for i in (1, 2, 3):
        m = seg.segment(empty, i) > 127
        assert not m.any() and seg.note[0] == "lost", i
    seg = CarriedSegmenter(masks[0])
    seg.segment(frames[0], 0)
    seg._mask = np.zeros_like(masks[0])
    notes = []
    for i in (1, 2, 3):
        m = seg.segment(frames[i], i) > 127
        notes.append(seg.note)
    assert ("guessed", "the subject re-found where the first frame's mask fits again") in notes
    assert (m & masks[3]).sum() / (m | masks[3]).sum() > 0.85
    with pytest.raises(ValueError, match="refind"):
        CarrySettings(refind=0)


def test_forward_backward_error_flags_disagreement():
    back = np.zeros((8, 8, 2), np.float32)
    fwd = np.zeros((8, 8, 2), np.float32)
    fwd[2:4, 2:4, 0] = 5  # the forward flow says this patch moved; the backward flow does not
    err = forward_backward_error(back, fwd)
    assert err[2:4, 2:4].min() == 5 and err[6:, 6:].max() == 0


def test_thin_parts_keep_a_known_skeleton():
    m = np.zeros((40, 40), np.uint8)
    m[5:35, 5:20] = 255
    m[20, 20:38] = 255  # a wire 1 px thick
    m[10:12, 20:36] = 255  # a leg 2 px thick
    tri = mask_trimap(m, 10)
    assert (tri[20, 22:36] == 255).all() and (tri[10:12, 22:34] == 255).any(axis=0).all()
    assert not thin_core(m, 5)[8:32, 8:17].any()  # the thick block's interior is not "thin"
    assert (mask_trimap(m, 10, thin=False)[20, 22:36] == 128).all()


@pytest.mark.skipif(not (REAL / "chair" / "frames").is_dir(), reason="real clips not present")
def test_real_chair_runs_with_no_error(tmp_path):
    from PIL import Image

    files = sorted((REAL / "chair" / "frames").glob("*.jpg"))[:5]
    frames = np.stack([cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in files])
    first = np.asarray(Image.open(REAL / "chair" / "masks" / "00000.png")) == 1
    video = tmp_path / "chair.mkv"
    write_video(video, frames, fps=24)
    res = matte_video(video, tmp_path / "out", np.where(first, 255, 0).astype(np.uint8),
                      VideoMattingSettings(formats=("png",)))  # fmt: skip
    assert res.frames == len(files)
    gt = np.asarray(Image.open(REAL / "chair" / "masks" / f"{len(files) - 1:05d}.png")) == 1
    alpha = cv2.imread(str(tmp_path / "out" / "alpha" / f"{len(files) - 1:06d}.png"), 0) > 127
    assert (alpha & gt).sum() / (alpha | gt).sum() > 0.75
