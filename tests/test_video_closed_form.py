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


def _adversarial_trimaps(rng):
    """(name, trimap) cases for the direct solve: components, single pixels, the border, thin images."""
    h, w = 20, 27
    tri = np.zeros((h, w))
    tri[:, w // 2:] = 1
    several = tri.copy()
    several[2:6, 3:9] = 0.5  # components that no 3x3 window links
    several[12:18, 11:16] = 0.5
    several[8:10, 20:25] = 0.5
    yield "several components", several
    one = tri.copy()
    one[10, 13] = 0.5
    yield "one pixel", one
    corner = tri.copy()
    corner[0, 0] = 0.5
    corner[-1, -1] = 0.5
    yield "corner pixels", corner
    border = tri.copy()
    border[:, w // 2 - 3:w // 2 + 3] = 0.5  # the band runs across the top and bottom edges
    border[:4, :] = 0.5
    yield "band on the border", border
    scattered = tri.copy()
    scattered[rng.random((h, w)) < 0.4] = 0.5
    yield "scattered", scattered
    for shape in ((3, 25), (25, 3), (4, 30)):  # 1xN / Nx1 are singular: see the fallback test
        thin = np.zeros(shape)
        if shape[0] > shape[1]:
            thin[shape[0] // 2:] = 1
            thin[shape[0] // 2 - 1:shape[0] // 2 + 1] = 0.5
        else:
            thin[:, shape[1] // 2:] = 1
            thin[:, shape[1] // 2 - 1:shape[1] // 2 + 1] = 0.5
        yield f"{shape[0]}x{shape[1]}", thin


@pytest.mark.parametrize("seed", range(2))
def test_direct_solve_equals_estimate_alpha_cf_on_adversarial_trimaps(seed):
    # pymatting's ichol + CG stops at a relative residual of 1e-7: the direct solution is within that of it.
    rng = np.random.default_rng(10 + seed)
    for name, tri in _adversarial_trimaps(rng):
        for image in _images(rng, *tri.shape):
            want = estimate_alpha_cf(image, tri, laplacian_kwargs={"epsilon": 1e-7})
            got = solve_closed_form(image, tri, 1e-7)
            np.testing.assert_allclose(got, want, atol=1e-5, err_msg=name)
            known = (tri == 0) | (tri == 1)
            assert (got[known] == tri[known]).all(), name


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # pymatting's CG divides by a zero residual
def test_singular_system_falls_back_to_the_iterative_solve():
    # Under 3 pixels high no window fits: L_U is zero, the factorisation refuses it and ichol + CG gives its error.
    tri = np.full((1, 9), 0.5)
    tri[0, 0], tri[0, -1] = 0.0, 1.0
    with pytest.raises(ValueError, match="converge"):
        solve_closed_form(np.random.default_rng(0).random((1, 9, 3)), tri)


def test_double_precision_fallback_equals_the_preconditioned_solve():
    # With no CG iteration allowed the single-precision path gives up and the double-precision LU solves directly.
    from ldmatte.video.closed_form import _solve

    rng = np.random.default_rng(3)
    for name, tri in _adversarial_trimaps(rng):
        image = rng.random(tri.shape + (3,))
        lu, b = unknown_laplacian(image, tri, 1e-7)
        np.testing.assert_allclose(_solve(lu, b, maxiter=0), _solve(lu, b), rtol=0, atol=1e-5, err_msg=name)
