"""Working resolution for video: the guided filter against its reference, guided upsampling, the pipeline's path."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from ldmatte.reference.guided_filter import (guided_coefficients_reference, guided_filter_reference,
                                             guided_upsample_reference)  # fmt: skip
from ldmatte.video.upsample import (WorkingResolution, guided_coefficients, guided_filter, guided_upsample,
                                    working_shape)  # fmt: skip

CASES = [((13, 17), 2, 1e-3), ((1, 9), 1, 1e-2), ((9, 1), 3, 1e-4), ((5, 5), 4, 1e-3), ((7, 11), 0, 1e-3),
         ((2, 3), 6, 1e-2)]  # fmt: skip


@pytest.mark.parametrize("shape,radius,eps", CASES)
@pytest.mark.parametrize("colour", [False, True])
def test_guided_filter_matches_reference_on_random_input(shape, radius, eps, colour):
    rng = np.random.default_rng(hash((shape, radius, colour)) % 2**32)
    guide = rng.random(shape + ((3,) if colour else ()))
    src = rng.random(shape)
    want = guided_filter_reference(guide, src, radius, eps)
    got = guided_filter(guide.astype(np.float32), src.astype(np.float32), radius, eps)
    assert got.dtype == np.float32 and got.shape == shape
    np.testing.assert_allclose(got, want, atol=2e-5)


@pytest.mark.parametrize("value", [0, 255])
@pytest.mark.parametrize("colour", [False, True])
def test_guided_filter_constant_images_stay_exact(value, colour):
    guide = np.full((6, 7, 3) if colour else (6, 7), value, np.uint8)
    src = np.full((6, 7), value, np.uint8)
    got = guided_filter(guide, src, 2, 1e-6)
    np.testing.assert_allclose(got, guided_filter_reference(guide / 255.0, src / 255.0, 2, 1e-6), atol=1e-6)
    np.testing.assert_allclose(got, value / 255, atol=1e-6)


def test_guided_filter_adversarial_edges_and_uint8():
    # A binary checkerboard (largest variance) and a guide unrelated to the source, as uint8.
    yy, xx = np.mgrid[:11, :14]
    guide = np.where((yy + xx) % 2 == 0, 255, 0).astype(np.uint8)
    src = np.where(xx > 6, 255, 0).astype(np.uint8)
    for g in (guide, np.dstack([guide, 255 - guide, np.zeros_like(guide)])):
        want = guided_filter_reference(g / 255.0, src / 255.0, 2, 1e-4)
        np.testing.assert_allclose(guided_filter(g, src, 2, 1e-4), want, atol=1e-4)


@pytest.mark.parametrize("shape", [(23, 31), (1, 40), (40, 1), (6, 6)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_colour_coefficients_match_the_reference(shape, dtype):
    rng = np.random.default_rng(sum(shape))
    guide = rng.random(shape + (3,))
    src = (rng.random(shape) > 0.5).astype(float) * rng.random(shape)
    if dtype == np.uint8:
        guide, src = np.round(guide * 255).astype(np.uint8), np.round(src * 255).astype(np.uint8)
        want = guided_coefficients_reference(guide / 255.0, src / 255.0, 2, 1e-3)
    else:
        guide, src = guide.astype(np.float32), src.astype(np.float32)
        want = guided_coefficients_reference(guide, src, 2, 1e-3)
    a, b = guided_coefficients(guide, src, 2, 1e-3)
    assert a.dtype == b.dtype == np.float32 and a.shape == shape + (3,) and b.shape == shape
    np.testing.assert_allclose(a, want[0], atol=2e-3)  # A is up to 1 / eps times a difference of means
    np.testing.assert_allclose((a * guide / (255.0 if dtype == np.uint8 else 1)).sum(-1) + b,
                               (want[0] * guide / (255.0 if dtype == np.uint8 else 1)).sum(-1) + want[1],
                               atol=2e-5)  # fmt: skip


def _portrait(h, w, seed):
    """A textured colour image and a soft-edged disc alpha with a checkerboard strand region (adversarial)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    r = np.hypot(yy - h / 2, xx - w / 3)
    alpha = np.clip((min(h, w) / 3 - r) * 60, 0, 255)
    alpha[(yy + xx) % 2 == 0] *= (xx[(yy + xx) % 2 == 0] > w * 0.7)
    image = np.dstack([alpha * 0.6 + rng.integers(0, 90, (h, w)), 255 - alpha * 0.5, rng.integers(0, 255, (h, w))])
    return np.clip(image, 0, 255).astype(np.uint8), alpha.astype(np.uint8)


@pytest.mark.parametrize("small,full", [((12, 20), (24, 40)), ((13, 17), (39, 51)), ((10, 15), (15, 22)),
                                        ((1, 16), (2, 32)), ((16, 1), (32, 3)), ((9, 9), (20, 31))])
