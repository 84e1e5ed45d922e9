"""Run-length building blocks shared by the labelling and CAAR kernels.

A *run* is a maximal horizontal segment ``[start, end)`` of foreground pixels in
one row. Runs live interleaved in one int32 array (``runs[2*i]`` = start,
``runs[2*i + 1]`` = end) and are created in raster order, so a run's index
orders it like its first pixel. The union-find keeps the smaller index as the
root: the root of a component is its first run, which holds the component's
first pixel in raster order. Resolving roots in run order therefore numbers
components exactly like ``scipy.ndimage.label``.

Invariant used everywhere: ``parent[i] <= i``.
"""
from __future__ import annotations

import numpy as np
from numba import njit

# Words of 8 bytes let the scans skip uniform stretches 8 pixels at a time.
ONES8 = np.uint64(0x0101010101010101)
HIGH8 = np.uint64(0x8080808080808080)
ZERO64 = np.uint64(0)


@njit(cache=True, nogil=True, inline="always")
def find(parent, i):
    """Root of ``i`` with path halving (keeps ``parent[i] <= i``)."""
    while True:
        p = parent[i]
        if p == i:
            return i
        gp = parent[p]
        parent[i] = gp
        i = gp


@njit(cache=True, nogil=True, inline="always")
def has_zero_byte(x):
    """True when the 8-byte word ``x`` holds a zero byte (exact bit trick)."""
    return ((x - ONES8) & ~x & HIGH8) != ZERO64


@njit(cache=True, nogil=True, inline="always")
def nonzero01(v):
    """1 for a nonzero byte, else 0, in plain arithmetic.

    Numba lowers ``int(v != 0)`` to a branch, which mispredicts on noisy rows;
    ``(v + 255) >> 8`` compiles branch-free.
    """
    return (np.int64(v) + 255) >> 8


@njit(cache=True, nogil=True, inline="always")
def _byte_runs(row, j0, j1, runs, k, state):
    # Branch-free: every position is written to runs[k]; k advances only at a transition.
    for j in range(j0, j1):
        b = nonzero01(row[j])
        runs[k] = j
        k += b ^ state
        state = b
    return k, state


@njit(cache=True, nogil=True)
def row_runs(row, width, runs, k):
    """Append the runs of nonzero bytes of ``row`` to ``runs`` at slot ``k``; return the new ``k``.

    ``k`` counts interleaved slots (2 per run), and ``runs`` needs one spare
    slot past the last run. Uniform 8-byte words are skipped whole; the bytes
    before the first 8-byte-aligned address and after the last whole word go
    one by one.
    """
    head = min((-row.ctypes.data) & 7, width)
    n_words = (width - head) >> 3
    words = row[head : head + 8 * n_words].view(np.uint64)
    k, state = _byte_runs(row, 0, head, runs, k, 0)
    for q in range(n_words):
        x = words[q]
        if state == 0:
            if x == ZERO64:
                continue
        elif not has_zero_byte(x):
            continue
        base = head + (q << 3)
        k, state = _byte_runs(row, base, base + 8, runs, k, state)
    k, state = _byte_runs(row, head + 8 * n_words, width, runs, k, state)
    if state:
        runs[k] = width
        k += 1
    return k


@njit(cache=True, nogil=True)
def merge_rows(runs, parent, prev_lo, prev_hi, lo, hi, ext):
    """Union every run of the current row ``[lo, hi)`` with the overlapping runs of the previous row.

    ``ext`` is 1 for 8-connectivity (diagonal contact counts) and 0 for 4.
    Both rows are sorted, so the runs above that touch run ``k`` form a
    contiguous range; the last of them may also touch run ``k + 1``.
    """
    i = prev_lo
    for k in range(lo, hi):
        sk = runs[2 * k]
        ek = runs[2 * k + 1] + ext
        while i < prev_hi and runs[2 * i + 1] + ext <= sk:
            i += 1
        if i == prev_hi:
            return
        if runs[2 * i] >= ek:
            continue
        # A fresh run is its own root and nothing points to it yet; every run
        # above has a smaller index, so it simply hangs below their root.
        root = find(parent, i)
        parent[k] = root
        i += 1
        while i < prev_hi and runs[2 * i] < ek:
            other = find(parent, i)
            if other < root:
                parent[root] = other
                root = other
            elif other > root:
                parent[other] = root
            i += 1
        i -= 1


@njit(cache=True, nogil=True)
def resolve_range(parent, lo, hi, n):
    """Final 1-based labels of runs ``lo..hi-1`` in place, numbering new roots from ``n + 1``; return the count.

    Because ``parent[i] < i`` for non-roots, ``parent[parent[i]]`` already holds
    a final label when run ``i`` is reached (runs before ``lo`` must be resolved).
    """
    for i in range(lo, hi):
        p = parent[i]
        if p == i:
            n += 1
            parent[i] = n
        else:
            parent[i] = parent[p]
    return n


@njit(cache=True, nogil=True)
def resolve_labels(parent, n_runs):
    """Turn ``parent`` into 1-based component labels per run, in place; return the count."""
    return resolve_range(parent, 0, n_runs, 0)


@njit(cache=True, nogil=True)
def max_runs(height, width):
    """Upper bound on the number of runs of an image (every other pixel set)."""
    return height * ((width + 1) // 2)


@njit(cache=True, nogil=True)
def initial_runs(height, width):
    """Starting capacity of run buffers: enough for typical masks, far below the worst case.

    Buffers of the worst-case size (megabytes) would be mapped and unmapped
    by the allocator on every call, and in a parallel batch every unmap
    stalls the other threads; small buffers come from the heap.
    """
    return min(max_runs(height, width), 8 * height + 64)


@njit(cache=True, nogil=True)
def grow(arr, need):
    """``arr`` when it holds ``need`` items, else a copy with room for at least twice as many."""
    size = arr.shape[0]
    if need <= size:
        return arr
    bigger = np.empty(max(need, 2 * size), arr.dtype)
    bigger[:size] = arr
    return bigger


# Rows with more than width / DENSE runs are written pixel by pixel without
# branches; sparser rows are written run by run (memset-like fills).
DENSE = 16


@njit(cache=True, nogil=True)
def write_sparse(out_row, width, runs, labels, lo, hi):
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
def write_dense(out_row, row, width, labels, lo):
    # idx is the run under pixel j once it has started; a run starts where the
    # byte turns nonzero. max() keeps the look-up in bounds before the first run.
    idx = lo - 1
    prev = 0
    for j in range(width):
        b = nonzero01(row[j])
        idx += b & (1 - prev)
        prev = b
        out_row[j] = labels[max(idx, 0)] * b
