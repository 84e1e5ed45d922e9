"""Batches on several threads: images handed out on demand, scratch buffers kept per thread.

The kernels release the GIL, so plain Python threads run them in parallel.
Images are handed out in chunks from a shared counter rather than split into
fixed runs up front: Layer Diffusion outputs differ a lot in cost (a subject
filling the frame pads slower than a small one), and a thread that drew the
cheap ones takes more instead of idling at the end of the batch. Chunks grow
for small images so that the hand-out costs nothing next to the work.
"""
from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

_LOCAL = threading.local()
_CHUNK_PIXELS = 1 << 18  # a chunk of small images holds about this many pixels


def chunk_size(n_items: int, pixels: int, n_threads: int) -> int:
    """Images per hand-out: enough for ~2^18 pixels, but at least four chunks per thread."""
    by_size = max(1, _CHUNK_PIXELS // max(pixels, 1))
    return max(1, min(by_size, n_items // (4 * n_threads)))


def run_batch(n_items: int, pixels: int, work, threads: int | None = None) -> None:
    """Call ``work(slot, lo, hi)`` over ``range(n_items)`` on up to ``threads`` threads.

    ``slot`` numbers the threads 0..n-1 (each owns its scratch buffers; slot 0
    is the calling thread); the ranges [lo, hi) cover every item exactly once.
    The first exception raised by ``work`` is re-raised here once every thread
    has stopped. ``threads`` defaults to ``numba.get_num_threads()`` (what
    ``numba.set_num_threads`` chose).
    """
    n_threads = max(1, min(numba.get_num_threads() if threads is None else threads, n_items))
    if n_threads == 1:
        if n_items:
            work(0, 0, n_items)
        return
    chunk = chunk_size(n_items, pixels, n_threads)
    counter = itertools.count()  # next() on it is atomic under the GIL
    failed = threading.Event()

    def loop(slot):
        while not failed.is_set():
            lo = next(counter) * chunk
            if lo >= n_items:
                return
            try:
                work(slot, lo, min(lo + chunk, n_items))
            except BaseException:
                failed.set()  # the other threads stop at their next hand-out
                raise

    # The calling thread is slot 0: it starts on the first image at once instead of
    # waiting for a new thread to be scheduled, and one thread fewer is started.
    with ThreadPoolExecutor(n_threads - 1) as pool:
        jobs = [pool.submit(loop, slot) for slot in range(1, n_threads)]
        try:
            loop(0)
        finally:
            done = [job.exception() for job in jobs]  # waits for the helpers either way
    for err in done:
        if err is not None:
            raise err


def scratch(key: str, n_slots: int, size: int, dtype) -> np.ndarray:
    """(n_slots, >= size) zeroed buffers of ``dtype``, kept for the calling thread under ``key``.

    A fresh buffer of a 1024x1024 image's size costs more in page faults than
    the padding costs in arithmetic, so buffers live between calls and only
    grow (to the largest size seen). Zeroed once, when allocated; callers that
    rely on the zeros (the padding workspace) only ever write finite values.
    """
    store = getattr(_LOCAL, "scratch", None)
    if store is None:
        store = _LOCAL.scratch = {}
    buf = store.get(key)
    if buf is None or buf.shape[0] < n_slots or buf.shape[1] < size or buf.dtype != dtype:
        rows = max(n_slots, 0 if buf is None else buf.shape[0])
        cols = max(size, 0 if buf is None else buf.shape[1])
        buf = store[key] = np.zeros((rows, cols), dtype)
    return buf[:n_slots]
