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

Hysteresis (optional, with snapping) then visits the neighbours of the kept
band runs and gives the snapped tolerance pixels among them (faint
``1..bg_tol``, near-opaque ``255-fg_tol..254``) their input value back: its
cost is the band's outline, never another pass over the image.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from .._stats import (
    BAND_COMPONENTS,
    FLOATING_COMPONENTS,
    INTERIOR_COMPONENTS,
    ISLAND_PIXELS_REMOVED,
    ISLANDS_REMOVED,
    ISOLATED_COMPONENTS,
    N_STATS,
    PIXELS_LOWERED,
    PIXELS_RAISED,
    TRANSITION_PIXELS_AFTER,
    TRANSITION_PIXELS_BEFORE,
    UNCERTAIN_PIXELS,
    UNCERTAIN_PIXELS_KEPT,
)
from ._branchfree_bytes import word_constant
from ._caar_rows import (
    ACC_LOWERED,
    ACC_RAISED,
    ACC_SIZE,
    ACC_TRANSITION_AFTER,
    ACC_TRANSITION_BEFORE,
    ACC_UNCERTAIN_KEPT,
    BAND,
    FLOATING,
    INTERIOR,
    ISOLATED,
    PixelClasses,
    RowPair,
    emit_gap,
    row_words,
    run_flags,
    u_runs,
)
from ._threads import run_batch
from ._run_union_find import grow, initial_runs, merge_rows, resolve_labels


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
    acc[ACC_TRANSITION_BEFORE] += e - s  # every U pixel is transitional in the input
    if c == FLOATING:
        o_row[s:e] = 0
        acc[ACC_LOWERED] += e - s
        return 0
    if c == INTERIOR and fill:
        o_row[s:e] = 255
        acc[ACC_RAISED] += e - s
        return 1
    o_row[s:e] = a_row[s:e]
    acc[ACC_TRANSITION_AFTER] += e - s
    acc[ACC_UNCERTAIN_KEPT] += e - s
    return 1


@njit(cache=True, nogil=True)
def _emit_row(a_row, o_row, runs, cls, lo_run, hi_run, classes, snap, fill, sruns, sk, acc):
    """Write one output row: gaps (FG/BG) and U runs in turn; append its support runs at slot ``sk``."""
    width = a_row.shape[0]
    head, n_words = row_words(a_row, o_row)
    w_in = a_row[head : head + 8 * n_words].view(np.uint64)
    w_out = o_row[head : head + 8 * n_words].view(np.uint64)
    rows = RowPair(a_row, o_row, head, w_in, w_out)
    sstate = 0
    j = 0
    for i in range(lo_run, hi_run):
        s = runs[2 * i]
        e = runs[2 * i + 1]
        sk, sstate = emit_gap(rows, j, s, classes, snap, sruns, sk, sstate, acc)
        b = _write_u_run(a_row, o_row, s, e, cls[i], fill, acc)
        sruns[sk] = s
        sk += b ^ sstate
        sstate = b
        j = e
    sk, sstate = emit_gap(rows, j, width, classes, snap, sruns, sk, sstate, acc)
    if sstate:
        sruns[sk] = width
        sk += 1
    return sk


