"""Numba connected-component labelling (placeholder: scipy until the kernel lands)."""
from __future__ import annotations

import numpy as np

from ..reference.label import label_reference


def label_batch(stack: np.ndarray, connectivity: int):
    """Label a (B, H, W) uint8 0/1 stack; return (int32 labels, int32 counts (B,))."""
    return label_reference(stack, connectivity)