@pytest.mark.parametrize("colour", [True, False])
def test_guided_upsample_matches_its_reference(small, full, colour):
    image, alpha = _portrait(*full, seed=full[0])
    guide_full = image if colour else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    guide = cv2.resize(guide_full, small[::-1], interpolation=cv2.INTER_AREA)
    a = cv2.resize(alpha, small[::-1], interpolation=cv2.INTER_AREA)
    got = guided_upsample(a, guide, guide_full, radius=1, eps=1e-3)
    want = guided_upsample_reference(a, guide, guide_full, 1, 1e-3)
    diff = np.abs(got.astype(int) - want)
    assert diff.max() <= 1 and (diff > 0).mean() < 0.02  # float32 against float64: rounding ties only


def test_guided_upsample_keeps_constant_regions_exact_and_is_deterministic():
    image, alpha = _portrait(60, 90, seed=1)
    small = cv2.resize(image, (45, 30), interpolation=cv2.INTER_AREA)
    a = cv2.resize(alpha, (45, 30), interpolation=cv2.INTER_AREA)
    a[:, :16] = 0  # a wide flat margin: flat beyond the filter's reach (2 r + 1) of its edge
    got = guided_upsample(a, small, image, radius=2, eps=1e-4)
    assert (got[:, :18] == 0).all() and np.array_equal(got, guided_upsample(a, small, image, radius=2, eps=1e-4))


def test_guided_coefficients_validate():
    with pytest.raises(ValueError, match="radius"):
        guided_coefficients(np.zeros((4, 4)), np.zeros((4, 4)), -1, 1e-3)
    with pytest.raises(ValueError, match="eps"):
        guided_coefficients(np.zeros((4, 4)), np.zeros((4, 4)), 1, 0)
    with pytest.raises(ValueError, match="same size"):
        guided_coefficients(np.zeros((4, 5)), np.zeros((4, 4)), 1, 1e-3)


def _sharp_scene(h=96, w=128):
    """A textured scene with a sharp-edged subject (a slanted disc) and its binary alpha, at full size."""
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    alpha = ((xx - 0.55 * w) ** 2 / 1.3 + (yy - 0.5 * h) ** 2 < (0.3 * h) ** 2).astype(np.float32)
    bg = np.dstack([40 + 20 * np.sin(xx / 5), 60 + 0 * xx, 90 + 20 * np.cos(yy / 7)])
    fg = np.dstack([220 + 0 * xx, 170 + 15 * np.sin(yy / 3), 120 + 0 * xx])
    image = np.clip(alpha[..., None] * fg + (1 - alpha[..., None]) * bg, 0, 255).astype(np.uint8)
    return image, (alpha * 255).astype(np.uint8)


@pytest.mark.parametrize("factor", [2, 3])
def test_guided_upsampling_recovers_a_sharp_edge_better_than_bilinear(factor):
    image, alpha = _sharp_scene()
    h, w = alpha.shape
    small_size = (w // factor, h // factor)
    small = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA)
    small_alpha = cv2.resize(alpha, small_size, interpolation=cv2.INTER_AREA)
    bilinear = cv2.resize(small_alpha, (w, h), interpolation=cv2.INTER_LINEAR)
    guided = guided_upsample(small_alpha, small, image)
    err = lambda a: np.abs(a.astype(np.int32) - alpha.astype(np.int32)).sum()  # noqa: E731
    assert guided.shape == alpha.shape and guided.dtype == np.uint8
    assert err(guided) < 0.6 * err(bilinear)
    to_grey = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)  # noqa: E731
    grey = guided_upsample(small_alpha, to_grey(small), to_grey(image))
    assert err(grey) < err(bilinear)


def test_guided_upsample_crop_equals_the_whole_image_filtered():
    image, alpha = _sharp_scene(64, 80)
    small = cv2.resize(image, (40, 32), interpolation=cv2.INTER_AREA)
    small_alpha = np.zeros((32, 40), np.uint8)
    small_alpha[10:20, 15:30] = cv2.resize(alpha, (40, 32), interpolation=cv2.INTER_AREA)[10:20, 15:30]
    got = guided_upsample(small_alpha, small, image, radius=2, eps=1e-3)
    a, b = guided_coefficients(small, small_alpha, 2, 1e-3)
    big_a = cv2.resize(a, (80, 64), interpolation=cv2.INTER_LINEAR)
    big_b = cv2.resize(b, (80, 64), interpolation=cv2.INTER_LINEAR)
    want = np.clip((big_a * (image / np.float32(255))).sum(axis=-1) + big_b, 0, 1)
    np.testing.assert_allclose(got / 255.0, want, atol=1.5 / 255)
    # Far from the subject the alpha stays exactly 0.
    assert got[:8].max() == 0 and got[:, :16].max() == 0


def test_guided_upsample_constant_and_same_size():
    full = np.zeros((20, 30, 3), np.uint8)
    small = np.zeros((10, 15, 3), np.uint8)
    for v in (0, 77, 255):
        out = guided_upsample(np.full((10, 15), v, np.uint8), small, full)
        assert out.shape == (20, 30) and (out == v).all()
    a = np.arange(150, dtype=np.uint8).reshape(10, 15)
    assert (guided_upsample(a, small, small) == a).all()
    with pytest.raises(ValueError):
        guided_upsample(a.astype(np.float32), small, full)


