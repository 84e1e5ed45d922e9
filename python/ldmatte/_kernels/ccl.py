"""Numba connected-component labelling, run-based two-pass (scipy's numbering).

Pass 1 scans each row once, records its runs and unions them with the
overlapping runs of the row above (8-connectivity widens the overlap by one).
Roots are resolved in run order, which numbers components 1..N in raster order
of their first pixel. Pass 2 writes each row once, zeros included, so the
output needs no separate zeroing.
"""
from __future__ import annotations

import threading

import numba
import numpy as np
from numba import njit, prange

from ._run_union_find import DENSE, grow, initial_runs, merge_rows, resolve_labels, row_runs, write_dense, write_sparse
from .ccl_strips import MIN_PIXELS, label_image_strips


@njit(cache=True, nogil=True)
def label_image(img, ext, out):
    """Label one (H, W) uint8 image into ``out`` (int32, fully written); return N.

    ``ext`` is 1 for 8-connectivity, 0 for 4-connectivity.
    """
    height, width = img.shape
    cap = initial_runs(height, width)
    runs = np.empty(2 * cap + 1, np.int32)
    parent = np.empty(cap, np.int32)
    row_ptr = np.empty(height + 1, np.int32)
    row_max = (width + 1) // 2
    n = 0
    for r in range(height):
        row_ptr[r] = n
        runs = grow(runs, 2 * (n + row_max) + 1)
        parent = grow(parent, n + row_max)
        n = row_runs(img[r], width, runs, 2 * n) >> 1
        for i in range(row_ptr[r], n):
            parent[i] = i
        if r > 0:
            merge_rows(runs, parent, row_ptr[r - 1], row_ptr[r], row_ptr[r], n, ext)
    row_ptr[height] = n
    count = resolve_labels(parent, n)
    for r in range(height):
        lo = row_ptr[r]
        hi = row_ptr[r + 1]
        if (hi - lo) * DENSE > width:
            write_dense(out[r], img[r], width, parent, lo)
        else:
            write_sparse(out[r], width, runs, parent, lo, hi)
    return count


@njit(cache=True, nogil=True)
def _label_serial(stack, ext, out, counts):
    for b in range(stack.shape[0]):
        counts[b] = label_image(stack[b], ext, out[b])


@njit(cache=True, nogil=True, parallel=True)
def _label_parallel(stack, ext, out, counts):
    for b in prange(stack.shape[0]):
        counts[b] = label_image(stack[b], ext, out[b])


def label_batch(stack: np.ndarray, connectivity: int):
    """Label a (B, H, W) uint8 0/1 stack; return (int32 labels, int32 counts (B,)).

    Any nonzero byte is foreground. A batch runs one image per thread; a single
    large image is split into one strip of rows per thread (``ccl_strips``), a
    small one, or one labelled from a worker thread, runs without the parallel
    region.
    """
    out = np.empty(stack.shape, np.int32)
    counts = np.zeros(stack.shape[0], np.int32)
    ext = 1 if connectivity == 8 else 0
    threads = numba.get_num_threads()
    # Strips only from the main thread: worker threads (build, refine --jobs) already keep the cores
    # busy, and with Numba's workqueue layer parallel regions entered from several threads at once abort.
    main = threading.current_thread() is threading.main_thread()
    if stack.shape[0] == 1 and threads > 1 and main and stack[0].size >= MIN_PIXELS:
        counts[0] = label_image_strips(stack[0], ext, out[0], threads)
    elif stack.shape[0] <= 1:
        _label_serial(stack, ext, out, counts)
    else:
        _label_parallel(stack, ext, out, counts)
    return out, counts
