"""Full RGBA refinement: ``ldmatte.refine`` = refine_alpha on the alpha + LayerDiffuse padding of the colour.

The contract checked here (caar.md, "Then the colour"): the output alpha is
``refine_alpha`` of the input alpha; the colour is the input's straight colour
wherever the refined alpha is above 0 and the padding computed with the refined
alpha (``pad_rgb``) where it is 0.
"""
from __future__ import annotations

import numpy as np
import pytest

import ldmatte
from ldmatte import RefineReport

from ldmatte.reference.patterns import adversarial_masks, alpha_from_mask, make_rgba, real_rgba


def assert_refine_contract(rgba, out, **params):
    alpha = ldmatte.refine_alpha(np.ascontiguousarray(rgba[..., 3]), **params)
    assert out.dtype == np.uint8 and out.shape == rgba.shape
    assert np.array_equal(out[..., 3], alpha), "alpha differs from refine_alpha"
    visible = alpha > 0
    assert np.array_equal(out[..., :3][visible], rgba[..., :3][visible]), "visible colour was changed"
    with_alpha = np.ascontiguousarray(np.concatenate([rgba[..., :3], alpha[..., None]], axis=-1))
    padded = ldmatte.pad_rgb(with_alpha)
    assert np.array_equal(out[..., :3][~visible], padded[~visible]), "hidden colour is not the padding"


# --- the contract ----------------------------------------------------------------------------------


def test_real_samples(data_dir):
    samples = real_rgba(data_dir, limit=4)
    assert samples
    for name, rgba in samples:
        out = ldmatte.refine(rgba)
        assert_refine_contract(rgba, out)


@pytest.mark.parametrize("shape", [(1, 1), (1, 40), (40, 1), (2, 2), (3, 5), (17, 24), (33, 47), (64, 64)])
def test_random(rng, shape):
    rgba = make_rgba(rng, *shape)
    assert_refine_contract(rgba, ldmatte.refine(rgba))


@pytest.mark.parametrize("params", [
    dict(fg_tol=0, bg_tol=0),
    dict(fg_tol=30, bg_tol=2, connectivity=4),
    dict(snap=False, fill_interior=False),
    dict(min_subject_fraction=None),
])
def test_parameters_pass_through(rng, params):
    rgba = make_rgba(rng, 48, 40)
    assert_refine_contract(rgba, ldmatte.refine(rgba, **params), **params)


@pytest.mark.parametrize("name", sorted(n for n, m in adversarial_masks().items() if m.size))
def test_adversarial(rng, name):
    mask = adversarial_masks()[name]
    for alpha in (alpha_from_mask(mask, rng), np.where(mask, 255, 0), np.where(mask, 128, 3)):
        rgba = np.concatenate([rng.integers(0, 256, mask.shape + (3,)), np.asarray(alpha)[..., None]], axis=-1)
        rgba = rgba.astype(np.uint8)
        assert_refine_contract(rgba, ldmatte.refine(rgba))


def test_all_clear_and_all_opaque(rng):
    for a in (0, 255):
        rgba = make_rgba(rng, 20, 30)
        rgba[..., 3] = a
        out = ldmatte.refine(rgba)
        assert_refine_contract(rgba, out)
        if a == 255:
            assert np.array_equal(out, rgba)


def test_haze_colour_does_not_leak(rng):
    # A floating speck of haze is removed; its colour must not survive under the new alpha 0.
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[5:30, 5:30] = (20, 200, 20, 255)
    rgba[35, 35] = (255, 0, 255, 40)
    out = ldmatte.refine(rgba)
    assert out[35, 35, 3] == 0
    assert tuple(out[35, 35, :3]) == (20, 200, 20)


# --- batches, array types, reports ---------------------------------------------------------------


def test_batch_equals_one_by_one(rng):
    stack = np.stack([make_rgba(rng, 36, 28) for _ in range(4)])
    out, reports = ldmatte.refine(stack, return_report=True)
    assert out.shape == stack.shape and isinstance(reports, list) and len(reports) == 4
    for i in range(len(stack)):
        one, rep = ldmatte.refine(stack[i], return_report=True)
        assert np.array_equal(out[i], one)
        assert reports[i] == rep


def test_return_report_matches_refine_alpha(rng):
    rgba = make_rgba(rng, 50, 60)
    out, rep = ldmatte.refine(rgba, return_report=True)
    _, alpha_rep = ldmatte.refine_alpha(np.ascontiguousarray(rgba[..., 3]), return_report=True)
    assert isinstance(rep, RefineReport) and rep == alpha_rep
    assert (rep.height, rep.width) == (50, 60)
    assert np.array_equal(out, ldmatte.refine(rgba))


def test_torch_in_torch_out(rng):
    torch = pytest.importorskip("torch")
    stack = np.stack([make_rgba(rng, 24, 20) for _ in range(2)])
    out = ldmatte.refine(torch.from_numpy(stack))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.uint8 and out.device.type == "cpu"
    assert tuple(out.shape) == stack.shape
    assert np.array_equal(out.numpy(), ldmatte.refine(stack))
    one, rep = ldmatte.refine(torch.from_numpy(stack[0]), return_report=True)
    assert isinstance(one, torch.Tensor) and isinstance(rep, RefineReport)
    assert np.array_equal(one.numpy(), ldmatte.refine(stack[0]))


def test_input_is_not_modified(rng):
    rgba = make_rgba(rng, 30, 30)
    before = rgba.copy()
    rgba.setflags(write=False)
    ldmatte.refine(rgba)
    assert np.array_equal(rgba, before)


# --- bad input -----------------------------------------------------------------------------------


def test_rgb_without_alpha_is_rejected(rng):
    rgb = make_rgba(rng, 10, 12)[..., :3].copy()
    with pytest.raises(ValueError, match=r"4 channels.*\(10, 12, 3\)"):
        ldmatte.refine(rgb)


def test_float_is_rejected(rng):
    rgba = make_rgba(rng, 10, 12).astype(np.float32) / 255
    with pytest.raises(TypeError, match="float32"):
        ldmatte.refine(rgba)


def test_non_contiguous_is_rejected(rng):
    rgba = make_rgba(rng, 10, 12)
    with pytest.raises(ValueError, match="contiguous"):
        ldmatte.refine(rgba[:, ::2])
    with pytest.raises(ValueError, match="contiguous"):
        ldmatte.refine(np.asfortranarray(rgba))


def test_bad_shapes_and_parameters(rng):
    with pytest.raises(ValueError, match="shape"):
        ldmatte.refine(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="shape"):
        ldmatte.refine(np.zeros((2, 2, 4, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="fg_tol"):
        ldmatte.refine(make_rgba(rng, 8, 8), fg_tol=300)
    with pytest.raises(ValueError, match="backend"):
        ldmatte.refine(make_rgba(rng, 8, 8), backend="gpu")
    with pytest.raises(TypeError):
        ldmatte.refine([[[0, 0, 0, 0]]])
