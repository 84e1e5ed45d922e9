"""The Numba labelling kernel against scipy.ndimage.label (exact labels and counts)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import ldmatte
from ldmatte._kernels.ccl import label_batch
from ldmatte.reference.label import label_reference

from ldmatte.reference.patterns import adversarial_masks, blobs, chessboard, comb, diagonal_stripes, random_mask, snake, spiral

CONNS = (4, 8)


def assert_same_as_scipy(mask, connectivity):
    labels, num = ldmatte.label(mask, connectivity=connectivity, return_num=True)
    ref, ref_num = label_reference(np.asarray(mask) != 0, connectivity)
    assert labels.dtype == np.int32 and labels.shape == np.shape(mask)
    np.testing.assert_array_equal(labels, ref)
    np.testing.assert_array_equal(num, ref_num)


@pytest.mark.parametrize("connectivity", CONNS)
@pytest.mark.parametrize("name", sorted(adversarial_masks()))
def test_adversarial(name, connectivity):
    assert_same_as_scipy(adversarial_masks()[name], connectivity)


@pytest.mark.parametrize("connectivity", CONNS)
@pytest.mark.parametrize(
    "shape", [(1, 1), (1, 8), (8, 1), (3, 7), (7, 3), (17, 31), (64, 64), (65, 129), (1, 300), (300, 1)]
)
@pytest.mark.parametrize("density", [0.05, 0.3, 0.5, 0.7, 0.95])
def test_random(rng, shape, density, connectivity):
    assert_same_as_scipy(random_mask(rng, *shape, density), connectivity)


@pytest.mark.parametrize("connectivity", CONNS)
@pytest.mark.parametrize("shape", [(96, 128), (97, 131)])
def test_blobs_and_structures(rng, shape, connectivity):
    h, w = shape
    for mask in (blobs(rng, h, w, 2.0, 0.4), blobs(rng, h, w, 6.0, 0.6), spiral(min(h, w), 2), snake(h, w),
                 chessboard(h, w, 1), chessboard(h, w, 5), diagonal_stripes(h, w, 2), comb(h, w)):
        assert_same_as_scipy(mask, connectivity)


@pytest.mark.parametrize("connectivity", CONNS)
def test_any_nonzero_byte_is_foreground(rng, connectivity):
    # Bytes >= 128 and odd values exercise the word tricks of the run scan.
    for w in (8, 13, 64, 77):
        mask = rng.integers(0, 256, (40, w)).astype(np.uint8)
        mask[rng.random(mask.shape) < 0.5] = 0
        mask[5, :] = 255
        mask[6, :] = 128
        assert_same_as_scipy(mask, connectivity)


@pytest.mark.parametrize("connectivity", CONNS)
def test_word_boundaries(connectivity):
    # Runs that start, end and cross at every offset of an 8-byte word, plus long uniform stretches.
    w = 67
    rows = []
    for s in range(16):
        for length in (1, 2, 7, 8, 9, 17, 40):
            r = np.zeros(w, bool)
            r[s : s + length] = True
            rows.append(r)
            rows.append(~r)
    mask = np.array(rows)
    assert_same_as_scipy(mask, connectivity)
    assert_same_as_scipy(np.ascontiguousarray(mask[:, :64]), connectivity)


@pytest.mark.parametrize("connectivity", CONNS)
@pytest.mark.parametrize("offset", [1, 5])
def test_unaligned_input(rng, connectivity, offset):
    for shape in ((20, 64), (21, 45)):
        mask = blobs(rng, *shape, 1.5, 0.5).view(np.uint8)
        buf = np.zeros(mask.size + offset, np.uint8)
        view = buf[offset:].reshape(shape)
        view[...] = mask
        assert_same_as_scipy(view, connectivity)


@pytest.mark.parametrize("connectivity", CONNS)
def test_batch(rng, connectivity):
    stack = np.stack([random_mask(rng, 33, 40, d) for d in (0.0, 0.2, 0.5, 0.8, 1.0)] + [chessboard(33, 40)])
    labels, num = ldmatte.label(stack, connectivity=connectivity, return_num=True)
    ref, ref_num = label_reference(stack, connectivity)
    np.testing.assert_array_equal(labels, ref)
    np.testing.assert_array_equal(num, ref_num)
    assert num.dtype == np.int32 and num.shape == (6,)


@pytest.mark.parametrize("shape", [(0, 5, 5), (1, 0, 4), (3, 4, 0), (2, 1, 1)])
def test_degenerate_batches(shape):
    labels, num = label_batch(np.ones(shape, np.uint8), 8)
    assert labels.shape == shape and num.shape == (shape[0],)
    np.testing.assert_array_equal(labels, label_reference(np.ones(shape, bool), 8)[0])


def test_single_image_returns_python_int():
    labels, num = ldmatte.label(np.eye(4, dtype=bool), connectivity=4, return_num=True)
    assert isinstance(num, int) and num == 4
    assert labels.tolist() == [[1, 0, 0, 0], [0, 2, 0, 0], [0, 0, 3, 0], [0, 0, 0, 4]]


def test_dtypes_and_torch(rng):
    mask = random_mask(rng, 20, 30, 0.5)
    ref = label_reference(mask, 8)[0]
    for m in (mask, mask.astype(np.uint8) * 7, mask.astype(np.int64), mask.astype(np.float32)):
        np.testing.assert_array_equal(ldmatte.label(m), ref)
    torch = pytest.importorskip("torch")
    out = ldmatte.label(torch.from_numpy(mask))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.int32
    np.testing.assert_array_equal(out.numpy(), ref)


def test_read_only_input(rng):
    mask = random_mask(rng, 30, 41, 0.5)
    mask.flags.writeable = False
    assert_same_as_scipy(mask, 8)


def test_bad_input():
    with pytest.raises(ValueError, match="connectivity"):
        ldmatte.label(np.ones((3, 3), bool), connectivity=6)
    with pytest.raises(ValueError, match="C-contiguous"):
        ldmatte.label(np.ones((6, 6), bool)[:, ::2])
    with pytest.raises(ValueError, match="shape"):
        ldmatte.label(np.ones(5, bool))
    with pytest.raises(ValueError, match="NaN"):
        ldmatte.label(np.array([[np.nan, 1.0]]))
    with pytest.raises(TypeError):
        ldmatte.label(np.ones((2, 2), complex))


def test_real_transition_masks(data_dir):
    from PIL import Image

    paths = [p for p in sorted(data_dir.glob("*.png")) if Image.open(p).mode == "RGBA"]
    assert paths
    for p in paths:
        alpha = np.asarray(Image.open(p))[..., 3]
        for lo, hi in ((8, 247), (0, 255)):
            mask = (alpha > lo) & (alpha < hi)
            for c in CONNS:
                assert_same_as_scipy(mask, c)


@settings(max_examples=150, deadline=None)
@given(
    mask=arrays(np.bool_, st.tuples(st.integers(1, 24), st.integers(1, 40))),
    connectivity=st.sampled_from(CONNS),
)
def test_property_equals_scipy(mask, connectivity):
    assert_same_as_scipy(mask, connectivity)


@settings(max_examples=60, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 30), st.integers(1, 70)),
    density=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
    connectivity=st.sampled_from(CONNS),
)
def test_property_numbering(shape, density, seed, connectivity):
    mask = np.random.default_rng(seed).random(shape) < density
    labels, num = ldmatte.label(mask, connectivity=connectivity, return_num=True)
    # Labels are exactly 1..N, background stays 0, and first pixels come in raster order.
    assert ((labels > 0) == mask).all()
    present = np.unique(labels[labels > 0])
    np.testing.assert_array_equal(present, np.arange(1, num + 1))
    first = [np.flatnonzero(labels.ravel() == k)[0] for k in range(1, num + 1)]
    assert first == sorted(first)


# ---------------------------------------------------------------- one image split into strips of rows


def assert_strips_same_as_scipy(mask, connectivity, n_strips):
    from ldmatte._kernels.ccl_strips import label_image_strips

    img = np.ascontiguousarray(np.asarray(mask) != 0).view(np.uint8)
    out = np.full(img.shape, -7, np.int32)  # every pixel must be written
    num = label_image_strips(img, 1 if connectivity == 8 else 0, out, n_strips)
    ref, ref_num = label_reference(img != 0, connectivity)
    np.testing.assert_array_equal(out, ref)
    assert num == ref_num


@pytest.mark.parametrize("connectivity", CONNS)
@pytest.mark.parametrize("n_strips", [2, 3, 7, 1000])
def test_strips_adversarial(connectivity, n_strips, rng):
    # Seams cut spirals, snakes, combs and chessboards; more strips than rows gives one row per strip.
    masks = dict(adversarial_masks())
    masks.update(spiral=spiral(61, 1), snake=snake(45, 38), comb=comb(50, 41), chess=chessboard(33, 29, 1),
                 stripes=diagonal_stripes(40, 40, 2), blobs=blobs(rng, 64, 96, 3.0, 0.5))
    for mask in masks.values():
        assert_strips_same_as_scipy(mask, connectivity, n_strips)


@settings(max_examples=150, deadline=None)
@given(
    mask=arrays(np.bool_, st.tuples(st.integers(1, 40), st.integers(1, 40))),
    connectivity=st.sampled_from(CONNS),
    n_strips=st.integers(1, 45),
)
def test_strips_property(mask, connectivity, n_strips):
    assert_strips_same_as_scipy(mask, connectivity, n_strips)


@pytest.mark.parametrize("connectivity", CONNS)
def test_large_single_image_takes_the_strip_path(rng, connectivity):
    # 512 x 512 reaches MIN_PIXELS: with several Numba threads label() splits it into strips.
    from ldmatte._kernels.ccl_strips import MIN_PIXELS

    mask = random_mask(rng, 512, 512, 0.5)
    assert mask.size >= MIN_PIXELS
    assert_same_as_scipy(mask, connectivity)
    assert_same_as_scipy(spiral(512, 1), connectivity)


def test_large_single_images_from_worker_threads(rng):
    # Worker threads (dataset build, refine --jobs) label on their own thread: same labels as scipy.
    from concurrent.futures import ThreadPoolExecutor

    masks = [random_mask(rng, 512, 512, d) for d in (0.3, 0.5, 0.7, 0.5)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda m: ldmatte.label(m, connectivity=8, return_num=True), masks))
    for mask, (labels, num) in zip(masks, results):
        ref, ref_num = label_reference(mask, 8)
        np.testing.assert_array_equal(labels, ref)
        assert num == ref_num
