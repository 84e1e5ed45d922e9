"""LayerDiffuse padding: the Numba kernel against the OpenCV reference, the golden pair, the public API.

Tolerances: uint8 output within 1 level of the reference everywhere (the spec);
float32 output within ``FLOAT_TOL`` absolute. On x86-64 with FMA the kernel
repeats the reference's float32 operations (OpenCV's area taps, IPP's linear
arithmetic, numpy's summation orders), so both are in fact bit-identical there;
the tolerance only leaves room for a platform whose OpenCV/IPP rounds
differently.
"""
from __future__ import annotations

import cv2
import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ldmatte
from ldmatte._kernels.pad import area_tab, level_shapes, pad_rgb_batch, repad_rgba_batch
from ldmatte.reference.pad import pad_rgb_reference

from ldmatte.reference.patterns import adversarial_masks, alpha_from_mask, blobs, chessboard, snake, spiral, load_rgba

FLOAT_TOL = 2e-6  # ~16 float32 ulps at 1.0


def assert_close_to_reference(rgba, what=""):
    """uint8 within 1, float32 within FLOAT_TOL, for a single image or a batch."""
    stack = rgba if rgba.ndim == 4 else rgba[None]
    for out_uint8, dtype in ((True, np.uint8), (False, np.float32)):
        got = pad_rgb_batch(np.ascontiguousarray(stack), out_uint8)
        ref = np.stack([pad_rgb_reference(x, dtype) for x in stack])
        assert got.dtype == dtype and got.shape == stack.shape[:-1] + (3,)
        err = np.abs(got.astype(np.float64) - ref.astype(np.float64)).max() if got.size else 0.0
        assert err <= (1 if out_uint8 else FLOAT_TOL), f"{what} {dtype.__name__}: max error {err}"


def random_rgba(rng, h, w, kind="random", dtype=np.uint8):
    rgb = rng.integers(0, 256, (h, w, 3))
    if kind == "random":
        a = rng.integers(0, 256, (h, w))
    elif kind == "binary":
        a = rng.choice([0, 255], (h, w))
    elif kind == "zero":
        a = np.zeros((h, w), int)
    elif kind == "opaque":
        a = np.full((h, w), 255)
    elif kind == "soft":  # blobs with soft edges and faint haze, like real outputs
        body = blobs(rng, h, w, 3.0, 0.4) if min(h, w) > 2 else rng.random((h, w)) < 0.4
        a = np.where(body, rng.integers(200, 256, (h, w)), rng.integers(0, 3, (h, w)) * rng.integers(0, 40, (h, w)))
    else:
        raise ValueError(kind)
    rgba = np.concatenate([rgb, a[..., None]], axis=-1).astype(np.uint8)
    return rgba if dtype == np.uint8 else (rgba.astype(np.float32) / np.float32(255.0))


# --- golden pair and real samples ---------------------------------------------------------------


def test_golden_pair(data_dir):
    rgba = load_rgba(data_dir / "pad_input.png")
    golden = cv2.imread(str(data_dir / "pad_reference_output.png"))[..., ::-1]
    assert np.array_equal(pad_rgb_reference(rgba), golden), "the reference itself no longer reproduces the golden pair"
    out = ldmatte.pad_rgb(rgba)
    diff = np.abs(out.astype(int) - golden)
    assert diff.max() <= 1
    assert np.count_nonzero(diff) <= diff.size // 10_000, f"{np.count_nonzero(diff)} values differ (goal: 0)"


def test_real_samples(real_rgba_samples):
    names = []
    for name, rgba in real_rgba_samples:
        assert_close_to_reference(rgba, name)
        names.append(name)
    assert names, "no RGBA sample in the data folder"


def test_real_samples_float_input(real_rgba_samples):
    for name, rgba in real_rgba_samples[:3]:
        assert_close_to_reference(rgba.astype(np.float32) / np.float32(255.0), name)


def test_real_batch_equals_one_by_one(real_rgba_samples):
    ims = [rgba for _, rgba in real_rgba_samples if rgba.shape[:2] == (512, 512)][:3]
    if len(ims) < 2:
        pytest.skip("needs two 512x512 samples")
    stack = np.stack(ims)
    batch = pad_rgb_batch(stack, True)
    for i, im in enumerate(ims):
        assert np.array_equal(batch[i], pad_rgb_batch(im[None], True)[0])


# --- random and adversarial inputs --------------------------------------------------------------

SHAPES = [(1, 1), (1, 2), (2, 1), (2, 2), (2, 3), (3, 2), (3, 3), (1, 97), (97, 1), (4, 300), (300, 4),
          (5, 7), (17, 24), (31, 31), (33, 47), (64, 64), (65, 63), (120, 37), (2, 257), (257, 2)]


