"""pytest-benchmark versions of bench_label.py and bench_caar.py.

Skipped in normal test runs (``--benchmark-skip``); run them with

    python -m pytest bench --benchmark-only

and compare within a group (same workload, same run): the 'label-*' groups
hold ldmatte, cv2, scipy and cc3d; the 'caar-*' groups ldmatte and the
reference. Numba and OpenCV are pinned to one thread except where a test
name says otherwise.
"""
from __future__ import annotations

import numpy as np
import pytest

from _common import BATCH, load_alpha, noise_mask, real_rgba_paths, set_threads, transition_mask

CURLY = "curly_man_i2i_sdxl"


@pytest.fixture(scope="module")
def curly_alpha():
    paths = [p for p in real_rgba_paths((1024, 1024)) if p.stem == CURLY]
    if not paths:
        pytest.skip("real Layer Diffusion samples not found (set LDMATTE_DATA)")
    return load_alpha(paths[0])


@pytest.fixture(scope="module")
def real_batch():
    paths = real_rgba_paths((1024, 1024))
    if not paths:
        pytest.skip("real Layer Diffusion samples not found (set LDMATTE_DATA)")
    return np.stack([load_alpha(paths[i % len(paths)]) for i in range(BATCH)])


@pytest.fixture(autouse=True)
def one_thread():
    set_threads(1)
    yield
    set_threads(1)


def _labellers():
    import cc3d
    import cv2
    from scipy import ndimage

    import ldmatte

    return {
        "ldmatte": lambda m: ldmatte.label(m, 8),
        "cv2": lambda m: cv2.connectedComponents(m, connectivity=8, ltype=cv2.CV_32S),
        "scipy": lambda m: ndimage.label(m.view(bool), structure=np.ones((3, 3), bool)),
        "cc3d": lambda m: cc3d.connected_components(m, connectivity=8),
    }


@pytest.mark.parametrize("impl", ["ldmatte", "cv2", "scipy", "cc3d"])
def test_label_real_transition(benchmark, curly_alpha, impl):
    benchmark.group = "label-real-transition-1t"
    mask = transition_mask(curly_alpha)
    benchmark(_labellers()[impl], mask)


@pytest.mark.parametrize("impl", ["ldmatte", "cv2", "scipy", "cc3d"])
def test_label_noise(benchmark, impl):
    benchmark.group = "label-noise50-1t"
    benchmark(_labellers()[impl], noise_mask((1024, 1024), 0.5))


@pytest.mark.parametrize("impl", ["ldmatte", "reference"])
def test_caar_single(benchmark, curly_alpha, impl):
    import ldmatte
    from ldmatte.reference.caar import refine_alpha_reference

    benchmark.group = "caar-single-1t"
    fn = ldmatte.refine_alpha if impl == "ldmatte" else refine_alpha_reference
    benchmark(fn, curly_alpha)


@pytest.mark.parametrize("threads", [1, 2])
def test_caar_batch8(benchmark, real_batch, threads):
    import ldmatte

    benchmark.group = "caar-batch8"
    set_threads(threads)
    benchmark(ldmatte.refine_alpha, real_batch)


def test_caar_batch8_reference(benchmark, real_batch):
    from ldmatte.reference.caar import refine_alpha_reference

    benchmark.group = "caar-batch8"
    benchmark.pedantic(refine_alpha_reference, args=(real_batch,), rounds=3, warmup_rounds=1)
