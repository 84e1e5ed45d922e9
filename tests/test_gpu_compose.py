"""GPU: the fused compose kernel of the refine against the plain reference and the old torch path;
CuPy in -> CuPy out for every public kernel. All tests are marked ``gpu``: without a GPU they skip."""
from __future__ import annotations

import numpy as np
import pytest

import ldmatte
from ldmatte.io import read_rgba
from ldmatte.reference.compose import compose_rgba_reference

pytestmark = pytest.mark.gpu

SHAPES = [(1, 1, 1), (1, 1, 97), (1, 97, 1), (2, 3, 5), (3, 67, 131), (2, 64, 64), (1, 257, 311), (5, 16, 17)]


def _torch():
    return pytest.importorskip("torch")


def _inputs(rng, shape, alpha_kind):
    b, h, w = shape
    rgba = rng.integers(0, 256, (b, h, w, 4), dtype=np.uint8)
    alpha = {"random": rng.integers(0, 256, (b, h, w)), "half zero": rng.integers(0, 2, (b, h, w)) * 200,
             "all 0": np.zeros((b, h, w)), "all 255": np.full((b, h, w), 255),
             "chess": (np.indices((h, w)).sum(0) % 2 * 255)[None].repeat(b, 0)}[alpha_kind]  # fmt: skip
    fill = rng.integers(0, 256, (b, h, w, 3), dtype=np.uint8)
    return rgba, np.ascontiguousarray(alpha.astype(np.uint8)), fill


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("alpha_kind", ["random", "half zero", "all 0", "all 255", "chess"])
def test_fused_compose_equals_reference(shape, alpha_kind):
    torch = _torch()
    from ldmatte._cuda_compose import compose_rgba_cuda

    rng = np.random.default_rng(hash((shape, alpha_kind)) % 2**32)
    rgba, alpha, fill = _inputs(rng, shape, alpha_kind)
    d = {k: torch.from_numpy(v).cuda() for k, v in {"rgba": rgba, "alpha": alpha, "fill": fill}.items()}
    got = compose_rgba_cuda(d["rgba"], d["alpha"], d["fill"])
    assert got.is_contiguous() and got.dtype == torch.uint8 and got.device == d["rgba"].device
    assert np.array_equal(got.cpu().numpy(), compose_rgba_reference(rgba, alpha, fill))
    no_fill = compose_rgba_cuda(d["rgba"], d["alpha"])
    assert np.array_equal(no_fill.cpu().numpy(), compose_rgba_reference(rgba, alpha))
    one = compose_rgba_cuda(d["rgba"][0], d["alpha"][0], d["fill"][0])  # unbatched
    assert np.array_equal(one.cpu().numpy(), compose_rgba_reference(rgba[0], alpha[0], fill[0]))


@pytest.mark.parametrize("shape", [(2, 67, 131), (3, 64, 64), (1, 1, 5)])
def test_fused_compose_strided_misaligned_and_in_place(shape):
    torch = _torch()
    from ldmatte._cuda_compose import compose_rgba_cuda

    rng = np.random.default_rng(3)
    b, h, w = shape
    big = torch.from_numpy(rng.integers(0, 256, (b + 1, h, w, 6), dtype=np.uint8)).cuda()
    src = big[1:, :, :, 1:5]  # channel slice at an odd byte offset: the strided kernel
    alpha = big[1:, :, :, 0]  # alpha read where it lies (stride 6)
    fill = torch.from_numpy(rng.integers(0, 256, (b, h, w, 3), dtype=np.uint8)).cuda()
    want = compose_rgba_reference(src.cpu().numpy(), alpha.cpu().numpy(), fill.cpu().numpy())
    assert np.array_equal(compose_rgba_cuda(src, alpha, fill).cpu().numpy(), want)
    flat = torch.from_numpy(rng.integers(0, 256, (1 + b * h * w * 4,), dtype=np.uint8)).cuda()
    shifted = flat[1:].view(b, h, w, 4)  # contiguous but not 16-byte aligned
    a2 = alpha.contiguous()
    want2 = compose_rgba_reference(shifted.cpu().numpy(), a2.cpu().numpy(), fill.cpu().numpy())
    assert np.array_equal(compose_rgba_cuda(shifted, a2, fill).cpu().numpy(), want2)
    inplace = torch.from_numpy(rng.integers(0, 256, (b, h, w, 4), dtype=np.uint8)).cuda()
    want3 = compose_rgba_reference(inplace.cpu().numpy(), a2.cpu().numpy(), fill.cpu().numpy())
    assert compose_rgba_cuda(inplace, a2, fill, out=inplace) is inplace
    assert np.array_equal(inplace.cpu().numpy(), want3)


