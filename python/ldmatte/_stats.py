"""The per-image statistics of the alpha refinement: their names and their order.

This module *is* the contract. The Numba kernels fill an int64 vector in this
order (indexed by the constants below), the CUDA kernels fill the same vector
(their order is ``csrc/stat_fields.h``; the native module exposes it as
``stat_fields()`` and a test compares the two), :class:`ldmatte.RefineReport`
reads it by these names, and the plain references write it the same way.

Examples
--------
>>> from ldmatte._stats import STAT_FIELDS, N_STATS, PIXELS_RAISED
>>> N_STATS, STAT_FIELDS[PIXELS_RAISED]
(12, 'pixels_raised')
"""
from __future__ import annotations

STAT_FIELDS = (
    "pixels_raised",  # output > input
    "pixels_lowered",  # output < input
    "band_components",  # U components touching FG and BG (kept)
    "interior_components",  # touching FG only (raised to 255)
    "floating_components",  # touching BG only (lowered to 0)
    "isolated_components",  # touching neither (kept, reported)
    "islands_removed",  # support components removed by the subject rule
    "island_pixels_removed",  # their pixels
    "transition_pixels_before",  # 0 < input < 255
    "transition_pixels_after",  # 0 < output < 255
    "uncertain_pixels",  # |U|: bg_tol < input < 255 - fg_tol
    "uncertain_pixels_kept",  # U pixels of kept components (band, isolated; interior if not filled) not removed
)
N_STATS = len(STAT_FIELDS)

# Indices into the vector, as plain ints (Numba compiles them in as constants).
(
    PIXELS_RAISED,
    PIXELS_LOWERED,
    BAND_COMPONENTS,
    INTERIOR_COMPONENTS,
    FLOATING_COMPONENTS,
    ISOLATED_COMPONENTS,
    ISLANDS_REMOVED,
    ISLAND_PIXELS_REMOVED,
    TRANSITION_PIXELS_BEFORE,
    TRANSITION_PIXELS_AFTER,
    UNCERTAIN_PIXELS,
    UNCERTAIN_PIXELS_KEPT,
) = range(N_STATS)

__all__ = ["STAT_FIELDS", "N_STATS"] + [name.upper() for name in STAT_FIELDS]
