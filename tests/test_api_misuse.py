"""Misuse of the array API is an error with a way out, never a plausible wrong answer."""
from __future__ import annotations

import numpy as np
import pytest

import ldmatte
from ldmatte import RefineParams

torch = pytest.importorskip("torch")

KINDS = ["numpy", "torch"]


def as_kind(a, kind):
    return a if kind == "numpy" else torch.from_numpy(np.ascontiguousarray(a))


def to_numpy(a):
    return a if isinstance(a, np.ndarray) else a.numpy()


@pytest.fixture
def rgba(rng):
    im = rng.integers(0, 256, (12, 10, 4)).astype(np.uint8)
    im[3:9, 2:8, 3] = 255
    return im


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("channels", (3, 4))
def test_refine_alpha_refuses_an_rgb_image(rgba, kind, channels):
    with pytest.raises(ValueError, match=r"RGB\(A\) image.*rgba\[\.\.\., 3\].*batch=True"):
        ldmatte.refine_alpha(as_kind(np.ascontiguousarray(rgba[..., :channels]), kind))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("channels", (3, 4))
def test_label_refuses_an_rgb_image(rgba, kind, channels):
    with pytest.raises(ValueError, match=r"RGB\(A\) image.*batch=True"):
        ldmatte.label(as_kind(np.ascontiguousarray(rgba[..., :channels]), kind))


@pytest.mark.parametrize("kind", KINDS)
def test_a_stated_batch_of_narrow_images_is_accepted(rng, kind):
    stack = rng.integers(0, 256, (5, 9, 4)).astype(np.uint8)  # five 9x4 images
    got = to_numpy(ldmatte.refine_alpha(as_kind(stack, kind), batch=True))
    want = np.stack([ldmatte.refine_alpha(np.ascontiguousarray(a)) for a in stack])
    np.testing.assert_array_equal(got, want)
    labels = to_numpy(ldmatte.label(as_kind(stack, kind), batch=True))
    np.testing.assert_array_equal(labels, np.stack([ldmatte.label(np.ascontiguousarray(m)) for m in stack]))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("channels", (3, 4))
def test_label_refuses_the_mask_of_an_rgb_image(rgba, kind, channels):
    # ldmatte.label(rgba > 0) labelled H images of W x 4 pixels; it is the mask of an RGB(A) image far more often.
    mask = np.ascontiguousarray(rgba[..., :channels] > 0)
    with pytest.raises(ValueError, match=r"RGB\(A\) image.*rgba\[\.\.\., 3\] > 0.*batch=True"):
        ldmatte.label(as_kind(mask, kind))
    labels = to_numpy(ldmatte.label(as_kind(mask, kind), batch=True))  # stated: a batch, as before
    np.testing.assert_array_equal(labels, np.stack([ldmatte.label(np.ascontiguousarray(m)) for m in mask]))


def test_other_widths_are_not_refused(rng):
    assert ldmatte.label(rng.random((6, 7, 5)) > 0.5).shape == (6, 7, 5)
    assert ldmatte.refine_alpha(rng.integers(0, 256, (6, 7, 5)).astype(np.uint8)).shape == (6, 7, 5)


def test_batch_keyword_is_checked_against_the_shape():
    with pytest.raises(ValueError, match="expected a batch"):
        ldmatte.refine_alpha(np.zeros((4, 4), np.uint8), batch=True)
    with pytest.raises(ValueError, match="expected a single"):
        ldmatte.label(np.zeros((2, 4, 4), bool), batch=False)
    assert ldmatte.label(np.zeros((4, 4), bool), batch=False).shape == (4, 4)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bad", [1.5, -0.25, np.inf, -np.inf])
def test_pad_rgb_refuses_floats_outside_the_unit_range(kind, bad):
    im = np.full((6, 5, 4), 0.5, np.float32)
    im[2, 3, 1] = bad
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        ldmatte.pad_rgb(as_kind(im, kind))


@pytest.mark.parametrize("kind", KINDS)
def test_pad_rgb_refuses_nan(kind):
    im = np.full((6, 5, 4), 0.5, np.float32)
    im[0, 0, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ldmatte.pad_rgb(as_kind(im, kind))


def test_pad_rgb_accepts_the_unit_range_ends():
    im = np.zeros((6, 5, 4), np.float32)
    im[:3] = 1.0
    assert ldmatte.pad_rgb(im, np.float32).max() == 1.0


@pytest.mark.parametrize(
    "call",
    [
        lambda: ldmatte.pad_rgb(np.zeros((4, 4, 4), ">f4")),
        lambda: ldmatte.label(np.zeros((4, 4), ">i4")),
        lambda: ldmatte.label(np.zeros((4, 4), ">f8")),
        lambda: ldmatte.component_stats(np.zeros((4, 4), ">i4")),
    ],
    ids=["pad_rgb", "label-int", "label-float", "component_stats"],
)
def test_big_endian_input_is_a_clear_type_error(call):
    with pytest.raises(TypeError, match="big-endian.*newbyteorder"):
        call()


def test_refine_params_validation_and_the_rule_switch():
    assert RefineParams(min_subject_fraction=None).subject_rule is False
    assert ldmatte.DEFAULTS == RefineParams().as_dict()
    for bad in (dict(fg_tol=255), dict(bg_tol=-1), dict(fg_tol=True), dict(connectivity=6),
                dict(min_subject_fraction=1.5), dict(min_subject_fraction=float("nan")), dict(bg_tol=247)):  # fmt: skip
        with pytest.raises(ValueError):
            RefineParams(**bad)
    p = RefineParams(fg_tol=np.int64(3), snap=0)
    assert type(p.fg_tol) is int and p.snap is False
