"""component_stats against a plain numpy reference."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ldmatte
from ldmatte.reference.regions import component_stats_reference as reference_stats
from ldmatte.regions import ComponentStats, component_stats

from ldmatte.reference.patterns import adversarial_masks, random_mask, spiral


def assert_stats(labels, n=None):
    got = component_stats(labels, n)
    area, bbox, frame = reference_stats(labels, n)
    assert isinstance(got, ComponentStats) and got.num == len(got) == area.size
    np.testing.assert_array_equal(got.area, area)
    np.testing.assert_array_equal(got.bbox, bbox)
    np.testing.assert_array_equal(got.touches_frame, frame)
    assert got.area.dtype == np.int64 and got.bbox.shape == (area.size, 4) and got.touches_frame.dtype == bool


@pytest.mark.parametrize("name", sorted(adversarial_masks()))
@pytest.mark.parametrize("connectivity", (4, 8))
def test_adversarial(name, connectivity):
    assert_stats(ldmatte.label(adversarial_masks()[name], connectivity))


@pytest.mark.parametrize("shape", [(1, 1), (1, 40), (40, 1), (37, 53), (64, 64)])
def test_random(rng, shape):
    for density in (0.1, 0.5, 0.9):
        assert_stats(ldmatte.label(random_mask(rng, *shape, density), 4))


def test_interior_component_and_skimage_bbox():
    lab = np.zeros((7, 9), np.int32)
    lab[2:5, 3:6] = 1
    lab[0, 8] = 2
    s = component_stats(lab)
    assert s.area.tolist() == [9, 1]
    assert s.bbox.tolist() == [[2, 3, 5, 6], [0, 8, 1, 9]]
    assert s.touches_frame.tolist() == [False, True]


def test_num_pads_missing_labels():
    lab = np.zeros((3, 3), np.int32)
    lab[1, 1] = 2
    s = component_stats(lab, num=4)
    assert s.area.tolist() == [0, 1, 0, 0] and s.bbox[0].tolist() == [0, 0, 0, 0]
    assert_stats(lab, 4)


def test_batch_and_dtypes(rng):
    masks = np.stack([random_mask(rng, 20, 25, d) for d in (0.0, 0.3, 0.7)])
    labels, num = ldmatte.label(masks, return_num=True)
    out = component_stats(labels, num)
    assert isinstance(out, list) and len(out) == 3
    for s, lab in zip(out, labels):
        np.testing.assert_array_equal(s.area, reference_stats(lab)[0])
    s64 = component_stats(labels[1].astype(np.int64))
    np.testing.assert_array_equal(s64.bbox, reference_stats(labels[1])[1])
    assert component_stats(spiral(16).astype(np.uint8)).area.tolist() == [int(spiral(16).sum())]


def test_bad_input():
    with pytest.raises(TypeError):
        component_stats(np.zeros((3, 3), np.float32))
    with pytest.raises(ValueError, match="non-negative|0..2"):
        component_stats(np.full((3, 3), -1, np.int32))
    with pytest.raises(ValueError, match="above num"):
        component_stats(np.full((3, 3), 5, np.int32), num=2)
    with pytest.raises(ValueError, match="C-contiguous"):
        component_stats(np.zeros((4, 6), np.int32)[:, ::2])
    with pytest.raises(ValueError, match="shape"):
        component_stats(np.zeros(4, np.int32))


@settings(max_examples=80, deadline=None)
@given(shape=st.tuples(st.integers(1, 25), st.integers(1, 25)), density=st.floats(0, 1), seed=st.integers(0, 2**31))
def test_property(shape, density, seed):
    assert_stats(ldmatte.label(np.random.default_rng(seed).random(shape) < density, 8))