@njit(cache=True, nogil=True)
def _emit(img, out, classes, ext, snap, fill, subject, runs, cls, row_ptr, srow, acc):
    """Pass 2: write the output, count, and extract (and label, if ``subject``) the support runs.

    ``classes`` is a :class:`PixelClasses`; ``acc`` collects raised, lowered,
    transition before, transition after and U kept (its ``ACC_*`` slots).
    Returns (support runs, their union-find parents, number of support runs).
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
        acc[ACC_RAISED] -= 1 if vo > va else 0
        acc[ACC_LOWERED] += (1 if va > 0 else 0) - (1 if vo < va else 0)
        acc[ACC_TRANSITION_AFTER] -= 1 if 0 < vo < 255 else 0
        acc[ACC_UNCERTAIN_KEPT] -= 1 if (lo < va < hi and vo == va) else 0
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


@njit(cache=True, nogil=True, inline="always")
def _restore_span(a_row, o_row, c0, c1, lo, hi):
    """Give the snapped tolerance pixels of ``[c0, c1)`` (faint ``1..lo`` at 0, near-opaque ``hi..254`` at 255)
    their input value back. Returns (faint restored, near-opaque restored)."""
    faint = near = 0
    for c in range(c0, c1):  # branch-free, so that the loop vectorises: spans are mostly band pixels
        v = np.int64(a_row[c])
        o = np.int64(o_row[c])
        f = np.int64((1 <= v) & (v <= lo) & (o == 0))
        n = np.int64((hi <= v) & (v <= 254) & (o == 255))
        o_row[c] = o + (v - o) * (f | n)
        faint += f
        near += n
    return faint, near


@njit(cache=True, nogil=True)
def _restore_next_to(img, out, runs, row_ptr, r, q, ext, lo, hi):
    """Restore the tolerance pixels of row ``r`` that touch a kept U run of row ``q`` (r +- 1).

    Only the gaps between row ``r``'s own U runs can hold tolerance pixels, so
    each kept span of row ``q`` is walked gap by gap (both run lists are
    sorted; one pointer into row ``r``'s runs): the cost is the runs plus the
    non-U pixels next to the band, not the band's area. Returns (faint, near-opaque) restored.
    """
    width = img.shape[1]
    a_row, o_row, a_q, o_q = img[r], out[r], img[q], out[q]
    j, j_end = row_ptr[r], row_ptr[r + 1]
    faint = near = 0
    for i in range(row_ptr[q], row_ptr[q + 1]):
        s = runs[2 * i]
        if o_q[s] != a_q[s]:
            continue
        c0 = max(s - ext, 0)
        c1 = min(runs[2 * i + 1] + ext, width)
        while j < j_end and runs[2 * j + 1] <= c0:
            j += 1
        c, k = c0, j
        while c < c1:
            if k < j_end and runs[2 * k] <= c:  # c lies in a U run of row r: jump past it
                c = runs[2 * k + 1]
                k += 1
                continue
            stop = min(c1, runs[2 * k]) if k < j_end else c1
            f, n = _restore_span(a_row, o_row, c, stop, lo, hi)
            faint += f
            near += n
            c = stop
    return faint, near


@njit(cache=True, nogil=True)
def _hysteresis(img, out, runs, row_ptr, ext, lo, hi, acc):
    """Restore the snapped tolerance pixels next to a kept U run (after the subject rule).

    A U run is kept when its first pixel still equals the input: floating
    haze and removed islands are 0 there, filled interiors 255, and U values
    lie strictly between. Kept runs are the band (and, with
    ``fill_interior=False``, the translucent interior). Their neighbours are
    their two row ends and the spans above and below, as in pass 1. A pixel
    is restored once: its output then equals its input.
    """
    height, width = img.shape
    faint = near = 0
    for r in range(height):
        a_row = img[r]
        o_row = out[r]
        for i in range(row_ptr[r], row_ptr[r + 1]):
            s = runs[2 * i]
            e = runs[2 * i + 1]
            if o_row[s] != a_row[s]:
                continue
            f, n = _restore_span(a_row, o_row, max(s - 1, 0), s, lo, hi)  # the row ends
            faint += f
            near += n
            f, n = _restore_span(a_row, o_row, e, min(e + 1, width), lo, hi)
            faint += f
            near += n
        if r > 0:
            f, n = _restore_next_to(img, out, runs, row_ptr, r, r - 1, ext, lo, hi)
            faint += f
            near += n
        if r + 1 < height:
            f, n = _restore_next_to(img, out, runs, row_ptr, r, r + 1, ext, lo, hi)
            faint += f
            near += n
    acc[ACC_LOWERED] -= faint  # pass 2 counted them as lowered / raised
    acc[ACC_RAISED] -= near
    acc[ACC_TRANSITION_AFTER] += faint + near


class CaarSettings(NamedTuple):
    """:class:`ldmatte.RefineParams` as the kernel takes it (a Numba named tuple of scalars)."""

    fg_tol: int
    bg_tol: int
    ext: int  # how far a run's neighbour spans reach past its ends: 1 for 8-connectivity, 0 for 4
    snap: bool
    fill_interior: bool
    subject_rule: bool
    subject_fraction: float  # only read when subject_rule
    hysteresis: bool  # keep the tolerance pixels next to the kept band (only with snap)


def caar_settings(params) -> CaarSettings:
    """The kernel's settings for a :class:`ldmatte.RefineParams`."""
    return CaarSettings(
        params.fg_tol,
        params.bg_tol,
        1 if params.connectivity == 8 else 0,
        params.snap,
        params.fill_interior,
        params.subject_rule,
        params.min_subject_fraction if params.subject_rule else 0.0,
        params.hysteresis,
    )


@njit(cache=True, nogil=True)
def refine_image(img, out, stats, settings):
    """Refine one (H, W) alpha into ``out`` (fully written) and fill its ``stats`` row (``CaarSettings``)."""
    height, width = img.shape
    ext, snap, fill, subject = settings.ext, settings.snap, settings.fill_interior, settings.subject_rule
    lo = np.int64(settings.bg_tol)
    hi = np.int64(255 - settings.fg_tol)
    fg_k = word_constant(settings.fg_tol)
    bg_k = word_constant(settings.bg_tol)
    row_ptr = np.empty(height + 1, np.int32)
    runs, cls, n_u, counts = _label_u(img, lo, hi, fg_k, bg_k, ext, row_ptr)
    srow = np.empty(height + 1, np.int32)
    acc = np.zeros(ACC_SIZE, np.int64)
    classes = PixelClasses(lo, hi, fg_k, bg_k)
    sruns, sparent, ns = _emit(img, out, classes, ext, snap, fill, subject, runs, cls, row_ptr, srow, acc)
    islands = pixels = 0
    if subject:
        islands, pixels = _subject_rule(img, out, lo, hi, settings.subject_fraction, sruns, sparent, srow, ns, acc)
    if settings.hysteresis and snap:
        _hysteresis(img, out, runs, row_ptr, ext, lo, hi, acc)
    stats[PIXELS_RAISED] = acc[ACC_RAISED]
    stats[PIXELS_LOWERED] = acc[ACC_LOWERED]
    stats[BAND_COMPONENTS] = counts[BAND]
    stats[INTERIOR_COMPONENTS] = counts[INTERIOR]
    stats[FLOATING_COMPONENTS] = counts[FLOATING]
    stats[ISOLATED_COMPONENTS] = counts[ISOLATED]
    stats[ISLANDS_REMOVED] = islands
    stats[ISLAND_PIXELS_REMOVED] = pixels
    stats[TRANSITION_PIXELS_BEFORE] = acc[ACC_TRANSITION_BEFORE]
    stats[TRANSITION_PIXELS_AFTER] = acc[ACC_TRANSITION_AFTER]
    stats[UNCERTAIN_PIXELS] = 0
    for i in range(n_u):
        stats[UNCERTAIN_PIXELS] += runs[2 * i + 1] - runs[2 * i]
    stats[UNCERTAIN_PIXELS_KEPT] = acc[ACC_UNCERTAIN_KEPT]


@njit(cache=True, nogil=True)
def _refine_run(stack, out, stats, settings):
    for b in range(stack.shape[0]):
        refine_image(stack[b], out[b], stats[b], settings)


def refine_alpha_batch(stack, params, return_floors: bool = False):
    """Refine a (B, H, W) uint8 stack with a :class:`ldmatte.RefineParams`.

    Returns (uint8 (B, H, W), int64 stats (B, N_STATS)), and each image's
    ``_haze.HazeFloor`` with ``return_floors``. The haze step of
    ``params.haze_floor`` (``ldmatte._haze``) runs first, in Python, around
    the kernel. No validation here (see :func:`ldmatte.refine_alpha`). Images
    run in parallel on Numba's thread count of threads (``_threads.run_batch``).

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte import RefineParams
    >>> out, stats = refine_alpha_batch(np.full((1, 3, 3), 250, np.uint8), RefineParams())
    >>> int(out.min()), int(stats[0, 0])  # every pixel raised to 255
    (255, 9)
    """
    from .._haze import floors_of, refine_with_floors

    floors = floors_of(stack, "numpy", params)
    out, stats = refine_with_floors(stack, "numpy", floors, lambda s: refine_alpha_plain(s, params))
    return (out, stats, floors) if return_floors else (out, stats)


def refine_alpha_plain(stack, params):
    """:func:`refine_alpha_batch` without the haze step: the connectivity rule alone."""
    out = np.empty(stack.shape, np.uint8)
    stats = np.zeros((stack.shape[0], N_STATS), np.int64)
    settings = caar_settings(params)
    pixels = stack.shape[1] * stack.shape[2]
    run_batch(stack.shape[0], pixels, lambda slot, lo, hi: _refine_run(stack[lo:hi], out[lo:hi], stats[lo:hi], settings))
    return out, stats
