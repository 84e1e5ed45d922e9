"""Connected-component labelling with scipy (the numbering convention of ldmatte)."""
from __future__ import annotations

import numpy as np
from scipy import ndimage


def structure(connectivity: int) -> np.ndarray:
    """3x3 structuring element of 4- or 8-connectivity."""
    if connectivity == 8:
        return np.ones((3, 3), dtype=bool)
    if connectivity == 4:
        return ndimage.generate_binary_structure(2, 1)
    raise ValueError(f"connectivity must be 4 or 8, got {connectivity!r}")


def label_reference(mask: np.ndarray, connectivity: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Label an (H, W) or (B, H, W) mask with ``scipy.ndimage.label``.

    Returns int32 labels (0 background, 1..N per image in raster order of each
    component's first pixel) and an int32 array of N per image (shape (B,) or ()).
    """
    mask = np.asarray(mask)
    batched = mask.ndim == 3
    stack = mask if batched else mask[None]
    labels = np.zeros(stack.shape, dtype=np.int32)
    counts = np.zeros(stack.shape[0], dtype=np.int32)
    st = structure(connectivity)
    for i, m in enumerate(stack):
        if m.size:
            counts[i] = ndimage.label(m != 0, structure=st, output=labels[i])
    return (labels, counts) if batched else (labels[0], counts[0])
