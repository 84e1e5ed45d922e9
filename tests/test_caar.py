"""CAAR: the Numba kernel against the plain reference (bit for bit), and the spec's rules."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import ldmatte
from ldmatte import RefineReport
from ldmatte._kernels.caar import refine_alpha_batch
from ldmatte.reference.caar import STAT_FIELDS, refine_alpha_reference

from ldmatte.reference.patterns import adversarial_masks, alpha_from_mask, blobs, random_mask

COMBOS = list(itertools.product((8, 4), (True, False), (True, False), (0.05, None, 0.0, 1.0)))


def assert_matches_reference(alpha, fg_tol=8, bg_tol=8, connectivity=8, snap=True, fill=True, msf=0.05):
    stack = alpha if alpha.ndim == 3 else alpha[None]
    out, stats = refine_alpha_batch(stack, ldmatte.RefineParams(fg_tol, bg_tol, connectivity, snap, fill, msf))
    ref, ref_stats = refine_alpha_reference(stack, fg_tol, bg_tol, connectivity, snap, fill, msf)
    assert out.dtype == np.uint8 and stats.dtype == np.int64 and stats.shape == (stack.shape[0], len(STAT_FIELDS))
    params = dict(fg_tol=fg_tol, bg_tol=bg_tol, connectivity=connectivity, snap=snap, fill=fill, msf=msf)
    assert np.array_equal(out, ref), f"{np.count_nonzero(out != ref)} pixels differ with {params}"
    diff = {k: (int(a), int(b)) for k, a, b in zip(STAT_FIELDS, stats.sum(0), ref_stats.sum(0)) if a != b}
    assert np.array_equal(stats, ref_stats), f"stats differ {diff} with {params}"


def structured_alpha(rng, h, w):
    """Opaque blobs with noisy interiors, soft rims, haze and specks: every class and rule fires."""
    body = blobs(rng, h, w, 4.0, 0.35)
    rim = blobs(rng, h, w, 4.0, 0.45) & ~body
    a = np.where(body, rng.integers(240, 256, (h, w)), rng.integers(0, 12, (h, w)))
    a = np.where(rim, rng.integers(20, 230, (h, w)), a)
    a = np.where(random_mask(rng, h, w, 0.03), rng.integers(1, 255, (h, w)), a)
    return a.astype(np.uint8)


# --- kernel == reference -------------------------------------------------------------------------


@pytest.mark.parametrize("connectivity,snap,fill,msf", COMBOS)
def test_random_and_structured(rng, connectivity, snap, fill, msf):
    for shape in ((1, 1), (1, 29), (29, 1), (17, 24), (33, 47), (64, 64)):
        assert_matches_reference(rng.integers(0, 256, shape).astype(np.uint8), 8, 8, connectivity, snap, fill, msf)
        assert_matches_reference(structured_alpha(rng, *shape), 8, 8, connectivity, snap, fill, msf)


@pytest.mark.parametrize(
    "tols", [(0, 0), (8, 8), (30, 2), (2, 30), (127, 127), (128, 3), (3, 128), (200, 40), (0, 254)]
)
def test_tolerances(rng, tols):
    fg, bg = tols
    for connectivity, snap, fill in itertools.product((8, 4), (True, False), (True, False)):
        assert_matches_reference(structured_alpha(rng, 40, 48), fg, bg, connectivity, snap, fill, 0.05)
        assert_matches_reference(structured_alpha(rng, 31, 45), fg, bg, connectivity, snap, fill, None)


@pytest.mark.parametrize("name", sorted(adversarial_masks()))
def test_adversarial(rng, name):
    mask = adversarial_masks()[name]
    for alpha in (alpha_from_mask(mask, rng), np.where(mask, 128, 0).astype(np.uint8),
                  np.where(mask, 255, 128).astype(np.uint8), np.where(mask, 250, 5).astype(np.uint8)):
        for connectivity, snap, fill, msf in COMBOS[::3]:
            assert_matches_reference(alpha, 8, 8, connectivity, snap, fill, msf)


def test_word_paths_and_offsets(rng):
    # Uniform 8-pixel words at every alignment, next to U pixels, in word-aligned and unaligned widths.
    for w in (64, 61, 16, 9):
        a = np.zeros((24, w), np.uint8)
        for r in range(24):
            s = r % 11
            a[r, s : s + 13] = 255
            a[r, s + 13 : s + 15] = (100, 250)[: max(0, min(2, w - s - 13))]
            a[r, (s + 20) % w] = 7
        for connectivity, snap, fill, msf in COMBOS:
            assert_matches_reference(a, 8, 8, connectivity, snap, fill, msf)


@pytest.mark.parametrize("offset", [1, 3, 8])
def test_unaligned_input(rng, offset):
    # A C-contiguous view starting off an 8-byte boundary: rows and output words no longer line up.
    for shape in ((30, 64), (31, 45)):
        alpha = structured_alpha(rng, *shape)
        buf = np.zeros(alpha.size + offset, np.uint8)
        view = buf[offset:].reshape(shape)
        view[...] = alpha
        for connectivity, snap, fill, msf in COMBOS[::3]:
            assert_matches_reference(view, 8, 8, connectivity, snap, fill, msf)


def test_read_only_input(rng):
    alpha = structured_alpha(rng, 30, 40)
    alpha.flags.writeable = False
    assert_matches_reference(alpha)
    assert_matches_reference(alpha, 8, 8, 4, False, False, None)


def test_batch_parallel_path(rng):
    stack = np.stack([structured_alpha(rng, 40, 56) for _ in range(5)] + [np.zeros((40, 56), np.uint8)])
    for connectivity, snap, fill, msf in COMBOS[::2]:
        assert_matches_reference(stack, 8, 8, connectivity, snap, fill, msf)


def test_real_alphas(data_dir):
    from PIL import Image

    paths = [p for p in sorted(data_dir.glob("*.png")) if Image.open(p).mode == "RGBA"]
    assert paths
    for p in paths:
        alpha = np.ascontiguousarray(np.asarray(Image.open(p))[..., 3])
        assert_matches_reference(alpha)
        assert_matches_reference(alpha, 8, 8, 4, False, False, None)
    crop = np.ascontiguousarray(np.asarray(Image.open(data_dir / "curly_man_i2i_sdxl.png"))[300:556, 380:637, 3])
    for connectivity, snap, fill, msf in COMBOS:
        assert_matches_reference(crop, 8, 8, connectivity, snap, fill, msf)
        assert_matches_reference(crop, 2, 30, connectivity, snap, fill, msf)


@settings(max_examples=120, deadline=None)
@given(
    alpha=arrays(np.uint8, st.tuples(st.integers(1, 14), st.integers(1, 26)),
                 elements=st.sampled_from([0, 0, 3, 9, 60, 128, 200, 246, 250, 255, 255])),
    tols=st.tuples(st.integers(0, 140), st.integers(0, 140)).filter(lambda t: t[1] < 255 - t[0]),
    connectivity=st.sampled_from((4, 8)),
    snap=st.booleans(),
    fill=st.booleans(),
    msf=st.sampled_from([None, 0.0, 0.05, 0.3, 1.0]),
)
def test_property_equals_reference(alpha, tols, connectivity, snap, fill, msf):
    assert_matches_reference(alpha, tols[0], tols[1], connectivity, snap, fill, msf)


# --- the spec's rules through the public API ----------------------------------------------------


def body(h=40, w=40):
    """An opaque square subject with a one-pixel anti-aliased rim on clear background."""
    a = np.zeros((h, w), np.uint8)
    a[9:31, 9:31] = 128
    a[10:30, 10:30] = 255
    return a


def test_pinhole_filled_and_haze_removed():
    a = body()
    a[20, 20] = 140  # translucent pinhole in the body
    a[2:4, 2:4] = 60  # floating haze
    out, rep = ldmatte.refine_alpha(a, return_report=True)
    assert out[20, 20] == 255 and (out[2:4, 2:4] == 0).all()
    assert (out[9, 9:31] == 128).all()  # the border band keeps its values
    assert (rep.interior_components, rep.floating_components, rep.band_components) == (1, 1, 1)
    assert rep.pixels_raised == 1 and rep.pixels_lowered == 4


def test_real_hole_survives():
    a = body()
    a[16:24, 16:24] = 90  # anti-aliased rim around the hole
    a[17:23, 17:23] = 0  # the hole: clear background enclosed by the subject
    out = ldmatte.refine_alpha(a)
    assert (out[17:23, 17:23] == 0).all() and out[16, 20] == 90


def test_frame_counts_as_neither():
    a = np.zeros((20, 20), np.uint8)
    a[10:, 5:15] = 255  # a subject cut by the bottom frame
    a[19, 8:11] = 100  # touches FG and the frame only: interior error
    a[0, 5:9] = 100  # touches BG and the frame only: haze
    out, rep = ldmatte.refine_alpha(a, return_report=True)
    assert (out[19, 8:11] == 255).all() and (out[0, 5:9] == 0).all()
    assert (rep.interior_components, rep.floating_components, rep.band_components) == (1, 1, 0)
    flat = np.full((6, 7), 100, np.uint8)  # U everywhere touches only the frame: isolated, kept
    out, rep = ldmatte.refine_alpha(flat, return_report=True)
    assert (out == 100).all() and rep.isolated_components == 1 and rep.uncertain_kept_share == 1.0


def test_fill_interior_false_keeps_enclosed_translucency():
    a = body()
    a[15:25, 15:25] = 100  # glass inside the subject
    assert (ldmatte.refine_alpha(a, fill_interior=True)[15:25, 15:25] == 255).all()
    out, rep = ldmatte.refine_alpha(a, fill_interior=False, return_report=True)
    assert (out[15:25, 15:25] == 100).all() and rep.interior_components == 1 and rep.pixels_raised == 0


def test_subject_rule():
    a = body()  # 22 x 22 = 484 support pixels
    a[1:3, 35:37] = 255  # 4 pixels: below 5 % of the subject
    a[33:38, 2:7] = 255  # 25 pixels: above 5 %
    out, rep = ldmatte.refine_alpha(a, return_report=True)
    assert (out[1:3, 35:37] == 0).all() and (out[33:38, 2:7] == 255).all()
    assert (rep.islands_removed, rep.island_pixels_removed) == (1, 4)
    kept = ldmatte.refine_alpha(a, min_subject_fraction=None)
    assert (kept[1:3, 35:37] == 255).all()
    assert (ldmatte.refine_alpha(a, min_subject_fraction=0.06)[33:38, 2:7] == 0).all()


@pytest.mark.parametrize("shape", [(1, 37), (37, 1), (1, 1), (5, 8)])
@pytest.mark.parametrize("fill_value", [0, 255, 100])
def test_flat_and_thin(rng, shape, fill_value):
    a = np.full(shape, fill_value, np.uint8)
    out, rep = ldmatte.refine_alpha(a, return_report=True)
    assert np.array_equal(out, a) and rep.changed_share == 0.0
    thin = rng.integers(0, 256, shape).astype(np.uint8)
    assert np.array_equal(ldmatte.refine_alpha(thin), refine_alpha_reference(thin)[0])


def test_batches_and_torch(rng):
    empty = np.zeros((0, 6, 7), np.uint8)
    out, reps = ldmatte.refine_alpha(empty, return_report=True)
    assert out.shape == empty.shape and reps == []
    stack = np.stack([structured_alpha(rng, 20, 24) for _ in range(3)])
    out, reps = ldmatte.refine_alpha(stack, return_report=True)
    assert np.array_equal(out, refine_alpha_reference(stack)[0]) and len(reps) == 3
    torch = pytest.importorskip("torch")
    tout = ldmatte.refine_alpha(torch.from_numpy(stack))
    assert isinstance(tout, torch.Tensor) and np.array_equal(tout.numpy(), out)


def test_bad_input():
    a = body()
    with pytest.raises(TypeError):
        ldmatte.refine_alpha(a.astype(np.float32))
    for bad in (a[0], a[None, None]):
        with pytest.raises(ValueError, match="shape"):
            ldmatte.refine_alpha(bad)
    with pytest.raises(ValueError, match="C-contiguous"):
        ldmatte.refine_alpha(a[:, ::2])
    for kwargs in (dict(fg_tol=-1), dict(bg_tol=255), dict(fg_tol=2.5), dict(bg_tol=True),
                   dict(fg_tol=200, bg_tol=60), dict(connectivity=6), dict(min_subject_fraction=1.5)):
        with pytest.raises(ValueError):
            ldmatte.refine_alpha(a, **kwargs)


def test_report_json_round_trip(rng):
    _, rep = ldmatte.refine_alpha(structured_alpha(rng, 48, 40), return_report=True)
    back = RefineReport.from_dict(json.loads(rep.to_json()))
    assert back == rep and back.to_dict() == rep.to_dict()
    assert rep.pixels == 48 * 40 and 0.0 <= rep.uncertain_kept_share <= 1.0
