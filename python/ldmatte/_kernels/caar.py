"""Numba CAAR kernel: run-based, two passes over the image, bit-identical to the reference.

Pass 1 labels the uncertain region U run by run. A U run's own row ends are
non-U by construction, so its FG/BG contacts come from those two pixels plus
the spans of the rows above and below (widened by one for 8-connectivity,
clipped at the frame, which counts as neither). Flags are OR-ed per component
once the union-find is resolved, which fixes each component's class.

Pass 2 writes every output pixel once (FG/BG snapped or copied, U runs by
class), counts the statistics on the way, and extracts the runs of the
support ``{out > bg_tol}``, labelling them with the same union-find for the
subject rule. Only runs of removed islands are visited again.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..reference.caar import STAT_FIELDS
from ._bytes import word_constant
from ._caar_rows import BAND, FLOATING, INTERIOR, ISOLATED, emit_gap, row_words, run_flags, u_runs
from ._threads import run_batch
from ._runs import grow, initial_runs, merge_rows, resolve_labels

(RAISED, LOWERED, N_BAND, N_INTERIOR, N_FLOATING, N_ISOLATED, ISLANDS, ISLAND_PX,
 T_BEFORE, T_AFTER, UNCERTAIN, UNCERTAIN_KEPT) = range(len(STAT_FIELDS))


@njit(cache=True, nogil=True)
def _label_u(img, lo, hi, fg_k, bg_k, ext, row_ptr):
    """Pass 1: U runs and their classes. Returns (runs, run classes, n_runs, per-class component counts)."""
    height, width = img.shape
    cap = initial_runs(height, width)
    runs = np.empty(2 * cap + 1, np.int32)
    parent = np.empty(cap, np.int32)
    flags = np.empty(cap, np.uint8)
    row_max = (width + 1) // 2
    n = 0
    for r in range(height):
        row = img[r]
        row_ptr[r] = n
        runs = grow(runs, 2 * (n + row_max) + 1)
        parent = grow(parent, n + row_max)
        flags = grow(flags, n + row_max)
        head, n_words = row_words(row, row)
        words = row[head : head + 8 * n_words].view(np.uint64)
        n_new = u_runs(row, head, words, lo, hi, fg_k, bg_k, runs, 2 * n) >> 1
        for i in range(n, n_new):
            parent[i] = i
            flags[i] = run_flags(img, r, runs[2 * i], runs[2 * i + 1], ext, lo, hi)
        if r > 0:
            merge_rows(runs, parent, row_ptr[r - 1], n, n, n_new, ext)
        n = n_new
    row_ptr[height] = n
    n_comp = resolve_labels(parent, n)
    comp = np.zeros(n_comp + 1, np.uint8)
    for i in range(n):
        comp[parent[i]] |= flags[i]
    counts = np.zeros(4, np.int64)
    for c in range(1, n_comp + 1):
        counts[comp[c]] += 1
    for i in range(n):
        flags[i] = comp[parent[i]]
    return runs, flags, n, counts


@njit(cache=True, nogil=True, inline="always")
def _write_u_run(a_row, o_row, s, e, c, fill, acc):
    """Write the U run ``[s, e)`` by its class; return 1 if it stays in the support, else 0."""
    acc[2] += e - s  # every U pixel is transitional in the input
    if c == FLOATING:
        o_row[s:e] = 0
        acc[1] += e - s
        return 0
    if c == INTERIOR and fill:
        o_row[s:e] = 255
        acc[0] += e - s
        return 1
    o_row[s:e] = a_row[s:e]
    acc[3] += e - s
    acc[4] += e - s
    return 1


@njit(cache=True, nogil=True)
def _emit_row(a_row, o_row, runs, cls, lo_run, hi_run, classes, snap, fill, sruns, sk, acc):
    """Write one output row: gaps (FG/BG) and U runs in turn; append its support runs at slot ``sk``."""
    lo, hi, fg_k, bg_k = classes
    width = a_row.shape[0]
    head, n_words = row_words(a_row, o_row)
    w_in = a_row[head : head + 8 * n_words].view(np.uint64)
    w_out = o_row[head : head + 8 * n_words].view(np.uint64)
    sstate = 0
    j = 0
    for i in range(lo_run, hi_run):
        s = runs[2 * i]
        e = runs[2 * i + 1]
        sk, sstate = emit_gap(a_row, o_row, head, w_in, w_out, j, s, lo, hi, fg_k, bg_k, snap, sruns, sk, sstate, acc)
        b = _write_u_run(a_row, o_row, s, e, cls[i], fill, acc)
        sruns[sk] = s
        sk += b ^ sstate
        sstate = b
        j = e
    sk, sstate = emit_gap(a_row, o_row, head, w_in, w_out, j, width, lo, hi, fg_k, bg_k, snap, sruns, sk, sstate, acc)
    if sstate:
        sruns[sk] = width
        sk += 1
    return sk


@njit(cache=True, nogil=True)
def _emit(img, out, classes, ext, snap, fill, subject, runs, cls, row_ptr, srow, acc):
    """Pass 2: write the output, count, and extract (and label, if ``subject``) the support runs.

    ``classes`` is (lo, hi, fg_k, bg_k); ``acc`` collects raised, lowered,
    transition before, transition after and U kept. Returns (support runs,
    their union-find parents, number of support runs).
    """
    height, width = img.shape
    cap = initial_runs(height, width)
    sruns = np.empty(2 * cap + 1, np.int32)
    sparent = np.empty(cap if subject else 0, np.int32)
    row_max = (width + 1) // 2
    ns = 0
    for r in range(height):
        sruns = grow(sruns, 2 * (ns + row_max) + 1)
        srow[r] = ns
        sk = _emit_row(img[r], out[r], runs, cls, row_ptr[r], row_ptr[r + 1], classes, snap, fill, sruns, 2 * ns, acc)
        n_new = sk >> 1
        if subject:
            sparent = grow(sparent, n_new)
            for i in range(ns, n_new):
                sparent[i] = i
            if r > 0:
                merge_rows(sruns, sparent, srow[r - 1], ns, ns, n_new, ext)
        ns = n_new
    srow[height] = ns
    return sruns, sparent, ns


@njit(cache=True, nogil=True)
def _drop_run(a_row, o_row, s, e, lo, hi, acc):
    """Set an island run to 0, undoing the statistics its pixels added in pass 2."""
    for p in range(s, e):
        vo = np.int64(o_row[p])
        va = np.int64(a_row[p])
        acc[0] -= 1 if vo > va else 0
        acc[1] += (1 if va > 0 else 0) - (1 if vo < va else 0)
        acc[3] -= 1 if 0 < vo < 255 else 0
        acc[4] -= 1 if (lo < va < hi and vo == va) else 0
        o_row[p] = 0


@njit(cache=True, nogil=True)
def _subject_rule(img, out, lo, hi, msf, sruns, sparent, srow, ns, acc):
    """Remove support components smaller than ``msf`` times the largest; return (islands, pixels)."""
    n_comp = resolve_labels(sparent, ns)
    if n_comp <= 1:
        return 0, 0
    area = np.zeros(n_comp + 1, np.int64)
    for i in range(ns):
        area[sparent[i]] += sruns[2 * i + 1] - sruns[2 * i]
    threshold = msf * area.max()  # float64, as numpy compares int64 areas with a float product
    drop = np.zeros(n_comp + 1, np.bool_)
    islands = pixels = 0
    for c in range(1, n_comp + 1):
        if not area[c] >= threshold:
            drop[c] = True
            islands += 1
            pixels += area[c]
    if islands:
        for r in range(img.shape[0]):
            for i in range(srow[r], srow[r + 1]):
                if drop[sparent[i]]:
                    _drop_run(img[r], out[r], sruns[2 * i], sruns[2 * i + 1], lo, hi, acc)
    return islands, pixels


@njit(cache=True, nogil=True)
def refine_image(img, out, stats, bg_tol, fg_tol, ext, snap, fill, msf):
    """Refine one (H, W) alpha into ``out`` (fully written) and fill its ``stats`` row."""
    height, width = img.shape
    lo = np.int64(bg_tol)
    hi = np.int64(255 - fg_tol)
    fg_k = word_constant(fg_tol)
    bg_k = word_constant(bg_tol)
    row_ptr = np.empty(height + 1, np.int32)
    runs, cls, n_u, counts = _label_u(img, lo, hi, fg_k, bg_k, ext, row_ptr)
    subject = msf >= 0.0
    srow = np.empty(height + 1, np.int32)
    acc = np.zeros(5, np.int64)
    sruns, sparent, ns = _emit(img, out, (lo, hi, fg_k, bg_k), ext, snap, fill, subject, runs, cls, row_ptr, srow, acc)
    islands = pixels = 0
    if subject:
        islands, pixels = _subject_rule(img, out, lo, hi, msf, sruns, sparent, srow, ns, acc)
    stats[RAISED] = acc[0]
    stats[LOWERED] = acc[1]
    stats[N_BAND] = counts[BAND]
    stats[N_INTERIOR] = counts[INTERIOR]
    stats[N_FLOATING] = counts[FLOATING]
    stats[N_ISOLATED] = counts[ISOLATED]
    stats[ISLANDS] = islands
    stats[ISLAND_PX] = pixels
    stats[T_BEFORE] = acc[2]
    stats[T_AFTER] = acc[3]
    stats[UNCERTAIN] = 0
    for i in range(n_u):
        stats[UNCERTAIN] += runs[2 * i + 1] - runs[2 * i]
    stats[UNCERTAIN_KEPT] = acc[4]


@njit(cache=True, nogil=True)
def _refine_run(stack, out, stats, bg_tol, fg_tol, ext, snap, fill, msf):
    for b in range(stack.shape[0]):
        refine_image(stack[b], out[b], stats[b], bg_tol, fg_tol, ext, snap, fill, msf)


def kernel_args(fg_tol, bg_tol, connectivity, snap, fill_interior, min_subject_fraction) -> tuple:
    """The public parameters as ``refine_image`` takes them (after its three arrays)."""
    return (int(bg_tol), int(fg_tol), 1 if connectivity == 8 else 0, bool(snap), bool(fill_interior),
            float(min_subject_fraction))


def refine_alpha_batch(stack, fg_tol, bg_tol, connectivity, snap, fill_interior, min_subject_fraction):
    """Refine a (B, H, W) uint8 stack; return (uint8 (B, H, W), int64 stats (B, len(STAT_FIELDS))).

    ``min_subject_fraction < 0`` turns the subject rule off. Images run in
    parallel on Numba's thread count of threads (``_threads.run_batch``).
    """
    out = np.empty(stack.shape, np.uint8)
    stats = np.zeros((stack.shape[0], len(STAT_FIELDS)), np.int64)
    args = kernel_args(fg_tol, bg_tol, connectivity, snap, fill_interior, min_subject_fraction)
    pixels = stack.shape[1] * stack.shape[2]
    run_batch(stack.shape[0], pixels, lambda slot, lo, hi: _refine_run(stack[lo:hi], out[lo:hi], stats[lo:hi], *args))
    return out, stats
