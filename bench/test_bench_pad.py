"""pytest-benchmark versions of bench_pad.py and bench_refine.py.

Skipped in normal test runs (``--benchmark-skip``); run them with

    python -m pytest bench/test_bench_pad.py --benchmark-only

and compare within a group (same workload, same run): 'pad-one' and
'pad-batch' hold ldmatte.pad_rgb and the OpenCV reference, 'refine-one' the
full ldmatte.refine, its one-pass compose variant and the plain scipy + OpenCV
composition. Numba and OpenCV are pinned to one thread except where a test
name says otherwise.
"""
from __future__ import annotations

import numpy as np
import pytest

from _common import BATCH, real_rgba_paths, set_threads
from bench_pad import TARGET, load_rgba
from bench_refine import kernel_refine, plain_refine


@pytest.fixture(scope="module")
def target_rgba():
    paths = [p for p in real_rgba_paths((1024, 1024)) if p.stem == TARGET]
    if not paths:
        pytest.skip("real Layer Diffusion samples not found (set LDMATTE_DATA)")
    return load_rgba(paths[0])


@pytest.fixture(scope="module")
def real_batch():
    paths = real_rgba_paths((1024, 1024))
    if not paths:
        pytest.skip("real Layer Diffusion samples not found (set LDMATTE_DATA)")
    return np.stack([load_rgba(paths[i % len(paths)]) for i in range(BATCH)])


@pytest.fixture(autouse=True)
def one_thread():
    set_threads(1)
    yield
    set_threads(1)


@pytest.mark.benchmark(group="pad-one")
@pytest.mark.parametrize("impl", ["ldmatte", "reference"])
def test_pad_one(benchmark, target_rgba, impl):
    import ldmatte
    from ldmatte.reference.pad import pad_rgb_reference

    fn = ldmatte.pad_rgb if impl == "ldmatte" else pad_rgb_reference
    out = benchmark(fn, target_rgba)
    assert np.abs(out.astype(int) - pad_rgb_reference(target_rgba)).max() <= 1


@pytest.mark.benchmark(group="pad-batch")
@pytest.mark.parametrize("impl,threads", [("ldmatte", 1), ("ldmatte", 2), ("reference", 1)])
def test_pad_batch(benchmark, real_batch, impl, threads):
    import ldmatte
    from ldmatte.reference.pad import pad_rgb_reference

    set_threads(threads)
    fn = ldmatte.pad_rgb if impl == "ldmatte" else pad_rgb_reference
    out = benchmark(fn, real_batch)
    assert out.shape == real_batch.shape[:-1] + (3,)


@pytest.mark.benchmark(group="refine-one")
@pytest.mark.parametrize("impl", ["ldmatte", "one-pass", "plain"])
def test_refine_one(benchmark, target_rgba, impl):
    import ldmatte

    if impl == "ldmatte":
        out, _ = benchmark(ldmatte.refine, target_rgba, return_report=True)
    elif impl == "one-pass":
        out, _ = benchmark(kernel_refine, target_rgba)
    else:
        out, _ = benchmark(plain_refine, target_rgba)
    assert out.shape == target_rgba.shape
