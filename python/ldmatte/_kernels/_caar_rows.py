"""Row-level steps of the CAAR kernel: U-run extraction with touch flags, and output emission.

Pixel classes: FG ``v >= hi`` (hi = 255 - fg_tol), BG ``v <= lo`` (lo = bg_tol),
U otherwise. ``fg_k`` / ``bg_k`` are the precomputed word constants of
``_branchfree_bytes.word_all_le`` for the complement (FG) and the value (BG), or
``_branchfree_bytes.NEVER`` when the tolerance is too large for the word test (then
words go byte by byte).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from ._branchfree_bytes import (
    ALL_FF,
    ZERO64,
    byte_class,
    count_nonzero_bytes,
    ge01,
    in_open01,
    word_all_le,
)

# Component classes, as touch flags: bit 0 = touches FG, bit 1 = touches BG.
ISOLATED, INTERIOR, FLOATING, BAND = 0, 1, 2, 3

# Slots of the pass-2 accumulator (int64 vector): the per-pixel counts the output row writers add up.
ACC_RAISED, ACC_LOWERED, ACC_TRANSITION_BEFORE, ACC_TRANSITION_AFTER, ACC_UNCERTAIN_KEPT = range(5)
ACC_SIZE = 5


class PixelClasses(NamedTuple):
    """The thresholds that class a pixel: BG ``v <= lo``, FG ``v >= hi``, U between; and their word constants."""

    lo: int  # bg_tol
    hi: int  # 255 - fg_tol
    fg_k: np.uint64  # word_constant(fg_tol): word_all_le(~x, fg_k) is "all 8 bytes FG"
    bg_k: np.uint64  # word_constant(bg_tol): word_all_le(x, bg_k) is "all 8 bytes BG"


class RowPair(NamedTuple):
    """An input row and its output row, with the aligned uint64 words both share from ``head`` on."""

    a_row: np.ndarray
    o_row: np.ndarray
    head: int
    w_in: np.ndarray
    w_out: np.ndarray


@njit(cache=True, nogil=True, inline="always")
def _word_non_u(x, fg_k, bg_k):
    """All 8 bytes are FG, or all are BG (a word with no U pixel and no class change)."""
    return word_all_le(~x, fg_k) or word_all_le(x, bg_k)


@njit(cache=True, nogil=True)
def row_words(row, other):
    """(head, words): ``row[head:]`` as whole uint64 words starting at an 8-byte-aligned address.

    ``other`` is a second row (the output, or ``row`` itself) that the same
    word positions must fit; when its address is aligned differently no words
    are used.
    """
    width = row.shape[0]
    head = min((-row.ctypes.data) & 7, width)
    n_words = (width - head) >> 3
    if head != min((-other.ctypes.data) & 7, width):
        n_words = 0
    return head, n_words


@njit(cache=True, nogil=True, inline="always")
def _u_bytes(row, j0, j1, lo, hi, runs, k, state):
    for j in range(j0, j1):
        b = in_open01(np.int64(row[j]), lo, hi)
        runs[k] = j
        k += b ^ state
        state = b
    return k, state


@njit(cache=True, nogil=True)
def u_runs(row, head, words, lo, hi, fg_k, bg_k, runs, k):
    """Append the runs of U pixels of ``row`` to the interleaved ``runs`` at slot ``k``; return new ``k``.

    ``words`` views ``row[head:]`` as uint64; uniform FG or BG words outside
    a run are skipped whole, the other bytes go one by one without branches.
    """
    width = row.shape[0]
    k, state = _u_bytes(row, 0, head, lo, hi, runs, k, 0)
    for q in range(words.shape[0]):
        if state == 0 and _word_non_u(words[q], fg_k, bg_k):
            continue
        base = head + (q << 3)
        k, state = _u_bytes(row, base, base + 8, lo, hi, runs, k, state)
    k, state = _u_bytes(row, head + (words.shape[0] << 3), width, lo, hi, runs, k, state)
    if state:
        runs[k] = width
        k += 1
    return k


@njit(cache=True, nogil=True, inline="always")
def _span_flags(row, c0, c1, lo, hi, f):
    for c in range(c0, c1):
        f |= byte_class(np.int64(row[c]), lo, hi)
        if f == 3:
            break
    return f


@njit(cache=True, nogil=True)
def run_flags(img, r, s, e, ext, lo, hi):
    """Touch flags of the U run ``[s, e)`` of row ``r``: its 2 row ends, then the spans above and below.

    The frame adds nothing: spans are clipped to the image.
    """
    height, width = img.shape
    row = img[r]
    f = 0
    if s > 0:
        f |= byte_class(np.int64(row[s - 1]), lo, hi)
    if e < width:
        f |= byte_class(np.int64(row[e]), lo, hi)
    c0 = max(s - ext, 0)
    c1 = min(e + ext, width)
    if r > 0 and f != 3:
        f = _span_flags(img[r - 1], c0, c1, lo, hi, f)
    if r + 1 < height and f != 3:
        f = _span_flags(img[r + 1], c0, c1, lo, hi, f)
    return f


@njit(cache=True, nogil=True)
def emit_gap(rows, j, s, classes, snap, sruns, sk, sstate, acc):
    """Write the non-U pixels ``[j, s)`` (FG or BG only), track support runs, count statistics.

    ``rows`` is a :class:`RowPair`: whole words inside the gap that are all FG
    or all BG are written at once. ``classes`` is a :class:`PixelClasses`.
    Support runs go to ``sruns`` from slot ``sk``, ``sstate`` being 1 inside
    one. ``acc`` receives raised, lowered, transition before and after (its
    ``ACC_*`` slots). Returns the new (sk, sstate).
    """
    a_row, o_row, head, w_in, w_out = rows
    lo, hi, fg_k, bg_k = classes
    raised = lowered = before = after = 0
    q = max(0, (j - head + 7) >> 3)
    q_end = min(w_in.shape[0], (s - head) >> 3)
    next_word = head + 8 * q if q < q_end else s
    p = j
    while p < s:
        if p == next_word:
            x = w_in[q]
            q += 1
            next_word = head + 8 * q if q < q_end else s
            fg_word = word_all_le(~x, fg_k)
            if fg_word or word_all_le(x, bg_k):
                # FG bytes below 255 / BG bytes above 0 are the changed and transitional ones.
                n = count_nonzero_bytes(~x if fg_word else x)
                before += n
                if snap:
                    w_out[q - 1] = ALL_FF if fg_word else ZERO64
                    raised += n if fg_word else 0
                    lowered += 0 if fg_word else n
                else:
                    w_out[q - 1] = x
                    after += n
                b = 1 if fg_word else 0
                sruns[sk] = p
                sk += b ^ sstate
                sstate = b
                p += 8
                continue
        v = np.int64(a_row[p])
        fgb = ge01(v, hi)
        below255 = ((v - 255) >> 63) & 1
        above0 = (v + 255) >> 8
        before += above0 & below255
        if snap:
            o_row[p] = fgb * 255
            raised += fgb & below255
            lowered += (1 - fgb) & above0
        else:
            o_row[p] = v
            after += above0 & below255
        sruns[sk] = p
        sk += fgb ^ sstate
        sstate = fgb
        p += 1
    acc[ACC_RAISED] += raised
    acc[ACC_LOWERED] += lowered
    acc[ACC_TRANSITION_BEFORE] += before
    acc[ACC_TRANSITION_AFTER] += after
    return sk, sstate