def test_fused_compose_on_a_side_stream_and_errors():
    torch = _torch()
    from ldmatte._cuda_compose import compose_rgba_cuda

    rgba = torch.randint(0, 256, (2, 33, 65, 4), dtype=torch.uint8, device="cuda")
    alpha = torch.randint(0, 2, (2, 33, 65), dtype=torch.uint8, device="cuda") * 255
    fill = torch.zeros((2, 33, 65, 3), dtype=torch.uint8, device="cuda")
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        out = compose_rgba_cuda(rgba, alpha, fill)
    stream.synchronize()
    want = compose_rgba_reference(rgba.cpu().numpy(), alpha.cpu().numpy(), fill.cpu().numpy())
    assert np.array_equal(out.cpu().numpy(), want)
    with pytest.raises(ValueError, match="alpha: expected shape"):
        compose_rgba_cuda(rgba, alpha[:, :-1])
    with pytest.raises(TypeError, match="dtype must be uint8"):
        compose_rgba_cuda(rgba, alpha.float())
    with pytest.raises(ValueError, match="fill: expected shape"):
        compose_rgba_cuda(rgba, alpha, fill[..., :2])


def test_refine_with_the_fused_kernel_equals_the_torch_path(monkeypatch, data_dir):
    """The old where + cat composition stays the reference of the CUDA refine."""
    torch = _torch()
    import ldmatte._cuda_compose as fused

    rng = np.random.default_rng(5)
    batch = rng.integers(0, 256, (3, 131, 197, 4), dtype=np.uint8)
    batch[..., 3] = np.where(rng.random((3, 131, 197)) < 0.4, 0, batch[..., 3])
    inputs = [batch, batch[:1, :1], batch[:1, :, :1]]
    real = sorted(data_dir.glob("*.png"))[:2] if data_dir.is_dir() else []
    inputs += [read_rgba(p)[None] for p in real]
    for rgba in inputs:
        d = torch.from_numpy(np.ascontiguousarray(rgba)).cuda()
        got, rep = ldmatte.refine(d, return_report=True)
        with monkeypatch.context() as m:
            m.setattr(fused, "fused_compose_available", lambda: False)
            want, want_rep = ldmatte.refine(d, return_report=True)
        assert torch.equal(got, want) and rep == want_rep


# --- CuPy in -> CuPy out ---------------------------------------------------------------------------------------


def _cupy():
    return pytest.importorskip("cupy")


def test_cupy_in_cupy_out_every_kernel():
    cp = _cupy()
    rng = np.random.default_rng(11)
    rgba = rng.integers(0, 256, (2, 67, 131, 4), dtype=np.uint8)
    rgba[..., 3] = np.where(rng.random((2, 67, 131)) < 0.3, 0, rgba[..., 3])
    alpha = np.ascontiguousarray(rgba[..., 3])
    d_rgba, d_alpha = cp.asarray(rgba), cp.asarray(alpha)
    cases = {
        "label": (lambda x: ldmatte.label(x > 8), d_alpha, alpha),
        "refine_alpha": (ldmatte.refine_alpha, d_alpha, alpha),
        "pad_rgb": (ldmatte.pad_rgb, d_rgba, rgba),
        "refine": (ldmatte.refine, d_rgba, rgba),
    }
    for name, (fn, dev, host) in cases.items():
        got = fn(dev)
        assert isinstance(got, cp.ndarray), name
        assert got.device.id == dev.device.id, name
        want = fn(host)
        if name == "pad_rgb" or name == "refine":
            assert np.abs(got.get().astype(int) - want.astype(int)).max() <= 1, name  # padding within 1 level
            if name == "refine":
                assert np.array_equal(got.get()[..., 3], want[..., 3])
        else:
            assert np.array_equal(got.get(), want), name


def test_cupy_fused_compose_and_current_stream():
    cp = _cupy()
    from ldmatte._cuda_compose import compose_rgba_cuda

    rng = np.random.default_rng(12)
    rgba, alpha, fill = _inputs(rng, (2, 45, 77), "half zero")
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        out = compose_rgba_cuda(cp.asarray(rgba), cp.asarray(alpha), cp.asarray(fill))
    stream.synchronize()
    assert isinstance(out, cp.ndarray) and out.flags.c_contiguous
    assert np.array_equal(out.get(), compose_rgba_reference(rgba, alpha, fill))
