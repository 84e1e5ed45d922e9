"""ldmatte.metrics against straightforward references of the standard evaluation code."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from ldmatte import metrics
from ldmatte.reference import patterns

# ---------------------------------------------------------------- references
# Written the way the Deep Image Matting / Rhemann evaluation scripts do it: 2-D kernels built in loops,
# scipy convolution with nearest borders, the largest 4-connected component per threshold.


def _ref_unit(x):
    x = np.asarray(x)
    return x / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)


def _ref_gauss(x, sigma):
    return np.exp(-(x**2) / (2 * sigma**2)) / (sigma * np.sqrt(2 * np.pi))


def _ref_gaussgradient(im, sigma):
    epsilon = 1e-2
    halfsize = int(np.ceil(sigma * np.sqrt(-2 * np.log(np.sqrt(2 * np.pi) * sigma * epsilon))))
    size = 2 * halfsize + 1
    hx = np.zeros((size, size))
    for i in range(size):
        for j in range(size):
            u = [i - halfsize, j - halfsize]
            hx[i, j] = _ref_gauss(u[0], sigma) * (-u[1] * _ref_gauss(u[1], sigma) / sigma**2)
    hx = hx / np.sqrt(np.sum(np.abs(hx) * np.abs(hx)))
    hy = hx.T
    return ndimage.convolve(im, hx, mode="nearest"), ndimage.convolve(im, hy, mode="nearest")


def _ref_region(shape, trimap):
    return np.ones(shape, bool) if trimap is None else np.asarray(trimap) == 128


def ref_sad(p, g, trimap=None):
    return np.sum(np.abs(_ref_unit(p) - _ref_unit(g))[_ref_region(np.shape(p), trimap)]) / 1000


def ref_mse(p, g, trimap=None):
    r = _ref_region(np.shape(p), trimap)
    return np.sum(((_ref_unit(p) - _ref_unit(g)) ** 2)[r]) / np.sum(r)


def ref_mad(p, g, trimap=None):
    r = _ref_region(np.shape(p), trimap)
    return np.sum(np.abs(_ref_unit(p) - _ref_unit(g))[r]) / np.sum(r)


def ref_grad(p, g, trimap=None):
    px, py = _ref_gaussgradient(_ref_unit(p), 1.4)
    gx, gy = _ref_gaussgradient(_ref_unit(g), 1.4)
    err = (np.sqrt(px**2 + py**2) - np.sqrt(gx**2 + gy**2)) ** 2
    return np.sum(err[_ref_region(np.shape(p), trimap)]) / 1000


def _ref_largest_cc(mask):
    lab, n = ndimage.label(mask, structure=ndimage.generate_binary_structure(2, 1))
    if n == 0:
        return np.zeros_like(mask, dtype=bool)
    return lab == np.argmax(np.bincount(lab.flat)[1:]) + 1


def ref_conn(p, g, trimap=None, step=0.1):
    p, g = _ref_unit(p), _ref_unit(g)
    thresh_steps = list(np.arange(0, 1 + step, step))
    l_map = np.ones_like(p) * -1
    for i in range(1, len(thresh_steps)):
        omega = _ref_largest_cc((p >= thresh_steps[i]) & (g >= thresh_steps[i]))
        flag = (l_map == -1) & ~omega
        l_map[flag] = thresh_steps[i - 1]
    l_map[l_map == -1] = 1
    p_d, g_d = p - l_map, g - l_map
    p_phi = 1 - p_d * (p_d >= 0.15)
    g_phi = 1 - g_d * (g_d >= 0.15)
    return np.sum(np.abs(p_phi - g_phi)[_ref_region(p.shape, trimap)]) / 1000


REFS = {"sad": ref_sad, "mse": ref_mse, "mad": ref_mad, "grad": ref_grad, "conn": ref_conn}


def _soft_alpha(rng, h, w):
    """A matte with opaque core, clear background and soft values between."""
    field = ndimage.gaussian_filter(rng.standard_normal((h, w)), 2.0) if h * w else np.zeros((h, w))
    a = np.clip((field - field.mean()) * 600 + 128, 0, 255) if h * w else field
    return a.astype(np.uint8)


def _pairs():
    rng = np.random.default_rng(7)
    cases = {}
    for name, m in patterns.adversarial_masks().items():
        if m.size == 0:
            continue
        g = np.where(m, 255, 0).astype(np.uint8)
        p = np.clip(g.astype(int) + rng.integers(-60, 61, m.shape), 0, 255).astype(np.uint8)
        cases[name] = (p, g)
    cases["soft_64x80"] = (_soft_alpha(rng, 64, 80), _soft_alpha(rng, 64, 80))
    cases["soft_odd_37x53"] = (_soft_alpha(rng, 37, 53), _soft_alpha(rng, 37, 53))
    g = _soft_alpha(rng, 50, 50)
    cases["near_copy"] = (np.clip(g.astype(int) + rng.integers(-3, 4, g.shape), 0, 255).astype(np.uint8), g)
    cases["float_random"] = (rng.random((30, 41)), rng.random((30, 41)))
    cases["all_0_vs_255"] = (np.zeros((9, 9), np.uint8), np.full((9, 9), 255, np.uint8))
    cases["thresholds_exact"] = (  # values on the 0.1 grid hit the thresholds' rounding
        (np.arange(11 * 11).reshape(11, 11) % 11 / 10.0), np.full((11, 11), 0.6)
    )
    return cases


PAIRS = _pairs()


@pytest.mark.parametrize("name", sorted(PAIRS))
@pytest.mark.parametrize("metric", metrics.METRICS)
def test_matches_reference(metric, name):
    p, g = PAIRS[name]
    got = getattr(metrics, metric)(p, g)
    assert isinstance(got, float)
    assert got == pytest.approx(REFS[metric](p, g), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("metric", metrics.METRICS)
def test_matches_reference_with_trimap(metric):
    rng = np.random.default_rng(3)
    g = _soft_alpha(rng, 48, 64)
    p = _soft_alpha(rng, 48, 64)
    trimap = np.where(g == 0, 0, np.where(g == 255, 255, 128)).astype(np.uint8)
    trimap[10:20, 10:30] = 128
    got = getattr(metrics, metric)(p, g, trimap)
    assert got == pytest.approx(REFS[metric](p, g, trimap), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("metric", metrics.METRICS)
def test_batch_is_per_image(metric):
    rng = np.random.default_rng(5)
    p = np.stack([_soft_alpha(rng, 33, 45) for _ in range(3)])
    g = np.stack([_soft_alpha(rng, 33, 45) for _ in range(3)])
    fn = getattr(metrics, metric)
    got = fn(p, g)
    assert isinstance(got, np.ndarray) and got.shape == (3,) and got.dtype == np.float64
    np.testing.assert_allclose(got, [fn(p[i], g[i]) for i in range(3)], rtol=1e-12)
    trimap = np.full((33, 45), 128, np.uint8)
    trimap[:5] = 0
    np.testing.assert_allclose(fn(p, g, trimap), [fn(p[i], g[i], trimap) for i in range(3)], rtol=1e-12)


def test_evaluate_matches_single_metrics():
    p, g = PAIRS["soft_64x80"]
    res = metrics.evaluate(p, g)
    assert list(res) == list(metrics.METRICS)
    for name, value in res.items():
        assert value == getattr(metrics, name)(p, g)
    batch = metrics.evaluate(np.stack([p, g]), np.stack([g, g]))
    assert batch["sad"].shape == (2,) and batch["conn"][1] == 0.0


# ---------------------------------------------------------------- hand-computed cases


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_identical_is_zero(dtype):
    g = _soft_alpha(np.random.default_rng(1), 40, 40)
    g = g if dtype == np.uint8 else (g / 255.0).astype(dtype)
    assert metrics.evaluate(g, g) == {"sad": 0.0, "mse": 0.0, "mad": 0.0, "grad": 0.0, "conn": 0.0}


def test_constant_offset():
    g = np.full((20, 50), 0.25)
    p = g + 0.5
    assert metrics.sad(p, g) == pytest.approx(1000 * 0.5 / 1000)
    assert metrics.mse(p, g) == pytest.approx(0.25)
    assert metrics.mad(p, g) == pytest.approx(0.5)
    assert metrics.grad(p, g) == pytest.approx(0.0, abs=1e-20)  # an offset has no gradient


def test_single_pixel_difference():
    g = np.zeros((40, 40), np.uint8)
    p = g.copy()
    p[20, 20] = 255
    assert metrics.sad(p, g) == pytest.approx(0.001)
    assert metrics.mse(p, g) == pytest.approx(1 / 1600)
    assert metrics.mad(p, g) == pytest.approx(1 / 1600)
    # Both derivative filters have unit L2 norm, so a unit impulse away from the frame gives sum |grad|^2 = 2.
    assert metrics.grad(p, g) == pytest.approx(0.002, rel=1e-12)
    # The pixel is in no component of (p >= t) & (g >= t): its level is 0 and phi differs by 1.
    assert metrics.conn(p, g) == pytest.approx(0.001)


def test_uint8_equals_float():
    p, g = PAIRS["soft_64x80"]
    for name in metrics.METRICS:
        fn = getattr(metrics, name)
        assert fn(p, g) == pytest.approx(fn(p / 255.0, g / 255.0), rel=1e-12, abs=1e-15)
        assert fn(p, g) == pytest.approx(fn(p, g / 255.0), rel=1e-12, abs=1e-15)


def test_trimap_restricts_region():
    g = np.zeros((10, 10), np.uint8)
    p = g.copy()
    p[0, 0] = 255  # outside the unknown region
    p[5, 5] = 51  # inside it
    trimap = np.zeros((10, 10), np.uint8)
    trimap[4:7, 4:7] = 128
    assert metrics.sad(p, g, trimap) == pytest.approx(0.2 / 1000)
    assert metrics.mse(p, g, trimap) == pytest.approx(0.04 / 9)
    assert metrics.mad(p, g, trimap) == pytest.approx(0.2 / 9)


def test_empty_unknown_region():
    g = np.zeros((6, 6), np.uint8)
    trimap = np.zeros((6, 6), np.uint8)
    assert metrics.sad(g, g, trimap) == 0.0
    assert np.isnan(metrics.mse(g, g, trimap)) and np.isnan(metrics.mad(g, g, trimap))


def test_conn_counts_a_disconnected_speck():
    g = np.zeros((20, 20), np.uint8)
    g[5:15, 5:15] = 255
    p = g.copy()
    p[0:2, 0:2] = 255
    assert metrics.conn(p, g) == pytest.approx(0.004)
    assert metrics.conn(g, g) == 0.0


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "pred, gt, trimap, exc, match",
    [
        (np.zeros((4, 4), np.int32), np.zeros((4, 4), np.uint8), None, TypeError, "uint8"),
        (np.zeros((4, 4), bool), np.zeros((4, 4), np.uint8), None, TypeError, "uint8"),
        (np.zeros((4, 4), np.uint8), np.zeros((4, 5), np.uint8), None, ValueError, "same shape"),
        (np.zeros(4, np.uint8), np.zeros(4, np.uint8), None, ValueError, r"\(H, W\)"),
        (np.zeros((2, 2, 2, 2)), np.zeros((2, 2, 2, 2)), None, ValueError, r"\(H, W\)"),
        (np.full((4, 4), 1.5), np.zeros((4, 4)), None, ValueError, r"\[0, 1\]"),
        (np.full((4, 4), -0.1), np.zeros((4, 4)), None, ValueError, r"\[0, 1\]"),
        (np.full((4, 4), np.nan), np.zeros((4, 4)), None, ValueError, "NaN"),
        (np.zeros((4, 4)), np.zeros((4, 4)), np.zeros((4, 5), np.uint8), ValueError, "trimap"),
        (np.zeros((4, 4)), np.zeros((4, 4)), np.zeros((2, 4, 4), np.uint8), ValueError, "trimap"),
        (np.zeros((4, 4)), np.zeros((4, 4)), np.zeros((4, 4), bool), TypeError, "trimap"),
    ],
)
@pytest.mark.parametrize("metric", [*metrics.METRICS, "evaluate"])
def test_bad_input(metric, pred, gt, trimap, exc, match):
    with pytest.raises(exc, match=match):
        getattr(metrics, metric)(pred, gt, trimap)


def test_bad_conn_step():
    with pytest.raises(ValueError, match="step"):
        metrics.conn(np.zeros((3, 3)), np.zeros((3, 3)), step=0)


# ---------------------------------------------------------------- properties

_small = st.tuples(st.integers(1, 12), st.integers(1, 12))


@st.composite
def _matte_pairs(draw):
    shape = draw(_small)
    p = draw(arrays(np.uint8, shape))
    g = draw(arrays(np.uint8, shape))
    return p, g


@settings(max_examples=60, deadline=None)
@given(_matte_pairs())
def test_properties(pair):
    p, g = pair
    res = metrics.evaluate(p, g)
    swapped = metrics.evaluate(g, p)
    for name, value in res.items():
        assert value >= 0.0
        assert value == pytest.approx(swapped[name], rel=1e-12, abs=1e-15)  # all five are symmetric
    assert res["mse"] <= res["mad"] + 1e-15  # |d| <= 1, so d^2 <= |d|
    assert res["sad"] == pytest.approx(res["mad"] * p.size / 1000)
    for name in metrics.METRICS:
        assert res[name] == pytest.approx(REFS[name](p, g), rel=1e-9, abs=1e-12)
    if np.array_equal(p, g):
        assert all(v == 0.0 for v in res.values())