@pytest.mark.parametrize("kind", ["random", "binary", "zero", "opaque", "soft"])
def test_random_shapes(rng, kind):
    for h, w in SHAPES:
        assert_close_to_reference(random_rgba(rng, h, w, kind), f"{kind} {h}x{w}")


@pytest.mark.parametrize("kind", ["random", "binary", "soft"])
def test_float_input(rng, kind):
    for h, w in SHAPES[::2]:
        assert_close_to_reference(random_rgba(rng, h, w, kind, np.float32), f"float {kind} {h}x{w}")


def test_batches(rng):
    for h, w in ((1, 1), (7, 9), (40, 33), (1, 50)):
        stack = np.stack([random_rgba(rng, h, w, k) for k in ("random", "binary", "zero", "opaque", "soft")])
        assert_close_to_reference(stack, f"batch {h}x{w}")
        for out_uint8 in (True, False):
            batch = pad_rgb_batch(stack, out_uint8)
            for i in range(len(stack)):
                assert np.array_equal(batch[i], pad_rgb_batch(stack[i : i + 1], out_uint8)[0])


@pytest.mark.parametrize("name", sorted(adversarial_masks()))
def test_adversarial(rng, name):
    mask = adversarial_masks()[name]
    h, w = mask.shape
    rgb = rng.integers(0, 256, (h, w, 3))
    for alpha in (alpha_from_mask(mask, rng), np.where(mask, 255, 0), np.where(mask, 1, 0)):
        rgba = np.concatenate([rgb, np.asarray(alpha)[..., None]], axis=-1).astype(np.uint8)
        if rgba.size == 0:  # the reference cannot resize empty images; the kernel returns empty output
            assert pad_rgb_batch(rgba[None], True).shape == (1, h, w, 3)
            continue
        assert_close_to_reference(rgba, name)


def test_large_patterns(rng):
    for mask in (spiral(257), snake(200, 301), chessboard(150, 151, 2)):
        rgba = np.concatenate([rng.integers(0, 256, mask.shape + (3,)), (mask * 255)[..., None]], axis=-1)
        assert_close_to_reference(rgba.astype(np.uint8), f"pattern {mask.shape}")


def test_every_uint8_pair():
    # Colour c and alpha a for all 256 x 256 pairs: the premultiplication (and its division by 255) is exact.
    c, a = np.meshgrid(np.arange(256), np.arange(256))
    rgba = np.stack([c, 255 - c, (c * 7) % 256, a], axis=-1).astype(np.uint8)
    got = pad_rgb_batch(rgba[None], False)[0]
    assert np.abs(got - pad_rgb_reference(rgba, np.float32)).max() <= FLOAT_TOL


def test_thread_count_does_not_change_results(rng):
    stack = np.stack([random_rgba(rng, 45, 38, "soft") for _ in range(5)])
    before = numba.get_num_threads()
    try:
        results = []
        for n in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):
            numba.set_num_threads(n)
            results.append(pad_rgb_batch(stack, False))
    finally:
        numba.set_num_threads(before)
    assert all(np.array_equal(results[0], r) for r in results)


def test_tap_tables_cover_each_cell_once():
    # Every INTER_AREA output's weights sum to 1 and at most three taps are ever needed.
    for h, w in ((1024, 1024), (1152, 896), (7, 300)):
        for size in {h, w}:
            shapes = [s for s in level_shapes(size, size)[:, 0]]
            for src, dst in zip(shapes, shapes[1:]):
                idx, wt = area_tab(src, dst)
                assert np.allclose(wt.sum(axis=0), 1.0, atol=1e-5)
                assert idx.min() >= 0 and idx.max() < src


# --- properties ---------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), seed=st.integers(0, 2**32 - 1),
       kind=st.sampled_from(["random", "binary", "zero", "opaque", "soft"]))
