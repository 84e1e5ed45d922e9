"""Reference of the last step of :func:`ldmatte.refine`: the refined alpha beside straight or padded colour.

``compose_rgba_reference(rgba, alpha, fill)`` is RGBA whose colour is ``rgba``'s where
``alpha > 0`` and ``fill``'s where ``alpha == 0`` (``rgba``'s everywhere without
``fill``) and whose alpha is ``alpha``. The fused CUDA kernel (csrc/cuda/compose.cu)
is tested against it.
"""
from __future__ import annotations

import numpy as np

__all__ = ["compose_rgba_reference"]


def compose_rgba_reference(rgba: np.ndarray, alpha: np.ndarray, fill: np.ndarray | None = None) -> np.ndarray:
    """(..., H, W, 4) uint8 from rgba (..., H, W, >= 3), alpha (..., H, W) and fill (..., H, W, 3).

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte.reference.compose import compose_rgba_reference
    >>> rgba = np.array([[[10, 20, 30, 99], [40, 50, 60, 99]]], np.uint8)
    >>> alpha = np.array([[0, 7]], np.uint8); fill = np.full((1, 2, 3), 1, np.uint8)
    >>> compose_rgba_reference(rgba, alpha, fill).tolist()
    [[[1, 1, 1, 0], [40, 50, 60, 7]]]
    """
    rgb = np.asarray(rgba)[..., :3]
    if fill is not None:
        rgb = np.where((np.asarray(alpha) > 0)[..., None], rgb, np.asarray(fill))
    return np.concatenate([rgb, np.asarray(alpha)[..., None]], axis=-1).astype(np.uint8)
