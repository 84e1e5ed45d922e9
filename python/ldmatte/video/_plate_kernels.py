"""Numba kernel of the background plate's fill (private; :mod:`ldmatte.video.background`).

:func:`fill_from`, called for the remembered frames from the most recent on,
gives each pending pixel of a box the colour of the first frame in which it was
clean background, sampled bilinearly along that frame's affine map; only the
pixels still pending are looked at in older frames, and pixels the caller does
not read are never pending. Done with OpenCV, every
remembered frame is warped over the whole box until every pixel is found, and
the pixels behind the subject, clean in no frame, keep that search going
through the whole history (22 warps a 1080p portrait frame, 70 ms).

Sampling follows OpenCV's ``warpAffine`` (``INTER_LINEAR``, ``WARP_INVERSE_MAP``):
coordinates quantised to 1/32 pixel, a pixel clean in a frame only when every
tap with a nonzero weight is clean background there (a constant-0 border
outside the frame), colours rounded. ``BackgroundPlate.plate_reference`` (the
same fill with OpenCV's warps) is what the tests compare it with.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def fill_from(frame, clean, m, ys, xs, n, colour, valid):  # pragma: no cover - compiled
    """Fill the first ``n`` pending pixels (``ys``, ``xs``: box coordinates) that are clean in this frame:
    ``colour`` ((bh, bw, 3) float32) and ``valid`` ((bh, bw) bool). The pixels still pending are moved to the
    front of ``ys`` / ``xs``; returns their count.

    ``frame``: (H, W, 3) uint8; ``clean``: (H, W) uint8, 255 where the frame was clean background; ``m``: (2, 3)
    float64, box pixel -> frame pixel.
    """
    h, w = clean.shape
    left = 0
    for i in range(n):
        y, x = ys[i], xs[i]
        sx = m[0, 0] * x + m[0, 1] * y + m[0, 2]
        sy = m[1, 0] * x + m[1, 1] * y + m[1, 2]
        qx = int(np.floor(sx * 32 + 0.5))
        qy = int(np.floor(sy * 32 + 0.5))
        ix, fx = qx >> 5, qx & 31
        iy, fy = qy >> 5, qy & 31
        ok = True
        for dy in range(2):
            if dy == 1 and fy == 0:
                break
            yy = iy + dy
            for dx in range(2):
                if dx == 1 and fx == 0:
                    break
                xx = ix + dx
                if yy < 0 or yy >= h or xx < 0 or xx >= w or clean[yy, xx] != 255:
                    ok = False
            if not ok:
                break
        if not ok:
            ys[left], xs[left] = y, x
            left += 1
            continue
        wx, wy = fx / 32.0, fy / 32.0
        x1, y1 = min(ix + 1, w - 1), min(iy + 1, h - 1)  # only read with a zero weight when clipped
        for c in range(3):
            top = frame[iy, ix, c] * (1 - wx) + frame[iy, x1, c] * wx
            bottom = frame[y1, ix, c] * (1 - wx) + frame[y1, x1, c] * wx
            colour[y, x, c] = np.float32(np.floor(top * (1 - wy) + bottom * wy + 0.5))
        valid[y, x] = True
    return left


@njit(cache=True, nogil=True)
def colour_distance(frame, colour):  # pragma: no cover - compiled
    """The largest absolute channel difference between ``frame`` ((h, w, 3) uint8) and ``colour`` ((h, w, 3)
    float32), float32 (h, w): ``np.abs(frame - colour).max(axis=-1)`` in one pass."""
    h, w = frame.shape[0], frame.shape[1]
    out = np.empty((h, w), np.float32)
    for y in range(h):
        for x in range(w):
            d = np.float32(0)
            for c in range(3):
                v = abs(np.float32(frame[y, x, c]) - colour[y, x, c])
                if v > d:
                    d = v
            out[y, x] = d
    return out
