"""The fused compose kernel (csrc/cuda/compose.cu) on machines without a GPU: compiled as host C++
under csrc/cuda/host_emulation.cuh and checked against ldmatte.reference.compose on host arrays,
through both paths of the kernel (four pixels per thread with 16-byte words and byte permutes; any
strides, one pixel per step), with and without fill, in place, odd sizes and views."""
from __future__ import annotations

import ctypes
import os
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

from ldmatte.reference.compose import compose_rgba_reference

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose(tmp_path_factory):
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if cxx is None or not (ROOT / "csrc" / "cuda" / "host_emulation.cuh").exists():
        pytest.skip("no C++ compiler or no host emulation of the CUDA runtime")
    lib = tmp_path_factory.mktemp("emulated_compose") / "compose_host.so"
    cmd = [cxx, "-std=c++17", "-O1", "-fPIC", "-shared", f"-I{ROOT / 'csrc'}", "-DLDMATTE_WITH_CUDA", "-x", "c++",
           str(ROOT / "csrc" / "cuda" / "compose.cu"), "-x", "none", str(ROOT / "csrc" / "tests" / "compose_driver.cpp"),
           "-o", str(lib)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    mod = ctypes.CDLL(str(lib))
    p, i64 = ctypes.c_void_p, ctypes.c_int64
    mod.emu_compose_rgba.argtypes = [p, p, p, p, p, p, p, p, i64, i64, i64]
    return mod


def _strides(a, axes):
    s = np.zeros(4, np.int64)
    s[:axes] = np.asarray(a.strides[-axes:]) // a.itemsize if a.ndim >= axes else 0
    if a.ndim == axes - 1:  # unbatched: batch stride 0
        s[1:axes] = np.asarray(a.strides) // a.itemsize
    return s


def run(mod, src, alpha, fill=None, out=None):
    b, h, w = alpha.shape
    out = np.zeros((b, h, w, 4), np.uint8) if out is None else out
    ss, sa, so = _strides(src, 4), _strides(alpha, 3), _strides(out, 4)
    sf = _strides(fill, 4) if fill is not None else np.zeros(4, np.int64)
    rc = mod.emu_compose_rgba(src.ctypes.data, ss.ctypes.data, alpha.ctypes.data, sa.ctypes.data,
                              None if fill is None else fill.ctypes.data, sf.ctypes.data, out.ctypes.data,
                              so.ctypes.data, b, h, w)  # fmt: skip
    assert rc == 0
    return out


def aligned(shape, dtype=np.uint8, align=64):
    """A C-contiguous array whose data starts on an ``align``-byte boundary (the vector path)."""
    n = int(np.prod(shape))
    buf = np.zeros(n + align, dtype)
    off = (-buf.ctypes.data) % align
    return buf[off : off + n].reshape(shape)


SHAPES = [(1, 1, 1), (1, 1, 7), (1, 7, 1), (2, 3, 5), (3, 17, 23), (2, 16, 16), (1, 33, 65)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("with_fill", [True, False])
def test_vector_path_equals_reference(compose, rng, shape, with_fill):
    b, h, w = shape
    src, alpha, fill = aligned((b, h, w, 4)), aligned((b, h, w)), aligned((b, h, w, 3))
    src[:] = rng.integers(0, 256, src.shape)
    alpha[:] = rng.integers(0, 2, alpha.shape) * rng.integers(1, 256, alpha.shape)  # half zero
    fill[:] = rng.integers(0, 256, fill.shape)
    f = fill if with_fill else None
    out = run(compose, src, alpha, f, aligned((b, h, w, 4)))
    assert np.array_equal(out, compose_rgba_reference(src, alpha, f))


@pytest.mark.parametrize("alpha_value", [0, 255])
def test_all_zero_and_all_opaque(compose, rng, alpha_value):
    src, alpha, fill = aligned((2, 9, 13, 4)), aligned((2, 9, 13)), aligned((2, 9, 13, 3))
    src[:] = rng.integers(0, 256, src.shape)
    alpha[:] = alpha_value
    fill[:] = rng.integers(0, 256, fill.shape)
    assert np.array_equal(run(compose, src, alpha, fill, aligned((2, 9, 13, 4))), compose_rgba_reference(src, alpha, fill))


def test_strided_views_misaligned_and_in_place(compose, rng):
    big = rng.integers(0, 256, (3, 19, 29, 6)).astype(np.uint8)
    src, alpha = big[1:, :, :, 1:5], big[1:, :, :, 0]  # channel slice, alpha read where it lies
    fill = rng.integers(0, 256, (2, 19, 29, 3)).astype(np.uint8)
    assert np.array_equal(run(compose, src, alpha, fill), compose_rgba_reference(src, alpha, fill))
    flat = rng.integers(0, 256, 1 + 2 * 19 * 29 * 4).astype(np.uint8)
    shifted = flat[1:].reshape(2, 19, 29, 4)  # contiguous, odd address: the strided path
    a = np.ascontiguousarray(alpha)
    assert np.array_equal(run(compose, shifted, a, fill), compose_rgba_reference(shifted, a, fill))
    inplace = aligned((2, 19, 29, 4))
    inplace[:] = rng.integers(0, 256, inplace.shape)
    want = compose_rgba_reference(inplace, a, fill)
    run(compose, inplace, a, fill, out=inplace)
    assert np.array_equal(inplace, want)


def test_empty_batch(compose):
    z = np.zeros((0, 4, 4, 4), np.uint8)
    assert run(compose, z, np.zeros((0, 4, 4), np.uint8), None, z.copy()).shape == (0, 4, 4, 4)
