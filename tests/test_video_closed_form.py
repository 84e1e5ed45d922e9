"""Closed-form matting with the Laplacian's unknown rows only, against pymatting (its reference)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pymatting")
from pymatting import estimate_alpha_cf  # noqa: E402
from pymatting.laplacian.cf_laplacian import cf_laplacian  # noqa: E402
from pymatting.util.util import trimap_split  # noqa: E402

from ldmatte.video.closed_form import solve_closed_form, unknown_laplacian  # noqa: E402


def _trimap(rng, h, w):
    tri = np.full((h, w), 0.5)
    u = rng.random((h, w))
    tri[u < 0.3] = 0.0
    tri[u > 0.7] = 1.0
    tri.flat[0], tri.flat[-1] = 0.0, 1.0  # pymatting's split needs both
    return tri


def _images(rng, h, w):
    yield rng.random((h, w, 3))
    yield np.zeros((h, w, 3))  # flat: the window covariance is epsilon alone
    yield np.ones((h, w, 3))
    yy, xx = np.mgrid[:h, :w]
    yield np.repeat(((yy + xx) % 2).astype(float)[..., None], 3, axis=2)  # checkerboard: largest variance


@pytest.mark.parametrize("h,w", [(1, 9), (9, 1), (2, 2), (3, 3), (7, 11), (16, 13)])
def test_unknown_laplacian_equals_pymatting_rows(h, w):
    rng = np.random.default_rng(h * 100 + w)
    for image in _images(rng, h, w):
        tri = _trimap(rng, h, w)
        is_fg, _bg, is_known, is_unknown = trimap_split(tri)
        lap = cf_laplacian(image, epsilon=1e-7, is_known=is_known)
        want_lu = lap[is_unknown, :][:, is_unknown]
        want_b = -lap[is_unknown, :][:, is_known].dot(is_fg[is_known].astype(float))
        lu, b = unknown_laplacian(image, tri, 1e-7)
        # The same values (pymatting also stores explicit zeros at column 0 for windows past the image border).
        assert lu.shape == want_lu.shape
        assert (lu.toarray() == want_lu.toarray()).all()
        np.testing.assert_allclose(b, want_b, rtol=0, atol=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_solve_closed_form_equals_estimate_alpha_cf(seed):
    rng = np.random.default_rng(seed)
    h, w = 24, 31
    image = rng.random((h, w, 3))
    image[:, w // 2:] *= 0.3  # a colour edge through the band
    tri = np.zeros((h, w))
    tri[:, w // 2 + 4:] = 1
    tri[:, w // 2 - 4:w // 2 + 4] = 0.5
    tri[rng.random((h, w)) < 0.05] = 0.5  # scattered unknown pixels in the known regions
    want = estimate_alpha_cf(image, tri, laplacian_kwargs={"epsilon": 1e-7})
    np.testing.assert_allclose(solve_closed_form(image, tri, 1e-7), want, atol=1e-6)


def test_solve_closed_form_all_known_returns_the_trimap():
    tri = np.zeros((5, 6))
    tri[:, 3:] = 1
    assert (solve_closed_form(np.zeros((5, 6, 3)), tri) == tri).all()
