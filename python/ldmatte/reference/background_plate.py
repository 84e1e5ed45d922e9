"""The background plate's fill with OpenCV's warps (the reference of ``video._plate_kernels.fill_plate``).

Each remembered frame, most recent first, is warped over the whole box
(``INTER_LINEAR``, ``WARP_INVERSE_MAP``): its clean-background mask with a
constant-0 border (a pixel is clean there when the warped mask is 255: every tap
clean) and its colour; a pixel takes the first frame in which it is clean.
"""
from __future__ import annotations

import cv2
import numpy as np


def plate_reference(plate, index: int, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The plate of frame ``index`` of a :class:`~ldmatte.video.background.BackgroundPlate` over ``box``
    (y0, y1, x0, x1, inside the frame): colour (bh, bw, 3) float32 and valid (bh, bw) bool."""
    y0, y1, x0, x1 = box
    size = (x1 - x0, y1 - y0)
    colour = np.zeros((y1 - y0, x1 - x0, 3), np.float32)
    valid = np.zeros((y1 - y0, x1 - x0), bool)
    for frame, clean, m in plate.sources(index, x0, y0):
        seen = cv2.warpAffine(clean, m, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0) == 255  # fmt: skip
        new = seen & ~valid
        if new.any():
            warped = cv2.warpAffine(frame, m, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                    borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
            colour[new] = warped[new]
            valid |= new
    return colour, valid
