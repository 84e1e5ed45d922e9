"""Numba connected-component labelling, run-based two-pass (scipy's numbering).

Pass 1 scans each row once, records its runs and unions them with the
overlapping runs of the row above (8-connectivity widens the overlap by one).
Roots are resolved in run order, which numbers components 1..N in raster order
of their first pixel. Pass 2 writes each row once, zeros included, so the
output needs no separate zeroing.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._runs import grow, initial_runs, merge_rows, nonzero01, resolve_labels, row_runs

# Rows with more than width / _DENSE runs are written pixel by pixel without
# branches; sparser rows are written run by run (memset-like fills).
_DENSE = 16


@njit(cache=True, nogil=True)
def _write_sparse(out_row, width, runs, labels, lo, hi):
    j = 0
    for i in range(lo, hi):
        s = runs[2 * i]
        e = runs[2 * i + 1]
        lab = labels[i]
        out_row[j:s] = 0
        out_row[s:e] = lab
        j = e
    out_row[j:width] = 0


@njit(cache=True, nogil=True)
def _write_dense(out_row, row, width, labels, lo):
    # idx is the run under pixel j once it has started; a run starts where the
    # byte turns nonzero. max() keeps the look-up in bounds before the first run.
    idx = lo - 1
    prev = 0
    for j in range(width):
        b = nonzero01(row[j])
        idx += b & (1 - prev)
        prev = b
        out_row[j] = labels[max(idx, 0)] * b


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
        if (hi - lo) * _DENSE > width:
            _write_dense(out[r], img[r], width, parent, lo)
        else:
            _write_sparse(out[r], width, runs, parent, lo, hi)
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

    Any nonzero byte is foreground. A single image runs without the parallel
    region (no thread start-up); a batch runs one image per thread.
    """
    out = np.empty(stack.shape, np.int32)
    counts = np.zeros(stack.shape[0], np.int32)
    ext = 1 if connectivity == 8 else 0
    if stack.shape[0] <= 1:
        _label_serial(stack, ext, out, counts)
    else:
        _label_parallel(stack, ext, out, counts)
    return out, counts
