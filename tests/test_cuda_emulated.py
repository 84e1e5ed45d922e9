"""The CUDA kernels' logic on machines without a GPU: the op sources compiled as host C++.

``csrc/cuda/host_emulation.cuh`` stands in for the CUDA runtime (threads as
cooperative fibers, randomly interleaved at atomics; barriers and warp
collectives checked). The ops run on host memory and must agree with the Numba
kernels: labels and refined alpha bit for bit, padding within one level (as on
a real GPU). Compiling takes ~15 s, so this is one module-scoped library.
"""
from __future__ import annotations

import ctypes
import os
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

import ldmatte
from ldmatte import _stats

from ldmatte.reference.patterns import adversarial_masks, alpha_from_mask, blobs, random_mask

ROOT = pathlib.Path(__file__).resolve().parents[1]
OP_SOURCES = ["label.cu", "caar.cu", "pad.cu", "stats.cu", "workspace.cu"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ops(tmp_path_factory):
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if cxx is None:
        pytest.skip("no C++ compiler to build the emulated CUDA ops")
    lib = tmp_path_factory.mktemp("emulated") / "ops_host.so"
    cmd = [cxx, "-std=c++17", "-O1", "-ffp-contract=off", "-fPIC", "-shared", f"-I{ROOT / 'csrc'}",
           "-DLDMATTE_WITH_CUDA", "-x", "c++", *[str(ROOT / "csrc" / "cuda" / s) for s in OP_SOURCES],
           "-x", "none", str(ROOT / "csrc" / "tests" / "emulation_driver.cpp"), "-o", str(lib)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    mod = ctypes.CDLL(str(lib))
    p, i64, i = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int
    mod.emu_label.argtypes = [p, p, p, i64, i64, i64, i]
    mod.emu_refine_alpha.argtypes = [p, p, p, i64, i64, i64, i, i, i, i, i, ctypes.c_double, i]
    mod.emu_pad_rgb.argtypes = [p, i, p, i, i64, i64, i64]
    mod.emu_component_stats.argtypes = [p, p, i64, p, p, p, p, i64, i64, i64]
    return mod


def _ptr(a):
    return a.ctypes.data


def emulated_label(ops, stack, connectivity):
    labels = np.zeros(stack.shape, np.int32)
    num = np.zeros(stack.shape[0], np.int32)
    assert ops.emu_label(_ptr(stack), _ptr(labels), _ptr(num), *stack.shape, connectivity) == 0
    return labels, num


def emulated_refine_plain(ops, stack, params):
    out = np.zeros_like(stack)
    stats = np.zeros((stack.shape[0], _stats.N_STATS), np.int64)
    fraction = params.min_subject_fraction if params.subject_rule else -1.0
    rc = ops.emu_refine_alpha(_ptr(stack), _ptr(out), _ptr(stats), *stack.shape, params.fg_tol, params.bg_tol,
                              params.connectivity, params.snap, params.fill_interior, fraction,
                              params.hysteresis)  # fmt: skip
    assert rc == 0
    return out, stats


def emulated_refine(ops, stack, params):
    """The CUDA path of refine_alpha (``_caar.refine_alpha_described``): the haze step around the op.

    Returns (out, stats, each image's HazeFloor); numpy stands in for the device library.
    """
    from ldmatte._haze import floors_of, refine_with_floors

    floors = floors_of(stack, "numpy", params)
    out, stats = refine_with_floors(stack, "numpy", floors, lambda s: emulated_refine_plain(ops, s, params))
    return out, stats, floors


def test_native_statistics_count(ops):
    assert ops.emu_num_stats() == _stats.N_STATS


@pytest.mark.parametrize("connectivity", (8, 4))
def test_label_matches_numba(ops, rng, connectivity):
    masks = [m for m in adversarial_masks().values() if m.size <= 4096 and min(m.shape) > 0]
    masks += [random_mask(rng, h, w, d) for h, w in ((1, 37), (29, 1), (23, 31)) for d in (0.3, 0.6)]
    for mask in masks:
        stack = np.ascontiguousarray(mask[None].astype(np.uint8))
        labels, num = emulated_label(ops, stack, connectivity)
        want, want_num = ldmatte.label(stack, connectivity, return_num=True, batch=True)
        np.testing.assert_array_equal(labels, want)
        np.testing.assert_array_equal(num, want_num)


@pytest.mark.parametrize(
    "params",
    [ldmatte.RefineParams(), ldmatte.RefineParams(connectivity=4, min_subject_fraction=None),
     ldmatte.RefineParams(fg_tol=30, bg_tol=2, snap=False, fill_interior=False, min_subject_fraction=0.5),
     ldmatte.RefineParams(hysteresis=True), ldmatte.RefineParams(hysteresis=True, connectivity=4, bg_tol=20),
     ldmatte.RefineParams(hysteresis=True, min_subject_fraction=0.5)],  # fmt: skip
)
def test_refine_alpha_matches_numba(ops, rng, params):
    alphas = [alpha_from_mask(blobs(rng, 33, 41, 3.0, 0.4), rng) for _ in range(3)]
    alphas += [rng.choice(np.array([0, 4, 50, 128, 200, 250, 255], np.uint8), size=(23, 31))]
    alphas += [rng.choice(np.array([0, 1, 3, 8, 9, 30, 128, 250, 255], np.uint8), size=(29, 19))]  # faint pixels
    alphas += [np.zeros((5, 7), np.uint8), np.full((6, 3), 255, np.uint8), np.full((1, 40), 128, np.uint8)]
    for alpha in alphas:
        stack = np.ascontiguousarray(alpha[None])
        out, stats, floors = emulated_refine(ops, stack, params)
        want, reports = ldmatte.refine_alpha(stack, return_report=True, batch=True, **params.as_dict())
        np.testing.assert_array_equal(out, want)
        got = [ldmatte.RefineReport.from_stats(row, *alpha.shape, f) for row, f in zip(stats, floors)]
        assert got == reports


def test_pad_rgb_within_one_level_of_numba(ops, rng):
    for h, w in ((1, 1), (1, 9), (9, 1), (17, 23), (40, 32)):
        rgba = rng.integers(0, 256, (2, h, w, 4)).astype(np.uint8)
        rgba[0, ..., 3] = np.where(random_mask(rng, h, w, 0.4), 255, 0)
        out = np.zeros((2, h, w, 3), np.uint8)
        assert ops.emu_pad_rgb(_ptr(rgba), 0, _ptr(out), 1, 2, h, w) == 0
        want = ldmatte.pad_rgb(rgba)
        assert np.abs(out.astype(int) - want.astype(int)).max() <= 1, (h, w)


def test_component_stats_match_numba(ops, rng):
    labels = ldmatte.label(random_mask(rng, 30, 37, 0.5), 8)[None]
    labels = np.ascontiguousarray(labels)
    n = int(labels.max())
    offsets = np.array([0, n], np.int64)
    area, bbox = np.zeros(n, np.int64), np.zeros((n, 4), np.int64)
    frame, bad = np.zeros(n, np.uint8), np.zeros(1, np.int32)
    rc = ops.emu_component_stats(_ptr(labels), _ptr(offsets), n, _ptr(area), _ptr(bbox), _ptr(frame), _ptr(bad),
                                 *labels.shape)  # fmt: skip
    assert rc == 0 and bad[0] == 0
    want = ldmatte.component_stats(labels[0])
    np.testing.assert_array_equal(area, want.area)
    np.testing.assert_array_equal(bbox, want.bbox)
    np.testing.assert_array_equal(frame.astype(bool), want.touches_frame)


@pytest.mark.parametrize("haze_floor", ["auto", 30])
def test_refine_alpha_with_a_haze_floor_matches_numba(ops, rng, haze_floor):
    """The CUDA path's haze step (floor removed, frame as background) around the emulated op."""
    params = ldmatte.RefineParams(haze_floor=haze_floor)
    yy = np.arange(48)[:, None]
    alphas = []
    for floor in (70, 20 + yy):  # a uniform floor and a gradient one
        a = np.zeros((48, 40), np.uint8)
        a[6:38, 6:34] = alpha_from_mask(blobs(rng, 32, 28, 3.0, 0.4), rng)  # clear of the frame
        a[30:, 12:28] = 255  # a subject cut by the bottom frame
        a[-1, 14:17] = 150  # a translucent piece at the frame beside the core
        alphas.append(np.round(floor + a * (255.0 - floor) / 255).astype(np.uint8))
    stack = np.ascontiguousarray(np.stack(alphas))
    out, stats, floors = emulated_refine(ops, stack, params)
    want, reports = ldmatte.refine_alpha(stack, return_report=True, batch=True, **params.as_dict())
    np.testing.assert_array_equal(out, want)
    got = [ldmatte.RefineReport.from_stats(row, *stack.shape[1:], f) for row, f in zip(stats, floors)]
    assert got == reports and all(r.no_clear_background for r in reports)
    assert haze_floor != "auto" or all(r.haze_floor > 0 for r in reports)
