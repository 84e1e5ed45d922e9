"""Branch-free byte classes and 8-byte-word (SWAR) tests for the CAAR kernel.

Numba lowers ``int(a < b)`` to a branch, which mispredicts on noisy alpha; the
helpers here use sign bits of int64 differences instead. The word tests
classify 8 pixels at once so uniform stretches (clear background, opaque
core) cost one comparison per word.

Word tests are exact for thresholds ``n <= 127`` (bit-twiddling "hasmore":
a carry out of a byte only happens when some byte is >= 128 > n, and that byte
already sets its own high bit).
"""
from __future__ import annotations

import numpy as np
from numba import njit

ONES8 = np.uint64(0x0101010101010101)
LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)
HIGH8 = np.uint64(0x8080808080808080)
ALL_FF = np.uint64(0xFFFFFFFFFFFFFFFF)
ZERO64 = np.uint64(0)
SEVEN = np.uint64(7)
# word_all_le(x, NEVER) is always False (it reads as "all bytes <= -1").
NEVER = HIGH8
FIFTY_SIX = np.uint64(56)


@njit(cache=True, nogil=True, inline="always")
def ge01(v, t):
    """1 if ``v >= t`` else 0 (int64 arguments, no branch)."""
    return ((v - t) >> 63) + 1


@njit(cache=True, nogil=True, inline="always")
def le01(v, t):
    """1 if ``v <= t`` else 0."""
    return ((t - v) >> 63) + 1


@njit(cache=True, nogil=True, inline="always")
def in_open01(v, lo, hi):
    """1 if ``lo < v < hi`` else 0 (both sign bits must be clear)."""
    return (((v - lo - 1) | (hi - 1 - v)) >> 63) + 1


@njit(cache=True, nogil=True, inline="always")
def byte_class(v, lo, hi):
    """Touch flags of a pixel value: 1 for FG (``v >= hi``), 2 for BG (``v <= lo``), 0 for U."""
    return ge01(v, hi) | (le01(v, lo) << 1)


@njit(cache=True, nogil=True, inline="always")
def word_all_le(x, n_ones):
    """All 8 bytes of ``x`` are <= n, with ``n_ones = ONES8 * (127 - n)`` precomputed (0 <= n <= 127)."""
    return (((x + n_ones) | x) & HIGH8) == ZERO64


@njit(cache=True, nogil=True)
def word_constant(n):
    """The ``n_ones`` argument of :func:`word_all_le` for threshold ``n``, or NEVER past 127."""
    if 0 <= n <= 127:
        return ONES8 * np.uint64(127 - n)
    return NEVER


@njit(cache=True, nogil=True, inline="always")
def count_nonzero_bytes(x):
    """Number of nonzero bytes of ``x`` (0..8)."""
    hi = (((x & LOW7) + LOW7) | x) & HIGH8
    return np.int64(((hi >> SEVEN) * ONES8) >> FIFTY_SIX)
