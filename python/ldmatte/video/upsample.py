"""Matting at a working resolution and the alpha brought back to full size with a guided filter.

Every stage of the video pipeline (flow, masks, trimaps, background plate,
matting, stabilisation) runs on a copy of each frame whose pixel count is at
most ``max_pixels``; only the final alpha is brought to the full resolution,
by the fast guided filter (He and Sun 2015; the way RVM and XMem handle high
resolution): the guided filter's linear coefficients ``alpha ~ A . I + B`` are
fitted on the working-resolution alpha and frame, upsampled bilinearly, and
applied to the full-resolution frame, so the alpha's edge follows the full-size
image's edges instead of a blurred bilinear ramp. Cost at full resolution: a
bilinear resample and a multiply-add, over the bounding box of the band only.

:func:`guided_filter` is the box-filter form (O(1) per pixel in the radius);
:func:`ldmatte.reference.guided_filter.guided_filter_reference` is its plain
per-window definition.
"""
from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np

from ._guided_kernels import apply_upsampled, colour_coefficients

__all__ = ["MAX_PIXELS", "working_shape", "guided_coefficients", "guided_filter", "guided_upsample",
           "WorkingResolution"]

MAX_PIXELS = 960 * 540  # the default working size: 1080p is matted at 960 x 540, 720p and below as they are
RADIUS = 2  # guided filter radius in working-resolution pixels
EPS = 1e-4  # its regulariser (guide in [0, 1]); 1e-3 blurs the edge toward bilinear, below 1e-5 noise shows


