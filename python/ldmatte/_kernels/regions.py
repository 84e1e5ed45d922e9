"""Numba kernel of :func:`ldmatte.regions.component_stats`: area, bbox and frame contact in one pass."""
from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True)
def component_stats_image(labels, n, area, bbox, frame):
    """One raster pass: area and bbox; then the frame pixels only, for frame contact."""
    height, width = labels.shape
    for k in range(n):
        bbox[k, 0] = height
        bbox[k, 1] = width
    for r in range(height):
        row = labels[r]
        for c in range(width):
            k = row[c] - 1
            if k < 0:
                continue
            if area[k] == 0:
                bbox[k, 0] = r  # raster order: the first pixel seen has the smallest row
            area[k] += 1
            bbox[k, 2] = r + 1  # ... and the last one the largest
            if c < bbox[k, 1]:
                bbox[k, 1] = c
            if c >= bbox[k, 3]:
                bbox[k, 3] = c + 1
    for k in range(n):
        if area[k] == 0:
            bbox[k, 0] = 0
            bbox[k, 1] = 0
    for c in range(width):
        for r in (0, height - 1):
            if height > 0 and labels[r, c] > 0:
                frame[labels[r, c] - 1] = True
    for r in range(height):
        for c in (0, width - 1):
            if width > 0 and labels[r, c] > 0:
                frame[labels[r, c] - 1] = True
