"""CAAR hysteresis (``hysteresis=True``): snapped tolerance pixels next to the kept band keep their value.

The Numba kernel against the plain reference (bit for bit, statistics too) on
random and adversarial inputs, the rule's properties, and the CUDA kernel
against the CPU (marked ``gpu``: skipped without a GPU).
"""
from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import ldmatte
from ldmatte._kernels.caar import refine_alpha_batch
from ldmatte.reference.caar import STAT_FIELDS, refine_alpha_reference

from ldmatte.reference.patterns import adversarial_masks, alpha_from_mask, blobs, random_mask

COMBOS = list(itertools.product((8, 4), (True, False), (0.05, None, 1.0)))  # connectivity, fill, msf
FAINT_LEVELS = np.array([0, 0, 1, 2, 5, 8, 9, 40, 128, 246, 247, 254, 255, 255], np.uint8)


def params(fg=8, bg=8, connectivity=8, snap=True, fill=True, msf=0.05, hysteresis=True):
    return ldmatte.RefineParams(fg, bg, connectivity, snap, fill, msf, hysteresis)


def assert_matches_reference(alpha, p):
    stack = alpha if alpha.ndim == 3 else alpha[None]
    out, stats = refine_alpha_batch(np.ascontiguousarray(stack), p)
    ref, ref_stats = refine_alpha_reference(stack, **p.as_dict())
    assert np.array_equal(out, ref), f"{np.count_nonzero(out != ref)} pixels differ with {p}"
    diff = {k: (int(a), int(b)) for k, a, b in zip(STAT_FIELDS, stats.sum(0), ref_stats.sum(0)) if a != b}
    assert np.array_equal(stats, ref_stats), f"stats differ {diff} with {p}"
    return out


def faint_alpha(rng, h, w):
    """Opaque blobs with soft rims that fade through 1..8 into clear background, plus faint specks and trails."""
    body = blobs(rng, h, w, 4.0, 0.35)
    rim = blobs(rng, h, w, 4.0, 0.45) & ~body
    tips = blobs(rng, h, w, 2.0, 0.55) & ~body & ~rim
    a = np.where(body, rng.integers(240, 256, (h, w)), 0)
    a = np.where(rim, rng.integers(9, 200, (h, w)), a)
    a = np.where(tips, rng.integers(1, 9, (h, w)), a)
    a = np.where(random_mask(rng, h, w, 0.04), rng.integers(1, 12, (h, w)), a)
    return a.astype(np.uint8)


# --- kernel == reference -------------------------------------------------------------------------


@pytest.mark.parametrize("connectivity,fill,msf", COMBOS)
def test_random_and_structured(rng, connectivity, fill, msf):
    for shape in ((1, 1), (1, 37), (37, 1), (17, 24), (33, 47), (64, 64)):
        for alpha in (rng.choice(FAINT_LEVELS, shape), faint_alpha(rng, *shape),
                      rng.integers(0, 256, shape).astype(np.uint8)):  # fmt: skip
            assert_matches_reference(alpha, params(connectivity=connectivity, fill=fill, msf=msf))


@pytest.mark.parametrize("tols", [(8, 0), (8, 1), (8, 8), (2, 30), (30, 2), (127, 127), (0, 254)])
def test_tolerances(rng, tols):
    for connectivity in (8, 4):
        for msf in (0.05, None):
            assert_matches_reference(faint_alpha(rng, 40, 48), params(*tols, connectivity, msf=msf))
            assert_matches_reference(rng.integers(0, 256, (31, 45)).astype(np.uint8),
                                     params(*tols, connectivity, msf=msf))  # fmt: skip


@pytest.mark.parametrize("name", sorted(adversarial_masks()))
def test_adversarial(rng, name):
    """Spirals, chessboards, combs, stripes: faint corridors of one pixel between band and background."""
    mask = adversarial_masks()[name]
    for alpha in (alpha_from_mask(mask, rng), np.where(mask, 128, 3).astype(np.uint8),
                  np.where(mask, 5, 0).astype(np.uint8), np.where(mask, 255, 4).astype(np.uint8)):  # fmt: skip
        for connectivity, fill, msf in COMBOS[::2]:
            assert_matches_reference(alpha, params(connectivity=connectivity, fill=fill, msf=msf))