def test_property_matches_reference(h, w, seed, kind):
    assert_close_to_reference(random_rgba(np.random.default_rng(seed), h, w, kind), f"{kind} {h}x{w}")


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 30), w=st.integers(1, 30), seed=st.integers(0, 2**32 - 1))
def test_property_hidden_colour_is_ignored(h, w, seed):
    # Colour under alpha 0 is multiplied away first: it cannot change the padding anywhere.
    rng = np.random.default_rng(seed)
    rgba = random_rgba(rng, h, w, "binary")
    other = rgba.copy()
    hidden = other[..., 3] == 0
    other[hidden, :3] = rng.integers(0, 256, (int(hidden.sum()), 3))
    assert np.array_equal(pad_rgb_batch(rgba[None], False), pad_rgb_batch(other[None], False))


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 30), w=st.integers(1, 30), seed=st.integers(0, 2**32 - 1))
def test_property_uniform_colour_is_kept(h, w, seed):
    # One colour everywhere that something is visible: the padding can only spread that colour.
    rng = np.random.default_rng(seed)
    rgba = random_rgba(rng, h, w, "binary")
    rgba[..., :3] = rng.integers(0, 256, 3)
    if not rgba[..., 3].any():
        rgba[0, 0, 3] = 255
    out = pad_rgb_batch(rgba[None], False)[0]
    colour = rgba[0, 0, :3].astype(np.float32) / 255
    assert np.abs(out - colour).max() <= 1e-5


# --- new alpha + padding in one pass (what refine composes) ------------------------------------


def expected_repad(rgba, alpha):
    with_alpha = np.ascontiguousarray(np.concatenate([rgba[..., :3], alpha[..., None]], axis=-1))
    padded = pad_rgb_reference(with_alpha)
    rgb = np.where((alpha > 0)[..., None], rgba[..., :3], padded)
    return np.concatenate([rgb, alpha[..., None]], axis=-1)


def test_repad_random(rng):
    for h, w in SHAPES:
        rgba = random_rgba(rng, h, w, "random")
        alpha = np.where(rng.random((h, w)) < 0.5, 0, rng.integers(0, 256, (h, w))).astype(np.uint8)
        got = repad_rgba_batch(rgba[None], alpha[None])[0]
        exp = expected_repad(rgba, alpha)
        assert np.array_equal(got[..., 3], alpha) and got.dtype == np.uint8
        assert np.abs(got.astype(int) - exp).max() <= 1, f"{h}x{w}"
        assert np.array_equal(got[..., :3][alpha > 0], rgba[..., :3][alpha > 0])


def test_repad_real_matches_pad_rgb(real_rgba_samples):
    for name, rgba in real_rgba_samples[:3]:
        alpha = ldmatte.refine_alpha(np.ascontiguousarray(rgba[..., 3]))
        got = repad_rgba_batch(rgba[None], alpha[None])[0]
        with_alpha = np.ascontiguousarray(np.concatenate([rgba[..., :3], alpha[..., None]], axis=-1))
        exp = np.where((alpha > 0)[..., None], rgba[..., :3], pad_rgb_batch(with_alpha[None], True)[0])
        assert np.array_equal(got[..., :3], exp), name  # same kernel, same arithmetic: identical
        assert np.abs(got.astype(int) - expected_repad(rgba, alpha)).max() <= 1, name


def test_repad_batch(rng):
    stack = np.stack([random_rgba(rng, 23, 19, k) for k in ("random", "binary", "soft")])
    alpha = np.ascontiguousarray(stack[..., 3] // 2 * 2)
    got = repad_rgba_batch(stack, alpha)
    for i in range(len(stack)):
        assert np.array_equal(got[i], repad_rgba_batch(stack[i : i + 1], alpha[i : i + 1])[0])


# --- public API ---------------------------------------------------------------------------------


def test_public_api_shapes_and_dtypes(rng):
    im = random_rgba(rng, 9, 11, "soft")
    assert ldmatte.pad_rgb(im).shape == (9, 11, 3) and ldmatte.pad_rgb(im).dtype == np.uint8
    assert ldmatte.pad_rgb(im, np.float32).dtype == np.float32
    assert ldmatte.pad_rgb(np.stack([im, im])).shape == (2, 9, 11, 3)
    assert np.array_equal(ldmatte.pad_rgb(im), pad_rgb_reference(im))


def test_public_api_torch(rng):
    torch = pytest.importorskip("torch")
    im = random_rgba(rng, 12, 10, "soft")
    out = ldmatte.pad_rgb(torch.from_numpy(im))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.uint8 and tuple(out.shape) == (12, 10, 3)
    assert np.array_equal(out.numpy(), ldmatte.pad_rgb(im))


def test_public_api_validation(rng):
    im = random_rgba(rng, 6, 7)
    with pytest.raises(TypeError, match="dtype"):
        ldmatte.pad_rgb(im.astype(np.int16))
    with pytest.raises(TypeError, match="out_dtype"):
        ldmatte.pad_rgb(im, np.int32)
    with pytest.raises(ValueError, match="4 channels"):
        ldmatte.pad_rgb(im[..., :3].copy())
    with pytest.raises(ValueError, match="contiguous"):
        ldmatte.pad_rgb(im[:, ::2])
    bad = im.astype(np.float32) / 255
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ldmatte.pad_rgb(bad)
