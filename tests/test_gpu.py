"""The CUDA kernels against the plain references, through the public API.

Labels, refined alpha and statistics must be identical to the references (which the
CPU path equals too); padding may differ by one uint8 level. Every test runs for
torch CUDA tensors and, when CuPy is installed, for CuPy arrays, and checks that
results come back as the input's array type, on its device, computed on the
caller's current stream. All tests are marked ``gpu``: without a GPU they skip.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import ldmatte
from ldmatte.reference import label_reference, pad_rgb_reference, refine_alpha_reference
from ldmatte.reference.caar import STAT_FIELDS

from ldmatte.reference.patterns import (
    adversarial_masks,
    alpha_from_mask,
    blobs,
    chessboard,
    comb,
    diagonal_stripes,
    random_mask,
    snake,
    spiral,
)

pytestmark = pytest.mark.gpu

CONNS = (4, 8)
HYPO = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


class Device:
    """Moves numpy arrays to one array library's GPU arrays and back."""

    def __init__(self, kind):
        self.kind = kind
        if kind == "torch":
            import torch

            self.lib = torch
        else:
            self.lib = pytest.importorskip("cupy")

    def put(self, a):
        a = np.ascontiguousarray(a)
        if self.kind == "torch":
            return self.lib.from_numpy(a).to("cuda")
        return self.lib.asarray(a)

    def get(self, x):
        if self.kind == "torch":
            return x.detach().cpu().numpy()
        return self.lib.asnumpy(x)

    def check_type(self, x, dtype, shape):
        """Same array type, on the GPU, with the expected dtype and shape."""
        if self.kind == "torch":
            assert isinstance(x, self.lib.Tensor) and x.device.type == "cuda"
            assert x.dtype == self.lib.from_numpy(np.empty(0, dtype)).dtype
        else:
            assert isinstance(x, self.lib.ndarray)
            assert x.dtype == np.dtype(dtype)
        assert tuple(x.shape) == tuple(shape)


@pytest.fixture(params=["torch", "cupy"])
def dev(request):
    return Device(request.param)


def read_rgba(path):
    import cv2

    im = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return im if im is not None and im.ndim == 3 and im.shape[2] == 4 else None


# ------------------------------------------------------------------ label


def check_label(dev, mask, connectivity):
    labels, num = ldmatte.label(dev.put(mask), connectivity=connectivity, return_num=True)
    ref, ref_num = label_reference(np.asarray(mask) != 0, connectivity)
    dev.check_type(labels, np.int32, np.shape(mask))
    np.testing.assert_array_equal(dev.get(labels), ref)
    np.testing.assert_array_equal(dev.get(num), ref_num)


@pytest.mark.parametrize("connectivity", CONNS)
@pytest.mark.parametrize("name", sorted(adversarial_masks()))
def test_label_adversarial(dev, name, connectivity):
    check_label(dev, adversarial_masks()[name], connectivity)


@pytest.mark.parametrize("connectivity", CONNS)
@pytest.mark.parametrize("shape", [(1, 1), (1, 97), (97, 1), (31, 33), (32, 32), (33, 65), (67, 131), (130, 37)])
@pytest.mark.parametrize("density", [0.05, 0.3, 0.5, 0.6, 0.95])
def test_label_random(dev, rng, shape, density, connectivity):
    check_label(dev, random_mask(rng, *shape, density), connectivity)


@pytest.mark.parametrize("connectivity", CONNS)
def test_label_structures_across_tiles(dev, rng, connectivity):
    # components that wind through many 32 x 32 tiles, merge late, or touch only at corners
    h, w = 131, 197
    for mask in (spiral(130), spiral(99, 2), snake(h, w), comb(h, w), chessboard(h, w, 1), chessboard(h, w, 7),
                 diagonal_stripes(h, w, 2), diagonal_stripes(h, w, 3), np.eye(96, dtype=bool)[::-1],
                 np.ones((h, w), bool), np.pad(np.zeros((62, 62), bool), 1, constant_values=True),
                 blobs(rng, h, w, 2.0, 0.4), blobs(rng, h, w, 6.0, 0.6)):
        check_label(dev, mask, connectivity)


@pytest.mark.parametrize("connectivity", CONNS)
def test_label_batch(dev, rng, connectivity):
    masks = [random_mask(rng, 70, 90, d) for d in (0.0, 0.2, 0.5, 0.7, 1.0)] + [blobs(rng, 70, 90, 3.0, 0.5)]
    check_label(dev, np.stack(masks), connectivity)
    check_label(dev, np.zeros((0, 12, 9), bool), connectivity)
    check_label(dev, np.zeros((3, 0, 9), bool), connectivity)
    check_label(dev, np.zeros((2, 5, 0), bool), connectivity)


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int8, np.int16, np.int64, np.float32, np.float64])
def test_label_dtypes(dev, rng, dtype):
    values = rng.integers(-3, 4, (2, 40, 50)) * (rng.random((2, 40, 50)) < 0.5)
    if dtype == np.uint8:
        values = np.abs(values) * 60  # any nonzero byte is foreground
    mask = values.astype(dtype)
    for connectivity in CONNS:
        check_label(dev, mask, connectivity)