def working_shape(height: int, width: int, max_pixels: int | None) -> tuple[int, int]:
    """(h, w) of the working copy: the frame scaled down, aspect kept, to at most ``max_pixels`` pixels.

    ``max_pixels`` None or 0: the full size. Frames already small enough are not scaled.

    Examples
    --------
    >>> working_shape(1080, 1920, 960 * 540), working_shape(720, 1280, 960 * 540), working_shape(480, 720, 960 * 540)
    ((540, 960), (540, 960), (480, 720))
    >>> working_shape(2160, 3840, 0)
    (2160, 3840)
    """
    if isinstance(max_pixels, bool) or (max_pixels is not None and (not isinstance(max_pixels, (int, np.integer))
                                                                    or max_pixels < 0)):  # fmt: skip
        raise ValueError(f"max_pixels must be an int >= 0 (0: full resolution), got {max_pixels!r}")
    if not max_pixels or height * width <= max_pixels:
        return int(height), int(width)
    k = math.sqrt(max_pixels / (height * width))
    h = max(1, round(height * k))
    w = max(1, min(round(width * k), max_pixels // h))  # rounding up may overshoot by a column
    h = max(1, min(h, max_pixels // w))
    return int(h), int(w)


def _box(x: np.ndarray, r: int, count: np.ndarray) -> np.ndarray:
    """Mean over the (2r + 1)² window clipped to the image (``count``: pixels in each clipped window)."""
    s = cv2.boxFilter(x, -1, (2 * r + 1, 2 * r + 1), normalize=False, borderType=cv2.BORDER_CONSTANT)
    return s / count if s.ndim == 2 else s / count[..., None]


def _count(h: int, w: int, r: int) -> np.ndarray:
    ny = np.minimum(np.arange(h) + r, h - 1) - np.maximum(np.arange(h) - r, 0) + 1
    nx = np.minimum(np.arange(w) + r, w - 1) - np.maximum(np.arange(w) - r, 0) + 1
    return np.outer(ny, nx).astype(np.float32)


def _unit(image: np.ndarray) -> np.ndarray:
    x = np.asarray(image)
    return x.astype(np.float32) / 255 if x.dtype == np.uint8 else x.astype(np.float32)


def _check(radius, eps) -> None:
    if isinstance(radius, bool) or not isinstance(radius, (int, np.integer)) or radius < 0 or not eps > 0:
        raise ValueError(f"need an int radius >= 0 and eps > 0, got {radius!r}, {eps!r}")


def guided_coefficients(guide: np.ndarray, src: np.ndarray, radius: int = RADIUS, eps: float = EPS):
    """The guided filter's coefficients, averaged over the windows: ``(A, B)``, the output being ``A . guide + B``.

    ``guide``: (H, W) grey or (H, W, 3) colour, uint8 (scaled to [0, 1]) or float in [0, 1]; ``src``: (H, W),
    uint8 (scaled to [0, 1]) or float. ``A`` is (H, W) for a grey guide, (H, W, 3) for colour; float32.
    """
    g, p = np.asarray(guide), np.asarray(src)
    _check(radius, eps)
    if p.ndim != 2 or g.shape[:2] != p.shape or g.ndim not in (2, 3) or (g.ndim == 3 and g.shape[2] != 3):
        raise ValueError(f"guide must be (H, W) or (H, W, 3) and src (H, W) of the same size, got {g.shape}, "
                         f"{p.shape}")
    if g.ndim == 3:  # the compiled passes take uint8 (as [0, 1]) or float32 as they are
        g, p = (np.ascontiguousarray(x if x.dtype in (np.uint8, np.float32) else x.astype(np.float32)) for x in (g, p))
        return colour_coefficients(g, p, int(radius), float(eps))
    g, p = _unit(g), _unit(p)
    h, w = p.shape
    n = _count(h, w, radius)
    # Centred on their means: the variances below are differences of means, and centring keeps float32's
    # cancellation error far below eps.
    g_mean = g.reshape(h * w, -1).mean(axis=0, dtype=np.float64).astype(np.float32)
    p_mean = np.float32(p.mean(dtype=np.float64))
    g = g - g_mean[0]
    p = p - p_mean
    mean_p = _box(p, radius, n)
    mean_g = _box(g, radius, n)
    var = _box(g * g, radius, n) - mean_g * mean_g
    cov = _box(g * p, radius, n) - mean_g * mean_p
    a = cov / (var + np.float32(eps))
    b = mean_p - a * mean_g
    a_mean = _box(a, radius, n)
    return a_mean, _box(b, radius, n) + p_mean - a_mean * g_mean[0]


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int = RADIUS, eps: float = EPS) -> np.ndarray:
    """The guided filter of ``src`` under ``guide`` (same size), float32; see :func:`guided_coefficients`.

    Examples
    --------
    >>> import numpy as np
    >>> g = np.array([[0, 0, 1, 1]], np.float32)
    >>> np.round(guided_filter(g, g, 1, 1e-6), 3).tolist()  # an edge of the guide is kept
    [[0.0, 0.0, 1.0, 1.0]]
    >>> np.round(guided_filter(np.zeros((1, 4)), g, 1, 1e-6).astype(float), 3).tolist()  # a flat guide: a box blur
    [[0.167, 0.333, 0.667, 0.833]]
    """
    a, b = guided_coefficients(guide, src, radius, eps)
    g = _unit(guide)
    return (a * g if a.ndim == 2 else (a * g).sum(axis=-1)) + b


def guided_upsample(alpha: np.ndarray, guide: np.ndarray, full_guide: np.ndarray, radius: int = RADIUS,
                    eps: float = EPS) -> np.ndarray:  # fmt: skip
    """``alpha`` (uint8, the size of ``guide``) brought to the size of ``full_guide`` by the fast guided filter.

    The coefficients are fitted on (``guide``, ``alpha``) with ``radius`` (pixels of ``alpha``) and ``eps``,
    resampled bilinearly to the full size and applied to ``full_guide`` (the same image at full size, grey or
    RGB like ``guide``). Only the bounding box of the alpha's edges and band is filtered; regions of one value
    keep it exactly. uint8 (H, W) out.

    Examples
    --------
    >>> import numpy as np
    >>> full = np.zeros((8, 8), np.uint8); full[:, 3:] = 255  # an edge between two pixels of the half size
    >>> small = cv2.resize(full, (4, 4), interpolation=cv2.INTER_AREA)
    >>> small[0].tolist(), guided_upsample(small, small, full, radius=1, eps=1e-4)[0].tolist()
    ([0, 128, 255, 255], [0, 0, 0, 255, 255, 255, 255, 255])
    """
    alpha, guide, full_guide = np.asarray(alpha), np.asarray(guide), np.asarray(full_guide)
    if alpha.dtype != np.uint8 or alpha.ndim != 2 or guide.shape[:2] != alpha.shape:
        raise ValueError(f"alpha must be (H, W) uint8 the size of the guide, got {alpha.shape} {alpha.dtype}, "
                         f"guide {guide.shape}")
    if full_guide.ndim != guide.ndim or full_guide.shape[2:] != guide.shape[2:]:
        raise ValueError(f"full_guide must be the guide at full size, got {full_guide.shape} for {guide.shape}")
    h, w = alpha.shape
    fh, fw = full_guide.shape[:2]
    if (fh, fw) == (h, w):
        return alpha.copy()
    out = cv2.resize(alpha, (fw, fh), interpolation=cv2.INTER_NEAREST)
    # Where the alpha is one value over every window that reaches a pixel, the filter gives that value back:
    # only the boxes around edges and the band need the filter.
    k = 4 * radius + 3
    square = np.ones((k, k), np.uint8)
    varies = cv2.dilate(alpha, square) != cv2.erode(alpha, square)
    ys, xs = np.nonzero(varies.any(axis=1))[0], np.nonzero(varies.any(axis=0))[0]
    if len(ys) == 0:
        return out
    # The crop keeps a margin so that the windows near its border see what they would see in the whole image.
    m = 2 * radius + 2
    y0, y1, x0, x1 = max(0, ys[0] - m), min(h, ys[-1] + 1 + m), max(0, xs[0] - m), min(w, xs[-1] + 1 + m)
    a, b = guided_coefficients(guide[y0:y1, x0:x1], alpha[y0:y1, x0:x1], radius, eps)
    sy, sx = fh / h, fw / w
    fy0, fy1 = int(math.floor(ys[0] * sy)), min(fh, int(math.ceil((ys[-1] + 1) * sy)))
    fx0, fx1 = int(math.floor(xs[0] * sx)), min(fw, int(math.ceil((xs[-1] + 1) * sx)))
    box = full_guide[fy0:fy1, fx0:fx1]
    unit = np.float32(1 / 255) if box.dtype == np.uint8 else np.float32(1)
    box = box if box.dtype == np.uint8 else box.astype(np.float32)
    apply_upsampled(a.reshape(a.shape[0], a.shape[1], -1), b, np.ascontiguousarray(varies[y0:y1, x0:x1]),
                    box.reshape(box.shape[0], box.shape[1], -1), unit, out, fy0, fx0, float(sy), float(sx), y0, x0)
    return out


@dataclasses.dataclass(frozen=True)
class WorkingResolution:
    """The working size of a video's frames (at most ``max_pixels``) and the way between it and the full size.

    Examples
    --------
    >>> import numpy as np
    >>> work = WorkingResolution(1080, 1920, 960 * 540)
    >>> work.shape, work.active, work.length(32)
    ((540, 960), True, 16)
    >>> frame = np.zeros((1080, 1920, 3), np.uint8)
    >>> small = work.shrink(frame); small.shape
    (540, 960, 3)
    >>> work.enlarge(np.zeros((540, 960), np.uint8), frame, small).shape
    (1080, 1920)
    """

    height: int
    width: int
    max_pixels: int | None = MAX_PIXELS
    radius: int = RADIUS
    eps: float = EPS

    @property
    def shape(self) -> tuple[int, int]:
        """(h, w) of the working copy."""
        return working_shape(self.height, self.width, self.max_pixels)

    @property
    def active(self) -> bool:
        """Whether frames are scaled at all."""
        return self.shape != (self.height, self.width)

    @property
    def scale(self) -> float:
        """Working size over full size (1 when inactive)."""
        return math.sqrt(self.shape[0] * self.shape[1] / (self.height * self.width))

    def length(self, pixels: int) -> int:
        """A length in full-size pixels in working pixels (rounded, at least 1 when ``pixels`` is)."""
        return int(pixels) if not self.active or not pixels else max(1, int(round(pixels * self.scale)))

    def shrink(self, image: np.ndarray) -> np.ndarray:
        """The working copy of a full-size frame or alpha (area averaging); the image itself when inactive."""
        if not self.active or image.shape[:2] != (self.height, self.width):
            return image
        h, w = self.shape
        return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)

    def enlarge(self, alpha: np.ndarray, full_frame: np.ndarray, frame: np.ndarray) -> np.ndarray:
        """A working-size alpha at full size, guided by the full-size frame (``frame``: its working copy)."""
        if not self.active or alpha.shape == full_frame.shape[:2]:
            return alpha
        return guided_upsample(alpha, frame, full_frame, self.radius, self.eps)
