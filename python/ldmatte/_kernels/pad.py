"""Numba LayerDiffuse padding (placeholder: the OpenCV reference until the kernel lands)."""
from __future__ import annotations

import numpy as np

from ..reference.pad import pad_rgb_reference


def pad_rgb_batch(stack, out_uint8: bool):
    """Pad a (B, H, W, 4) uint8 or float32 stack; return (B, H, W, 3) uint8 or float32."""
    return pad_rgb_reference(stack, np.uint8 if out_uint8 else np.float32)