def test_label_nan_is_an_error(dev):
    mask = np.zeros((4, 4), np.float32)
    mask[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ldmatte.label(dev.put(mask))


def test_label_one_image_returns_scalar_count(dev):
    mask = np.array([[1, 0, 1], [0, 0, 0], [1, 1, 0]], bool)
    labels, num = ldmatte.label(dev.put(mask), connectivity=4, return_num=True)
    assert int(num) == 3 and dev.get(labels).tolist() == [[1, 0, 2], [0, 0, 0], [3, 3, 0]]


@HYPO
@given(mask=arrays(np.bool_, st.tuples(st.integers(1, 70), st.integers(1, 70))), connectivity=st.sampled_from(CONNS))
def test_label_property(mask, connectivity):
    check_label(Device("torch"), mask, connectivity)


# ------------------------------------------------------------------ component_stats


def check_stats(dev, labels, num=None):
    from ldmatte.regions import component_stats

    got, want = component_stats(dev.put(labels), num, backend="cuda"), component_stats(labels, num)
    for g, w in zip(np.atleast_1d(got), np.atleast_1d(want)):
        np.testing.assert_array_equal(g.area, w.area)
        np.testing.assert_array_equal(g.bbox, w.bbox)
        np.testing.assert_array_equal(g.touches_frame, w.touches_frame)


@pytest.mark.parametrize("connectivity", CONNS)
def test_component_stats(dev, rng, connectivity):
    masks = [random_mask(rng, h, w, d) for (h, w) in [(1, 1), (1, 90), (90, 1), (67, 131)] for d in (0.1, 0.5, 0.9)]
    masks += [m for m in adversarial_masks().values() if m.size] + [spiral(130), blobs(rng, 200, 150, 5.0, 0.5)]
    for mask in masks:
        labels, num = label_reference(mask, connectivity)
        check_stats(dev, labels)
        check_stats(dev, labels, int(num) + 2)  # labels without pixels
    stack = np.stack([label_reference(blobs(rng, 60, 80, 3.0, d), connectivity)[0] for d in (0.2, 0.5, 0.0)])
    check_stats(dev, stack)
    check_stats(dev, stack, [50, 60, 70])
    check_stats(dev, stack.astype(np.int64))


def test_component_stats_rejects_bad_labels(dev):
    from ldmatte.regions import component_stats

    labels = np.array([[0, 1], [2, 3]], np.int32)
    with pytest.raises(ValueError):
        component_stats(dev.put(labels), 2, backend="cuda")
    with pytest.raises(ValueError):
        component_stats(dev.put(-labels), backend="cuda")


# ------------------------------------------------------------------ refine_alpha

PARAMS = list(itertools.product((0, 8, 30), (0, 8), CONNS, (True, False), (True, False), (None, 0.0, 0.05, 0.5, 1.0)))


def check_refine(dev, alpha, fg_tol=8, bg_tol=8, connectivity=8, snap=True, fill_interior=True,
                 min_subject_fraction=0.05):
    args = (fg_tol, bg_tol, connectivity, snap, fill_interior, min_subject_fraction)
    out, reports = ldmatte.refine_alpha(dev.put(alpha), *args, return_report=True)
    ref, ref_stats = refine_alpha_reference(alpha, *args)
    dev.check_type(out, np.uint8, alpha.shape)
    np.testing.assert_array_equal(dev.get(out), ref, err_msg=f"params {args}")
    stats = np.array([[getattr(r, f) for f in STAT_FIELDS] for r in np.atleast_1d(reports)])
    np.testing.assert_array_equal(stats, np.atleast_2d(ref_stats), err_msg=f"statistics, params {args}")


def synthetic_alphas(rng):
    yy, xx = np.mgrid[:90, :100]
    a = np.clip((30 - np.hypot(yy - 50, xx - 45)) * 40 + 128, 0, 255)  # opaque disk, soft border
    a = np.where(rng.random(a.shape) < 0.05, rng.integers(200, 255, a.shape), a)  # interior speckle
    a[5:9, 80:95] = 40  # floating haze
    a[70:80, 85:95] = 255  # an island
    a[60:62, 5:7] = 20
    return {
        "portrait": a.astype(np.uint8),
        "blobs": np.stack([alpha_from_mask(blobs(rng, 61, 77, 4.0, 0.4), rng) for _ in range(2)]),
        "uniform": rng.integers(0, 256, (2, 40, 50)).astype(np.uint8),
        "levels": rng.choice(np.array([0, 3, 8, 9, 60, 128, 200, 246, 247, 250, 255], np.uint8), (70, 66)),
    }


@pytest.mark.parametrize("name", ["portrait", "blobs", "uniform", "levels"])
def test_refine_all_parameters(dev, rng, name):
    alpha = synthetic_alphas(rng)[name]
    for fg_tol, bg_tol, connectivity, snap, fill, msf in PARAMS:
        check_refine(dev, alpha, fg_tol, bg_tol, connectivity, snap, fill, msf)


@pytest.mark.parametrize("connectivity", CONNS)
def test_refine_shapes(dev, rng, connectivity):
    for shape in [(1, 1), (1, 150), (150, 1), (33, 65), (2, 67, 131), (3, 5, 7)]:
        check_refine(dev, rng.integers(0, 256, shape).astype(np.uint8), connectivity=connectivity)
    for fill in (0, 255, 128, 5, 250):
        check_refine(dev, np.full((20, 30), fill, np.uint8), connectivity=connectivity)
    for mask in adversarial_masks().values():
        if mask.size:
            check_refine(dev, alpha_from_mask(mask, rng), connectivity=connectivity)


def test_refine_empty(dev):
    out, reports = ldmatte.refine_alpha(dev.put(np.zeros((0, 6, 7), np.uint8)), return_report=True)
    dev.check_type(out, np.uint8, (0, 6, 7))
    assert reports == []
    out, reports = ldmatte.refine_alpha(dev.put(np.zeros((2, 0, 7), np.uint8)), return_report=True)
    assert [r.pixels_raised for r in reports] == [0, 0]


@HYPO
@given(
    alpha=arrays(np.uint8, st.tuples(st.integers(1, 50), st.integers(1, 50))),
    fg_tol=st.integers(0, 60), bg_tol=st.integers(0, 60), connectivity=st.sampled_from(CONNS),
    snap=st.booleans(), fill=st.booleans(), msf=st.sampled_from([None, 0.0, 0.05, 0.3, 1.0]),
)  # fmt: skip
def test_refine_property(alpha, fg_tol, bg_tol, connectivity, snap, fill, msf):
    check_refine(Device("torch"), alpha, fg_tol, bg_tol, connectivity, snap, fill, msf)


def test_refine_real(dev, data_dir):
    for path in sorted(data_dir.glob("*.png")):
        rgba = read_rgba(path)
        if rgba is None:
            continue
        alpha = np.ascontiguousarray(rgba[..., 3])
        check_refine(dev, alpha)
        check_refine(dev, alpha, 4, 12, 4, False, False, None)
        check_refine(dev, alpha, 30, 0, 8, True, True, 0.5)


# ------------------------------------------------------------------ pad_rgb


def check_pad(dev, rgba, out_dtype):
    out = ldmatte.pad_rgb(dev.put(rgba), out_dtype)
    ref = pad_rgb_reference(rgba, out_dtype)
    dev.check_type(out, out_dtype, ref.shape)
    diff = np.abs(dev.get(out).astype(np.float64) - ref.astype(np.float64))
    tol = 1.0 if np.dtype(out_dtype) == np.uint8 else 1.0 / 255.0
    assert diff.max(initial=0.0) <= tol, f"max difference {diff.max()} at {np.unravel_index(diff.argmax(), diff.shape)}"


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (2, 2), (2, 3), (5, 5), (17, 23), (64, 48), (2, 97, 61)])
@pytest.mark.parametrize("in_dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("out_dtype", [np.uint8, np.float32])
def test_pad_random(dev, rng, shape, in_dtype, out_dtype):
    rgba = rng.integers(0, 256, shape + (4,)).astype(np.uint8)
    rgba[..., 3] = np.where(rng.random(shape) < 0.5, 0, rgba[..., 3])
    if in_dtype == np.float32:
        rgba = (rgba / 255.0).astype(np.float32)
    check_pad(dev, rgba, out_dtype)


def test_pad_edge_cases(dev):
    block = np.zeros((30, 40, 4), np.uint8)
    block[5:15, 10:20] = (200, 100, 50, 255)
    check_pad(dev, block, np.uint8)
    check_pad(dev, np.zeros((30, 40, 4), np.uint8), np.uint8)
    check_pad(dev, np.full((2, 8, 8, 4), 255, np.uint8), np.float32)
    out = ldmatte.pad_rgb(dev.put(np.zeros((0, 4, 4, 4), np.uint8)))
    dev.check_type(out, np.uint8, (0, 4, 4, 3))
    nan = np.zeros((4, 4, 4), np.float32)
    nan[1, 1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ldmatte.pad_rgb(dev.put(nan))


def test_pad_real(dev, data_dir):
    for path in sorted(data_dir.glob("*.png")):
        rgba = read_rgba(path)
        if rgba is not None:
            check_pad(dev, rgba, np.uint8)


def test_pad_golden_pair(dev, data_dir):
    import cv2

    rgba = read_rgba(data_dir / "pad_input.png")
    golden = cv2.imread(str(data_dir / "pad_reference_output.png"), cv2.IMREAD_UNCHANGED)
    out = dev.get(ldmatte.pad_rgb(dev.put(rgba)))
    assert np.abs(out.astype(int) - golden.astype(int)).max() <= 1


# ------------------------------------------------------------------ refine (RGBA)


def test_refine_rgba_matches_cpu(dev, data_dir):
    images = [im for im in (read_rgba(p) for p in sorted(data_dir.glob("*.png"))) if im is not None]
    for rgba in images[:6]:
        cpu = ldmatte.refine(rgba)
        gpu = ldmatte.refine(dev.put(rgba))
        dev.check_type(gpu, np.uint8, rgba.shape)
        gpu = dev.get(gpu)
        np.testing.assert_array_equal(gpu[..., 3], cpu[..., 3])
        assert np.abs(gpu[..., :3].astype(int) - cpu[..., :3].astype(int)).max() <= 1


# ------------------------------------------------------------------ streams and backends


def _busy_stream_then(dev, work):
    """Run ``work()`` on a fresh non-default stream right after a long sleep on it.

    If the kernels ignored the current stream, they would run before the input
    exists and the result would be wrong.
    """
    if dev.kind == "torch":
        torch = dev.lib
        stream = torch.cuda.Stream()
        torch.cuda.synchronize()
        with torch.cuda.stream(stream):
            torch.cuda._sleep(50_000_000)
            result = work()
        stream.synchronize()
        return result
    cp = dev.lib
    spin = cp.RawKernel(
        r'extern "C" __global__ void spin(long long n) { long long t = clock64(); while (clock64() - t < n) {} }',
        "spin",
    )
    cp.cuda.Device().synchronize()
    with cp.cuda.Stream(non_blocking=True) as stream:
        spin((1,), (1,), (np.int64(50_000_000),))
        result = work()
    stream.synchronize()
    return result


def test_results_follow_the_current_stream(dev, rng):
    mask = blobs(rng, 300, 400, 3.0, 0.5)
    alpha = alpha_from_mask(mask, rng)
    rgba = np.dstack([rng.integers(0, 256, mask.shape + (3,)).astype(np.uint8), alpha])
    src_mask, src_alpha, src_rgba = dev.put(mask), dev.put(alpha), dev.put(rgba)

    def work():
        # the inputs are produced on the busy stream, after the sleep
        m, a, im = (x.copy() if dev.kind == "cupy" else x.clone() for x in (src_mask, src_alpha, src_rgba))
        return ldmatte.label(m), ldmatte.refine_alpha(a), ldmatte.pad_rgb(im)

    labels, refined, padded = _busy_stream_then(dev, work)
    np.testing.assert_array_equal(dev.get(labels), label_reference(mask, 8)[0])
    np.testing.assert_array_equal(dev.get(refined), refine_alpha_reference(alpha)[0])
    assert np.abs(dev.get(padded).astype(int) - pad_rgb_reference(rgba).astype(int)).max() <= 1


def test_cuda_backend_on_host_array_is_a_clear_error():
    with pytest.raises(ValueError, match="GPU"):
        ldmatte.label(np.zeros((4, 4), bool), backend="cuda")
    with pytest.raises(ValueError, match="GPU"):
        ldmatte.refine_alpha(np.zeros((4, 4), np.uint8), backend="cuda")
    with pytest.raises(ValueError, match="GPU"):
        ldmatte.pad_rgb(np.zeros((4, 4, 4), np.uint8), backend="cuda")


def test_cpu_backend_on_device_array(dev, rng):
    mask = random_mask(rng, 40, 50, 0.5)
    labels = ldmatte.label(dev.put(mask), backend="cpu")
    dev.check_type(labels, np.int32, mask.shape)
    np.testing.assert_array_equal(dev.get(labels), label_reference(mask, 8)[0])


def test_release_workspace():
    import torch

    from ldmatte import _backend

    out = ldmatte.refine_alpha(Device("torch").put(np.full((64, 64), 128, np.uint8)))
    torch.cuda.synchronize()
    _backend.native().cuda_release_workspace()
    assert int(out[0, 0]) == 128
