"""Numba CAAR kernel (placeholder: the scipy reference until the kernel lands)."""
from __future__ import annotations

from ..reference.caar import refine_alpha_reference


def refine_alpha_batch(stack, fg_tol, bg_tol, connectivity, snap, fill_interior, min_subject_fraction):
    """Refine a (B, H, W) uint8 stack; return (uint8 (B, H, W), int64 stats (B, K))."""
    msf = None if min_subject_fraction < 0 else min_subject_fraction
    return refine_alpha_reference(stack, fg_tol, bg_tol, connectivity, snap, fill_interior, msf)
