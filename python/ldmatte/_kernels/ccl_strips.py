"""One image labelled by several threads: horizontal strips, merged at their seams.

The same run-based two-pass algorithm as ``ccl.py``, split by rows. Each strip
records its runs in its own region of one shared index space (region ``s``
starts at run index ``r0 * row_max + s``, so regions follow raster order and
never overlap, spare slot included) and unions them with the row above inside
the strip, in parallel. The seams between strips are then merged serially with
a general union (the first row of a strip is not fresh: runs below it already
point to it), always keeping the smaller index as the root, so ``parent[i] <=
i`` holds everywhere. Resolving the roots region by region, in index order,
numbers the components in raster order of their first pixel exactly like the
serial labeller; the rows are then written in parallel.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._run_union_find import DENSE, find, merge_rows, resolve_range, row_runs, write_dense, write_sparse

# Below this many pixels a single image stays on one thread (the parallel region costs more).
MIN_PIXELS = 1 << 18


@njit(cache=True, nogil=True)
def _strip_runs(img, ext, runs, parent, row_lo, row_hi, r0, r1, base):
    """Pass 1 of rows [r0, r1) into the region starting at run index ``base``."""
    width = img.shape[1]
    n = base
    for r in range(r0, r1):
        row_lo[r] = n
        n = row_runs(img[r], width, runs, 2 * n) >> 1
        row_hi[r] = n
        for i in range(row_lo[r], n):
            parent[i] = i
        if r > r0:
            merge_rows(runs, parent, row_lo[r - 1], row_hi[r - 1], row_lo[r], n, ext)


@njit(cache=True, nogil=True)
def _merge_seam(runs, parent, i, prev_hi, k, hi, ext):
    """Union touching runs of two rows when both already belong to trees (the smaller root wins).

    An interval sweep: two runs touch when each starts before the other ends
    (``ext`` widens the ends for 8-connectivity); the run that ends first can
    touch nothing further in the other row, so it is the one to advance.
    """
    while i < prev_hi and k < hi:
        if runs[2 * i] < runs[2 * k + 1] + ext and runs[2 * k] < runs[2 * i + 1] + ext:
            a = find(parent, i)
            b = find(parent, k)
            if a < b:
                parent[b] = a
            elif b < a:
                parent[a] = b
        if runs[2 * i + 1] < runs[2 * k + 1]:
            i += 1
        else:
            k += 1


@njit(cache=True, nogil=True, parallel=True)
def label_image_strips(img, ext, out, n_strips):
    """Label one (H, W) uint8 image into ``out`` with ``n_strips`` strips in parallel; return N."""
    height, width = img.shape
    if height == 0:
        return 0
    n_strips = max(1, min(n_strips, height))
    row_max = (width + 1) // 2
    # Untouched pages of these buffers cost nothing; each strip writes only its own region.
    runs = np.empty(2 * (height * row_max + n_strips) + 1, np.int32)
    parent = np.empty(height * row_max + n_strips, np.int32)
    row_lo = np.empty(height, np.int32)
    row_hi = np.empty(height, np.int32)
    bounds = np.empty(n_strips + 1, np.int64)
    for s in range(n_strips + 1):
        bounds[s] = s * height // n_strips
    for s in prange(n_strips):
        r0, r1 = bounds[s], bounds[s + 1]
        _strip_runs(img, ext, runs, parent, row_lo, row_hi, r0, r1, r0 * row_max + s)
    for s in range(1, n_strips):
        r = bounds[s]
        _merge_seam(runs, parent, row_lo[r - 1], row_hi[r - 1], row_lo[r], row_hi[r], ext)
    count = 0
    for s in range(n_strips):  # region by region, in index (raster) order
        count = resolve_range(parent, bounds[s] * row_max + s, row_hi[bounds[s + 1] - 1], count)
    for r in prange(height):
        lo, hi = row_lo[r], row_hi[r]
        if (hi - lo) * DENSE > width:
            write_dense(out[r], img[r], width, parent, lo)
        else:
            write_sparse(out[r], width, runs, parent, lo, hi)
    return count
