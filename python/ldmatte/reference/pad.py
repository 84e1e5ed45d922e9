"""LayerDiffuse RGB padding (the alpha pyramid) written with OpenCV resizes."""
from __future__ import annotations

import cv2
import numpy as np


def _pad_one(rgba: np.ndarray) -> np.ndarray:
    color = rgba[:, :, :3] * rgba[:, :, 3:4]
    alpha = np.ascontiguousarray(rgba[:, :, 3:4])
    pyramid = []
    while True:
        pyramid.append((color, alpha))
        h, w = alpha.shape[:2]
        if min(h, w) <= 1:
            break
        size = (int(w / 1.2), int(h / 1.2))
        color = cv2.resize(color, size, interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)[:, :, None]
    top_c, top_a = pyramid[-1]
    fill = top_c.sum(axis=(0, 1), keepdims=True) / np.clip(top_a.sum(axis=(0, 1), keepdims=True), 1e-8, 1e32)
    for color, alpha in reversed(pyramid):
        h, w = alpha.shape[:2]
        fill = cv2.resize(fill, (w, h), interpolation=cv2.INTER_LINEAR)
        if fill.ndim == 2:  # OpenCV drops a trailing axis of size 1 only for 1-channel images
            fill = fill[:, :, None]
        fill = color + fill * (1.0 - alpha)
    return fill


def pad_rgb_reference(rgba: np.ndarray, out_dtype=np.uint8) -> np.ndarray:
    """Pad the colour of (H, W, 4) or (B, H, W, 4) RGBA where alpha is low.

    Input uint8 (0..255) or float32 in [0, 1]. Returns RGB (..., 3): float32 in
    [0, 1] for ``out_dtype=np.float32``, or uint8 as ``(x * 255).clip(0, 255)``
    truncated, which is what LayerDiffuse writes.
    """
    rgba = np.asarray(rgba)
    f = rgba.astype(np.float32) / 255.0 if rgba.dtype == np.uint8 else rgba.astype(np.float32)
    batched = f.ndim == 4
    stack = f if batched else f[None]
    out = np.stack([_pad_one(np.ascontiguousarray(x)) for x in stack]) if len(stack) else np.zeros(stack.shape[:-1] + (3,), np.float32)
    if np.dtype(out_dtype) == np.uint8:
        out = (out * 255.0).clip(0, 255).astype(np.uint8)
    else:
        out = out.astype(np.float32)
    return out if batched else out[0]
