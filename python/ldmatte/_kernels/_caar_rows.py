"""Row-level steps of the CAAR kernel: U-run extraction with touch flags, and output emission.

Pixel classes: FG ``v >= hi`` (hi = 255 - fg_tol), BG ``v <= lo`` (lo = bg_tol),
U otherwise. ``fg_k`` / ``bg_k`` are the precomputed word constants of
``_bytes.word_all_le`` for the complement (FG) and the value (BG), or
``_bytes.NEVER`` when the tolerance is too large for the word test (then
words go byte by byte).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._bytes import (
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


@njit(cache=True, nogil=True, inline="always")
def _word_non_u(x, fg_k, bg_k):
    """All 8 bytes are FG, or all are BG (a word with no U pixel and no class change)."""
    return word_all_le(~x, fg_k) or word_all_le(x, bg_k)


@njit(cache=True, nogil=True)
def u_runs(row, words, width, lo, hi, fg_k, bg_k, runs, k):
    """Append the runs of U pixels of ``row`` to the interleaved ``runs`` at slot ``k``; return new ``k``.

    ``words`` is the row viewed as uint64 (empty when rows are not 8-byte
    aligned); uniform FG or BG words outside a run are skipped whole.
    """
    state = 0
    for q in range(words.shape[0]):
        if state == 0 and _word_non_u(words[q], fg_k, bg_k):
            continue
        base = q << 3
        for t in range(8):
            b = in_open01(np.int64(row[base + t]), lo, hi)
            runs[k] = base + t
            k += b ^ state
            state = b
    for j in range(words.shape[0] << 3, width):
        b = in_open01(np.int64(row[j]), lo, hi)
        runs[k] = j
        k += b ^ state
        state = b
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
def emit_gap(a_row, o_row, w_in, w_out, j, s, lo, hi, fg_k, bg_k, snap, sruns, sk, sstate, acc):
    """Write the non-U pixels ``[j, s)`` (FG or BG only), track support runs, count statistics.

    ``acc`` receives (raised, lowered, transition before, transition after).
    Whole aligned words that are all FG or all BG are written at once.
    Returns the new (sk, sstate).
    """
    raised = lowered = before = after = 0
    q0 = ((j + 7) >> 3) << 3
    q1 = (s >> 3) << 3
    if w_in.shape[0] == 0:
        q1 = 0
    p = j
    while p < s:
        if p == q0 and p < q1:
            q0 += 8
            x = w_in[p >> 3]
            fg_word = word_all_le(~x, fg_k)
            if fg_word or word_all_le(x, bg_k):
                # FG bytes below 255 / BG bytes above 0 are the changed and transitional ones.
                n = count_nonzero_bytes(~x if fg_word else x)
                before += n
                if snap:
                    w_out[p >> 3] = ALL_FF if fg_word else ZERO64
                    raised += n if fg_word else 0
                    lowered += 0 if fg_word else n
                else:
                    w_out[p >> 3] = x
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
    acc[0] += raised
    acc[1] += lowered
    acc[2] += before
    acc[3] += after
    return sk, sstate
