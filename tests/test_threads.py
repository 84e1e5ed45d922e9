"""Batches on several threads (``_kernels/_threads.py``) and the one-pass RGBA refinement behind ``refine``.

Whatever the thread count and however images are handed out, every image is
processed exactly once and the results equal one-by-one processing and the
two-stage composition (refine_alpha, then the padding with the new alpha).
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ldmatte
from ldmatte._kernels.caar import refine_alpha_batch
from ldmatte._kernels._threads import chunk_size, run_batch, scratch
from ldmatte._kernels.pad import repad_rgba_batch
from ldmatte._kernels.refine_rgba import refine_rgba_batch

from ldmatte.reference.patterns import make_rgba

THREADS = sorted({1, 2, min(4, numba.config.NUMBA_NUM_THREADS)})


def with_threads(n, fn, *args):
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
        return fn(*args)
    finally:
        numba.set_num_threads(before)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 300), pixels=st.integers(1, 1 << 22), threads=st.integers(1, 8))
def test_every_item_once(n, pixels, threads):
    seen, slots, lock = [], set(), threading.Lock()

    def work(slot, lo, hi):
        assert 0 <= lo < hi <= n
        with lock:
            seen.extend(range(lo, hi))
            slots.add(slot)

    run_batch(n, pixels, work, threads=threads)
    assert sorted(seen) == list(range(n))
    assert slots <= set(range(max(1, min(threads, n))))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 10_000), pixels=st.integers(1, 1 << 22), threads=st.integers(1, 16))
def test_chunk_size(n, pixels, threads):
    c = chunk_size(n, pixels, threads)
    assert c >= 1
    assert c == 1 or (c * pixels <= 1 << 18 and -(-n // c) >= 4 * threads)


def test_first_error_is_raised_and_the_rest_stop():
    calls = []

    def work(slot, lo, hi):
        calls.append(lo)
        if lo == 3:
            raise RuntimeError("image 3 is broken")

    with pytest.raises(RuntimeError, match="image 3"):
        run_batch(1000, 1 << 20, work, threads=2)
    assert len(calls) < 1000


@pytest.mark.parametrize("bad_slot", [0, 1])
def test_error_in_the_calling_thread_or_a_helper(bad_slot):
    # Slot 0 is the calling thread; whichever fails, the batch stops early and the error comes out.
    calls = []

    def work(slot, lo, hi):
        calls.append(slot)
        time.sleep(0.001)
        if slot == bad_slot:
            raise ValueError(f"slot {slot} failed")

    with pytest.raises(ValueError, match=f"slot {bad_slot}"):
        run_batch(500, 1 << 20, work, threads=2)
    assert len(calls) < 500


def test_scratch_is_kept_and_grows():
    a = scratch("test", 2, 100, np.float32)
    assert a.shape[0] == 2 and a.shape[1] >= 100 and not a.any()
    a[0, 0] = 5
    assert scratch("test", 1, 50, np.float32)[0, 0] == 5  # the same buffer
    b = scratch("test", 3, 200, np.float32)
    assert b.shape[0] == 3 and b.shape[1] >= 200 and not b.any()
    other = threading.Thread(target=lambda: scratch("test", 1, 10, np.float32).fill(7))
    other.start()
    other.join()
    assert not b.any()  # each thread has its own


def mixed_stack(rng, n, h, w):
    """Images of very unequal cost: clear, opaque, full of haze and specks, tiny subjects."""
    stack = np.stack([make_rgba(rng, h, w) for _ in range(n)])
    stack[0, ..., 3] = 0
    stack[1 % n, ..., 3] = 255
    if n > 3:
        stack[2, ..., 3] = rng.integers(0, 40, (h, w))
        stack[3, ..., 3] = 0
        stack[3, h // 2, w // 2, 3] = 200
    return stack


@pytest.mark.parametrize("n, h, w", [(1, 37, 29), (5, 40, 33), (9, 64, 64), (150, 12, 9), (3, 1, 50), (4, 50, 1)])
def test_refine_batch_equals_one_by_one_and_two_stages(rng, n, h, w):
    stack = mixed_stack(rng, n, h, w)
    one_by_one = np.stack([ldmatte.refine(im) for im in stack])
    alpha = ldmatte.refine_alpha(np.ascontiguousarray(stack[..., 3]))
    two_stages = repad_rgba_batch(stack, alpha)
    assert np.array_equal(one_by_one, two_stages)
    _, reports = ldmatte.refine_alpha(np.ascontiguousarray(stack[..., 3]), return_report=True)
    for threads in THREADS:
        out, got = with_threads(threads, ldmatte.refine, stack, 8, 8, 8, True, True, 0.05, True)
        assert np.array_equal(out, one_by_one), threads
        assert got == reports


def test_refine_kernel_parameters(rng):
    stack = mixed_stack(rng, 6, 30, 41)
    for args in ((0, 0, 8, True, True, 0.05), (30, 2, 4, False, False, None), (8, 8, 8, True, False, 0.5)):
        params = ldmatte.RefineParams(*args)
        out, stats = with_threads(2, refine_rgba_batch, stack, params)
        alpha, expected = refine_alpha_batch(np.ascontiguousarray(stack[..., 3]), params)
        assert np.array_equal(out, repad_rgba_batch(stack, alpha))
        assert np.array_equal(stats, expected)


def test_batches_from_several_python_threads(rng):
    # Worker threads of a user's own pool call the batched kernels at once.
    stacks = [mixed_stack(rng, 6, 48, 40) for _ in range(4)]
    expected = [ldmatte.refine(s) for s in stacks]
    alphas = [np.ascontiguousarray(s[..., 3]) for s in stacks]
    expected_alpha = [ldmatte.refine_alpha(a) for a in alphas]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(ldmatte.refine, stacks))
        got_alpha = list(pool.map(ldmatte.refine_alpha, alphas))
    assert all(np.array_equal(a, b) for a, b in zip(got, expected))
    assert all(np.array_equal(a, b) for a, b in zip(got_alpha, expected_alpha))