@pytest.mark.parametrize("value", [0, 1, 8, 9, 128, 255])
@pytest.mark.parametrize("shape", [(1, 1), (1, 13), (13, 1), (7, 9)])
def test_flat_and_thin(value, shape):
    for connectivity in (8, 4):
        assert_matches_reference(np.full(shape, value, np.uint8), params(connectivity=connectivity))


def test_batch_and_unaligned(rng):
    stack = np.stack([faint_alpha(rng, 40, 61) for _ in range(5)] + [np.zeros((40, 61), np.uint8)])
    for connectivity, fill, msf in COMBOS:
        assert_matches_reference(stack, params(connectivity=connectivity, fill=fill, msf=msf))
    buf = np.zeros(40 * 61 + 3, np.uint8)
    view = buf[3:].reshape(40, 61)
    view[:] = stack[0]
    assert np.array_equal(ldmatte.refine_alpha(view, hysteresis=True), assert_matches_reference(stack[0], params())[0])


def test_real_alphas(data_dir):
    from PIL import Image

    paths = [p for p in sorted(data_dir.glob("*.png")) if Image.open(p).mode == "RGBA"]
    assert paths
    for p in paths[:3]:
        alpha = np.ascontiguousarray(np.asarray(Image.open(p))[..., 3])
        assert_matches_reference(alpha, params())
        assert_matches_reference(alpha[::2, ::2], params(connectivity=4, msf=None))


@settings(max_examples=150, deadline=None)
@given(
    alpha=arrays(np.uint8, st.tuples(st.integers(1, 14), st.integers(1, 26)),
                 elements=st.sampled_from([0, 0, 1, 3, 8, 9, 60, 128, 246, 250, 255, 255])),
    tols=st.tuples(st.integers(0, 140), st.integers(0, 140)).filter(lambda t: t[1] < 255 - t[0]),
    connectivity=st.sampled_from((4, 8)),
    snap=st.booleans(),
    fill=st.booleans(),
    msf=st.sampled_from([None, 0.0, 0.05, 0.3, 1.0]),
)
def test_property_hysteresis(alpha, tols, connectivity, snap, fill, msf):
    """Equals the reference; changes only tolerance pixels next to a kept U pixel, back to their input;
    off equals the plain rule bit for bit."""
    from scipy import ndimage

    fg_tol, bg_tol = tols
    # The rule on the input's own values: no haze floor removed first (a frame with no pixel <= bg_tol would
    # have its floor removed, and the property below speaks of the input's values).
    p_on = dataclasses.replace(params(fg_tol, bg_tol, connectivity, snap, fill, msf, True), haze_floor="off")
    p_off = dataclasses.replace(p_on, hysteresis=False)
    on = assert_matches_reference(alpha, p_on)[0]
    off, off_stats = refine_alpha_batch(alpha[None], p_off)
    plain, plain_stats = refine_alpha_reference(alpha[None], fg_tol, bg_tol, connectivity, snap, fill, msf,
                                                hysteresis=False, haze_floor="off")
    assert np.array_equal(off, plain) and np.array_equal(off_stats, plain_stats)  # off: today's rule, bit for bit
    off = off[0]
    changed = on != off
    tolerance = ((alpha >= 1) & (alpha <= bg_tol)) | ((alpha >= 255 - fg_tol) & (alpha <= 254))
    assert not (changed & ~tolerance).any()  # nothing outside the faint and near-opaque ranges moves
    assert np.array_equal(on[changed], alpha[changed])  # a kept pixel has its input value
    kept_u = (alpha > bg_tol) & (alpha < 255 - fg_tol) & (off == alpha)
    st_ = np.ones((3, 3), bool) if connectivity == 8 else ndimage.generate_binary_structure(2, 1)
    assert not (changed & ~ndimage.binary_dilation(kept_u, st_)).any()  # only next to a kept U pixel
    if not snap:
        assert not changed.any()


# --- the rule --------------------------------------------------------------------------------------


def hair_scene():
    """An opaque block, a soft strand leaving it whose tip fades to 1..8, and a faint speck far away."""
    a = np.zeros((20, 30), np.uint8)
    a[:, :10] = 255
    a[9, 9:16] = (250, 200, 150, 100, 60, 30, 12)  # the strand: near-opaque root, then band (9..246)
    a[9, 16:20] = (8, 6, 3, 1)  # its faint tip
    a[15, 25] = 5  # isolated faint speck
    a[2, 20:22] = 4  # a faint pair next to nothing kept
    a[5, 3] = 250  # interior jitter far from the band
    return a


