"""The background plate of video matting: motion of the background, the plate itself, trimaps corrected with it."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from ldmatte.video.background import BackgroundPlate, BackgroundSettings, plate_trimap
from ldmatte.video.flow import FlowTracker, Motion, background_motion
from ldmatte.video.trimaps import distance_outside, mask_trimap

H, W = 48, 64
IDENTITY = Motion(affine=np.float32([[1, 0, 0], [0, 1, 0]]))


def _texture(seed: int, h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur((rng.random((h, w, 3)) * 255).astype(np.uint8), (0, 0), 1.5)


def _panning_scene(n: int, pan: int = 2):
    """A background panning ``pan`` px left per frame behind an opaque grey square moving right 3 px per frame."""
    big = _texture(0, H, W + pan * n + 4)
    frames, masks, backgrounds = [], [], []
    for t in range(n):
        bg = big[:, pan * t : pan * t + W].copy()
        frame, mask = bg.copy(), np.zeros((H, W), np.uint8)
        x = 10 + 3 * t
        frame[14:34, x : x + 16] = 128
        mask[14:34, x : x + 16] = 255
        frames.append(frame), masks.append(mask), backgrounds.append(bg)
    return frames, masks, backgrounds


def test_plate_shows_the_background_behind_a_moving_subject():
    frames, masks, backgrounds = _panning_scene(6)
    # content at x in frame t was at x + 2 in frame t - 1: the current -> previous map
    pan = Motion(affine=np.float32([[1, 0, 2], [0, 1, 0]]))
    plate = BackgroundPlate(BackgroundSettings(history=4))
    for t, (frame, mask) in enumerate(zip(frames, masks)):
        plate.step(None if t == 0 else pan)
        colour, valid = plate.plate(t)
        if t == 0:
            assert colour.size == 0  # nothing seen yet
        else:
            # The plate is exact wherever it is known, and it knows part of what the subject hides now.
            assert valid.any() and np.array_equal(colour[valid], backgrounds[t][valid].astype(np.float32))
            assert (valid & (mask > 0)).any() and not valid[:, -2:].any()  # new background entering: unknown
        plate.add(t, frame, mask == 0)


def test_plate_forgets_when_the_motion_is_unknown_and_after_its_history():
    frame = _texture(1, H, W)
    clean = np.ones((H, W), bool)
    plate = BackgroundPlate(BackgroundSettings(history=2))
    plate.step(None)
    plate.add(0, frame, clean)
    plate.step(None)  # the camera motion is unknown: frame 0 cannot be brought onto frame 1
    assert not plate.plate(1)[1].any()
    plate.add(1, frame, clean)
    plate.add(5, frame, clean)  # a frame not stepped yet is ignored
    for _ in range(2):
        plate.step(IDENTITY)
    assert plate.plate(3)[1].all()  # frame 1 is two frames back: still remembered
    plate.step(IDENTITY)
    assert not plate.plate(4)[1].any()  # three back: forgotten
    off = BackgroundPlate(BackgroundSettings(history=0))
    off.step(None)
    off.add(0, frame, clean)
    off.step(IDENTITY)
    assert off.plate(1)[0].size == 0


def _still_plate(seed: int):
    """A frame seen all clean, then a still camera: (the frame, the plate at frame 1)."""
    frame = _texture(seed, H, W)
    plate = BackgroundPlate()
    plate.step(None)
    plate.add(0, frame, np.ones((H, W), bool))
    plate.step(IDENTITY)
    return frame, plate


def test_plate_box_limits_the_work():
    frame, plate = _still_plate(2)
    colour, valid = plate.plate(1, box=(10, 20, -5, 30))  # clipped to the frame
    assert valid[10:20, :30].all() and valid.sum() == 10 * 30
    assert np.array_equal(colour[10:20, :30], frame[10:20, :30].astype(np.float32))


def test_background_motion_follows_the_background_not_the_subject():
    frames, masks, _ = _panning_scene(3)
    tracker = FlowTracker()
    for f in frames[:2]:
        tracker.step(f)
    motion = background_motion(tracker.flow, masks[1], margin=4)
    assert motion is not None and abs(motion.affine[0, 2] - 2) < 0.3 and abs(motion.affine[1, 2]) < 0.3
    assert np.allclose(motion.affine[:, :2], np.eye(2), atol=0.02)
    assert background_motion(tracker.flow, np.full((H, W), 255, np.uint8), margin=4) is None  # no background


def _strand_scene(noise: float = 0.0, seed: int = 0):
    """A textured background, a subject on the right, a faint strand 6 px out of its mask, and the plate."""
    rng = np.random.default_rng(seed)
    bg = _texture(3, H, W).astype(np.float32)
    frame = bg.copy()
    frame[:, 40:] = 200
    frame[10:30, 33] = 0.6 * 40 + 0.4 * bg[10:30, 33]  # a dark strand, alpha 0.6
    frame = np.clip(frame + rng.normal(0, noise, frame.shape), 0, 255).round().astype(np.uint8)
    mask = np.zeros((H, W), np.uint8)
    mask[:, 40:] = 255
    return frame, bg, mask


def test_plate_trimap_finds_the_strand_and_cleans_the_band():
    frame, bg, mask = _strand_scene()
    tri = mask_trimap(mask, 6)
    reach = distance_outside(mask) <= 12
    out, noise = plate_trimap(tri, frame, bg, np.ones((H, W), bool), mask, reach)
    assert noise is not None and noise < 1
    assert (out[10:30, 33] == 128).all() and (tri[10:30, 33] == 0).all()  # the strand joined the band
    assert (out[:, :20] == 0).all()  # nothing far out
    band_out = (tri == 128) & (mask == 0)
    # Clean band pixels outside the mask (away from the strand) became known background; the mask's inside not.
    assert (out[35:, 37][band_out[35:, 37]] == 0).all()
    assert np.array_equal(out[mask > 0], tri[mask > 0])
    # Detections never go past the reach.
    near = distance_outside(mask) <= 3
    out_near, _ = plate_trimap(tri, frame, bg, np.ones((H, W), bool), mask, near)
    assert (out_near[:, 33] == 0).all()


def test_plate_trimap_tolerances_follow_the_noise():
    settings = BackgroundSettings()
    reach = np.ones((H, W), bool)
    frame, bg, mask = _strand_scene(noise=6.0, seed=1)
    tri = mask_trimap(mask, 6)
    out, noise = plate_trimap(tri, frame, bg, np.ones((H, W), bool), mask, reach, settings)
    assert noise > 3
    false = (out == 128) & (tri == 0)
    false[:, 30:37] = False  # around the strand
    assert false.mean() < 0.01  # noise alone is not hair
    # Without the plate (nothing known) or with too little known background the trimap is unchanged.
    same, none = plate_trimap(tri, frame, bg, np.zeros((H, W), bool), mask, reach)
    assert none is None and np.array_equal(same, tri)


@pytest.mark.parametrize("bad", [dict(history=-1), dict(history=1.5), dict(clean=0), dict(clean=9, detect=3),
                                 dict(min_clean=7, min_detect=6)])  # fmt: skip
def test_settings_refuse_bad_values(bad):
    with pytest.raises(ValueError):
        BackgroundSettings(**bad)


def test_mask_trimap_keeps_a_core_in_narrow_gaps():
    m = np.full((40, 60), 255, np.uint8)
    m[10:30, 20:26] = 0  # a gap 6 px wide, enclosed: narrower than a 10 px band
    m[:, 50:] = 0  # open background on the right
    with_core = mask_trimap(m, 10)
    without = mask_trimap(m, 10, holes=False)
    assert not (without[10:30, 20:26] == 0).any()
    assert (with_core[12:28, 22:24] == 0).all() and (with_core[10:30, 20:26] != 255).all()
    assert np.array_equal(with_core[:, 30:], without[:, 30:])  # open background as before


def _clean_masks(kind: str, h: int, w: int, rng) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    if kind == "blobs":
        return (cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 3) > 0.5).astype(np.uint8) * 255
    if kind == "chessboard":
        return np.where((yy + xx) % 2 == 0, 255, 0).astype(np.uint8)
    if kind == "stripes":
        return np.where(xx % 5 < 3, 255, 0).astype(np.uint8)
    return np.full((h, w), 255 if kind == "all" else 0, np.uint8)


@pytest.mark.parametrize("kind", ["blobs", "chessboard", "stripes", "all", "none"])
@pytest.mark.parametrize("motion", ["integer", "fractional", "rotation"])
def test_plate_fill_matches_its_opencv_reference(kind, motion):
    from ldmatte.reference.background_plate import plate_reference

    rng = np.random.default_rng(hash((kind, motion)) % 2**32)
    h, w = 37, 53
    plate = BackgroundPlate(BackgroundSettings(history=4))
    plate.step(None)
    for t in range(5):
        if t:
            a = np.float32([[1, 0, rng.integers(-3, 4)], [0, 1, rng.integers(-3, 4)]])
            if motion != "integer":
                a[:, 2] += rng.uniform(-1, 1, 2).astype(np.float32)
            if motion == "rotation":
                c, s = np.cos(0.03), np.sin(0.03)
                a[:, :2] = np.float32([[c, -s], [s, c]]) * np.float32(1.02)
            plate.step(Motion(affine=a))
        plate.add(t, _texture(t, h, w), _clean_masks(kind, h, w, rng) > 0)
    plate.step(Motion(affine=np.float32([[1, 0, 0.25], [0, 1, -0.5]])))
    for box in [(0, h, 0, w), (5, 30, 7, 40), (10, 11, 0, w), (0, h, 20, 21), (3, 8, 9, 12)]:
        got_c, got_v = plate.plate(5, box, crop=True)
        want_c, want_v = plate_reference(plate, 5, box)
        if kind == "none":  # nothing was ever clean: no plate at all
            assert got_c.size == 0 and not want_v.any()
            continue
        assert got_c.shape == want_c.shape and got_v.shape == want_v.shape
        agree = got_v == want_v
        if motion == "integer":
            assert agree.all()
        else:  # OpenCV's fixed-point coordinates may round a sub-1/64-pixel case the other way
            assert (~agree).sum() <= max(1, 0.02 * agree.size)
        both = got_v & want_v
        close = np.abs(got_c[both] - want_c[both]).max(axis=-1) <= 1
        if motion == "integer":
            assert close.all()
        else:  # where the rounding picks another frame for a pixel, its colour is that frame's
            assert (~close).sum() <= max(1, 0.02 * close.size)


def test_plate_fills_only_what_is_needed():
    frame, plate = _still_plate(4)
    need = np.zeros((10, 20), bool)
    need[2:5, 3:9] = True
    colour, valid = plate.plate(1, box=(10, 20, 5, 25), crop=True, need=need)
    assert np.array_equal(valid, need)
    assert np.array_equal(colour[need], frame[10:20, 5:25][need].astype(np.float32))


@pytest.mark.parametrize("shape", [(1, 1), (1, 17), (19, 1), (23, 31)])
def test_colour_distance_equals_the_numpy_expression(shape):
    from ldmatte.video._plate_kernels import colour_distance

    rng = np.random.default_rng(sum(shape))
    frame = rng.integers(0, 256, shape + (3,), dtype=np.uint8)
    frame[..., 0] = 255  # extremes
    colour = rng.uniform(-1, 256, shape + (3,)).astype(np.float32)
    colour[..., 1] = 0
    want = np.abs(frame.astype(np.float32) - colour).max(axis=-1)
    assert np.array_equal(colour_distance(frame, colour), want)