def test_working_shape():
    assert working_shape(1080, 1920, 960 * 540) == (540, 960)
    assert working_shape(2160, 3840, 960 * 540) == (540, 960)
    assert working_shape(480, 720, 960 * 540) == (480, 720)
    assert working_shape(1080, 1920, None) == (1080, 1920)
    for h, w, m in ((1, 5000, 100), (5000, 1, 100), (7, 13, 20), (1081, 1921, 12345)):
        hh, ww = working_shape(h, w, m)
        assert hh * ww <= m and hh >= 1 and ww >= 1
    with pytest.raises(ValueError, match="max_pixels"):
        working_shape(10, 10, -1)


def test_working_resolution_inactive_passes_through():
    work = WorkingResolution(48, 64, 0)
    frame = np.zeros((48, 64, 3), np.uint8)
    assert not work.active and work.shrink(frame) is frame and work.length(7) == 7
    alpha = np.zeros((48, 64), np.uint8)
    assert work.enlarge(alpha, frame, frame) is alpha


def test_pipeline_at_a_working_resolution(tmp_path):
    pytest.importorskip("av")
    pytest.importorskip("pymatting")
    from ldmatte.video.pipeline import VideoMattingSettings, matte_video
    from ldmatte.video.synthetic import make_video, write_video

    clip = make_video(4, 64, seed=1)
    video = tmp_path / "clip.mkv"
    write_video(video, clip.frames, fps=10)
    settings = VideoMattingSettings(formats=("png", "preview"), max_pixels=32 * 32)
    seen = []
    res = matte_video(video, tmp_path / "out", clip.first_mask, settings, on_frame=seen.append)
    assert res.frames == 4 and res.info["working_size"] == [32, 32] and res.seconds["upsample"] > 0
    import av

    with av.open(str(tmp_path / "out" / "preview.mp4")) as c:  # the preview at the working size, side by side
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 4 and frames[0].shape == (32, 64, 3)
    for fr in seen:
        assert fr.frame.shape == (64, 64, 3) and fr.alpha.shape == (64, 64) and fr.alpha.dtype == np.uint8
        assert fr.mask.shape == fr.trimap.shape == fr.raw_alpha.shape == (32, 32)
    for i in range(4):
        alpha = cv2.imread(str(tmp_path / "out" / "alpha" / f"{i:06d}.png"), cv2.IMREAD_UNCHANGED)
        rgba = cv2.imread(str(tmp_path / "out" / "rgba" / f"{i:06d}.png"), cv2.IMREAD_UNCHANGED)
        assert alpha.shape == (64, 64) and rgba.shape == (64, 64, 4) and (rgba[..., 3] == alpha).all()
        gt = clip.alphas[i] > 127
        ours = alpha > 127
        assert (gt & ours).sum() / (gt | ours).sum() > 0.85
    # A rerun resumes from the full-size alphas it finds (read back, scaled to the working size), and a run
    # stopped after two frames, then resumed, writes the same alphas as the uninterrupted one.
    again = matte_video(video, tmp_path / "out", clip.first_mask, settings)
    assert again.skipped == 4 and again.matted == 0
    matte_video(video, tmp_path / "cut", clip.first_mask, dataclasses.replace(settings, max_frames=2))
    resumed = matte_video(video, tmp_path / "cut", clip.first_mask, settings)
    assert resumed.skipped == 2 and resumed.matted == 2
    for i in range(4):
        name = f"{i:06d}.png"
        a = cv2.imread(str(tmp_path / "out" / "alpha" / name), cv2.IMREAD_UNCHANGED)
        assert (a == cv2.imread(str(tmp_path / "cut" / "alpha" / name), cv2.IMREAD_UNCHANGED)).all(), name


def test_pipeline_write_error_surfaces_and_no_writer_is_left(tmp_path, monkeypatch):
    pytest.importorskip("av")
    pytest.importorskip("pymatting")
    import threading

    from ldmatte.video import pipeline
    from ldmatte.video.synthetic import make_video, write_video

    clip = make_video(5, 32, seed=2)
    video = tmp_path / "clip.mkv"
    write_video(video, clip.frames, fps=10)
    real = pipeline.write_png_atomic
    calls = []

    def failing(path, image, durable=True):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real(path, image, durable)

    monkeypatch.setattr(pipeline, "write_png_atomic", failing)
    with pytest.raises(OSError, match="No space"):
        pipeline.matte_video(video, tmp_path / "out", clip.first_mask,
                             pipeline.VideoMattingSettings(formats=("png", "preview")))  # fmt: skip
    assert not any(t.name == "ldmatte-video-writer" for t in threading.enumerate())
    assert not (tmp_path / "out" / "preview.mp4").exists()