def test_tolerance_pixels_next_to_band_kept_speckle_snapped():
    a = hair_scene()
    off, rep_off = ldmatte.refine_alpha(a, hysteresis=False, return_report=True)
    on, rep = ldmatte.refine_alpha(a, hysteresis=True, return_report=True)
    assert off[9, 9:20].tolist() == [255, 200, 150, 100, 60, 30, 12, 0, 0, 0, 0]
    assert on[9, 9:20].tolist() == [250, 200, 150, 100, 60, 30, 12, 8, 0, 0, 0]  # one pixel of reach
    assert on[15, 25] == 0 and on[2, 20:22].tolist() == [0, 0] and on[5, 3] == 255
    assert rep_off.pixels_lowered - rep.pixels_lowered == 1 and rep_off.pixels_raised - rep.pixels_raised == 1
    assert rep.transition_pixels_after - rep_off.transition_pixels_after == 2


def test_diagonal_neighbour_follows_connectivity():
    a = hair_scene()
    a[9, 16] = 0
    a[10, 16] = 3  # touches the band pixel (9, 15) only diagonally
    assert ldmatte.refine_alpha(a, hysteresis=True)[10, 16] == 3
    assert ldmatte.refine_alpha(a, hysteresis=True, connectivity=4)[10, 16] == 0


def test_tolerance_next_to_removed_island_goes():
    a = np.zeros((40, 40), np.uint8)
    a[:, :20] = 255
    a[30, 30:34] = (250, 100, 4, 0)  # a tiny island: near-opaque, band and a faint tail
    assert ldmatte.refine_alpha(a, hysteresis=True)[30, 30:33].tolist() == [0, 0, 0]
    assert ldmatte.refine_alpha(a, hysteresis=True, min_subject_fraction=None)[30, 30:33].tolist() == [250, 100, 4]


def test_faint_next_to_floating_haze_goes():
    a = np.zeros((20, 20), np.uint8)
    a[5, 5:9] = (40, 30, 6, 2)  # floating haze (touches BG only) and a faint tail
    assert not ldmatte.refine_alpha(a, hysteresis=True, min_subject_fraction=None).any()


def test_refine_rgba_and_params_object(rng):
    alpha = np.stack([faint_alpha(rng, 32, 40) for _ in range(3)])
    rgba = np.concatenate([rng.integers(0, 256, alpha.shape + (3,)).astype(np.uint8), alpha[..., None]], -1)
    p = ldmatte.RefineParams(hysteresis=True)
    out = ldmatte.refine(rgba, **p.as_dict())
    assert np.array_equal(out[..., 3], ldmatte.refine_alpha(alpha, batch=True, **p.as_dict()))
    assert p.as_dict()["hysteresis"] is True and ldmatte.RefineParams(hysteresis=1).hysteresis is True


# --- CUDA == CPU (compiled here, run where a GPU is) ----------------------------------------------


@pytest.mark.gpu
@pytest.mark.parametrize("connectivity,fill,msf", COMBOS)
def test_cuda_equals_cpu(rng, connectivity, fill, msf):
    torch = pytest.importorskip("torch")
    alphas = [faint_alpha(rng, 61, 77), rng.choice(FAINT_LEVELS, (45, 50)), hair_scene(),
              np.zeros((9, 9), np.uint8), np.full((1, 40), 5, np.uint8)]  # fmt: skip
    alphas += [alpha_from_mask(m, rng) for m in adversarial_masks().values() if m.size and m.size <= 4096]
    for alpha in alphas:
        for bg in (8, 20):
            kw = dict(bg_tol=bg, connectivity=connectivity, fill_interior=fill, min_subject_fraction=msf,
                      hysteresis=True)  # fmt: skip
            want, want_rep = ldmatte.refine_alpha(alpha, return_report=True, **kw)
            got, got_rep = ldmatte.refine_alpha(torch.from_numpy(alpha).cuda(), return_report=True, **kw)
            np.testing.assert_array_equal(got.cpu().numpy(), want)
            assert got_rep == want_rep
    batch = np.stack([faint_alpha(rng, 40, 48) for _ in range(4)])
    want = ldmatte.refine_alpha(batch, batch=True, hysteresis=True)
    got = ldmatte.refine_alpha(torch.from_numpy(batch).cuda(), batch=True, hysteresis=True)
    np.testing.assert_array_equal(got.cpu().numpy(), want)
