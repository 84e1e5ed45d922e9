"""Per-component measurements written plainly with numpy (the reference of ``component_stats``)."""
from __future__ import annotations

import numpy as np


def component_stats_reference(labels: np.ndarray, num: int | None = None):
    """Area, bbox and frame contact of components 1..N of an (H, W) label image.

    Returns (area int64 (N,), bbox int64 (N, 4) as (row0, col0, row1, col1)
    with exclusive ends, touches_frame bool (N,)); N is ``num`` or the largest
    label. A label without pixels has area 0, bbox zeros and no frame contact.
    """
    labels = np.asarray(labels)
    n = int(labels.max()) if num is None and labels.size else (num or 0)
    area = np.zeros(n, np.int64)
    bbox = np.zeros((n, 4), np.int64)
    frame = np.zeros(n, bool)
    h, w = labels.shape
    for k in range(1, n + 1):
        rr, cc = np.nonzero(labels == k)
        area[k - 1] = rr.size
        if rr.size:
            bbox[k - 1] = (rr.min(), cc.min(), rr.max() + 1, cc.max() + 1)
            frame[k - 1] = bool((rr == 0).any() or (rr == h - 1).any() or (cc == 0).any() or (cc == w - 1).any())
    return area, bbox, frame
