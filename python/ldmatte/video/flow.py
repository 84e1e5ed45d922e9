"""Dense optical flow between consecutive frames (OpenCV DIS) and backward warping.

One :class:`FlowTracker` per video computes, for each new frame, the flow from
that frame back to the previous one, once; mask propagation and temporal
stabilisation both use it. The flow is computed on a grey image no larger
than ``max_side`` (large videos are downscaled for the flow, then the field is
resized and rescaled), which keeps it cheap at any resolution.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from .trimaps import distance_outside

__all__ = ["FlowSettings", "FlowTracker", "warp_backward", "Motion", "subject_motion", "background_motion"]

PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
           "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class FlowSettings:
    """DIS preset (``ultrafast``, ``fast``, ``medium``) and the largest side the flow is computed at."""

    preset: str = "medium"
    max_side: int = 640

    def __post_init__(self):
        if self.preset not in PRESETS:
            raise ValueError(f"flow preset must be one of {sorted(PRESETS)}, got {self.preset!r}")
        if isinstance(self.max_side, bool) or not isinstance(self.max_side, int) or self.max_side < 16:
            raise ValueError(f"max_side must be an int >= 16, got {self.max_side!r}")


def warp_backward(image: np.ndarray, flow: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Sample ``image`` (the previous frame's data) at ``x + flow(x)``: it moves onto the current frame.

    ``flow`` is (H, W, 2) float32 in pixels, from the current frame to the
    previous one. Borders are replicated. float32 in gives float32 out. ``interpolation``: an OpenCV flag
    (cubic keeps thin structures sharper; it can overshoot the input's range).

    Examples
    --------
    >>> import numpy as np
    >>> prev = np.zeros((1, 6), np.float32); prev[0, 2] = 1
    >>> flow = np.zeros((1, 6, 2), np.float32); flow[..., 0] = -1  # content moved one pixel right
    >>> warp_backward(prev, flow)[0].tolist()
    [0.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    """
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, gx + flow[..., 0], gy + flow[..., 1], interpolation, borderMode=cv2.BORDER_REPLICATE)


class FlowTracker:
    """Feed frames in order with :meth:`step`; :attr:`flow` is then the flow back to the previous frame.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> tex = (rng.random((64, 80, 3)) * 255).astype(np.uint8)
    >>> import cv2; tex = cv2.GaussianBlur(tex, (0, 0), 2)
    >>> tracker = FlowTracker()
    >>> tracker.step(tex[:, 2:66]); tracker.flow is None
    True
    >>> tracker.step(tex[:, 0:64])  # the content moved 2 px to the right
    >>> round(float(np.median(tracker.flow[16:48, 16:48, 0])))
    -2
    """

    def __init__(self, settings: FlowSettings | None = None):
        self.settings = settings or FlowSettings()
        self._dis = cv2.DISOpticalFlow_create(PRESETS[self.settings.preset])
        self._prev = None
        self.flow: np.ndarray | None = None
        self.index = -1

    def _grey(self, frame: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame
        h, w = grey.shape
        k = self.settings.max_side / max(h, w)
        if k < 1:
            grey = cv2.resize(grey, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
        return grey

    def step(self, frame: np.ndarray) -> None:
        """Take the next frame (RGB uint8); compute the flow from it back to the previous one."""
        grey = self._grey(np.asarray(frame))
        h, w = frame.shape[:2]
        if self._prev is None or self._prev.shape != grey.shape:
            self.flow = None
        else:
            flow = self._dis.calc(grey, self._prev, None)
            if flow.shape[:2] != (h, w):
                sx, sy = w / flow.shape[1], h / flow.shape[0]
                flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)
                flow[..., 0] *= sx
                flow[..., 1] *= sy
            self.flow = flow
        self._prev = grey
        self.index += 1


class Motion:
    """How content moved from the previous frame to the current one: a dense flow, or one affine map.

    ``warp(image)`` brings an image of the previous frame onto the current one
    (backward sampling). An affine map (2 x 3, current -> previous pixel
    coordinates) describes a subject that moves as a whole; a dense flow is
    better inside textured regions but is smoothed across motion boundaries
    (the subject's edge drags part of the background along), so the subject's
    mask and alpha follow the affine map.

    Examples
    --------
    >>> import numpy as np
    >>> prev = np.zeros((1, 6), np.float32); prev[0, 2] = 1
    >>> Motion(affine=np.float32([[1, 0, -1], [0, 1, 0]])).warp(prev)[0].tolist()
    [0.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    """

    def __init__(self, flow: np.ndarray | None = None, affine: np.ndarray | None = None):
        if (flow is None) == (affine is None):
            raise ValueError("give either a dense flow or an affine map")
        self.flow, self.affine = flow, affine

    def warp(self, image: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        """``image`` of the previous frame moved onto the current one (``interpolation``: an OpenCV flag)."""
        if self.flow is not None:
            return warp_backward(image, self.flow, interpolation)
        h, w = image.shape[:2]
        return cv2.warpAffine(image, self.affine, (w, h), flags=interpolation | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)  # fmt: skip


def subject_motion(flow: np.ndarray, mask: np.ndarray, margin: int, max_points: int = 3000,
                   seed: int = 0) -> Motion | None:  # fmt: skip
    """The affine map (current -> previous frame) that best explains the flow inside the subject.

    Flow vectors are taken from the mask's interior, eroded by ``margin`` pixels
    (the edge's flow is unreliable), and fitted robustly (RANSAC, 1 px). None when
    the interior is too small to fit.

    Examples
    --------
    >>> import numpy as np
    >>> flow = np.zeros((40, 40, 2), np.float32); flow[..., 0] = -3  # moved 3 px right
    >>> mask = np.zeros((40, 40), np.uint8); mask[5:35, 5:35] = 255
    >>> np.round(subject_motion(flow, mask, 4).affine, 2).tolist()
    [[1.0, 0.0, -3.0], [0.0, 1.0, 0.0]]
    """
    k = 2 * int(margin) + 1
    inner = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) if margin > 0 else mask
    return _fit_affine(flow, inner > 127, max_points, seed)


def background_motion(flow: np.ndarray, mask: np.ndarray, margin: float, max_points: int = 3000,
                      seed: int = 0, distance: np.ndarray | None = None) -> Motion | None:  # fmt: skip
    """The affine map (current -> previous frame) that best explains the flow of the background.

    Flow vectors are taken farther than ``margin`` pixels from the subject's
    ``mask`` (near the subject the flow is dragged along with it) and fitted
    robustly (RANSAC, 1 px): a camera pan, tilt or zoom, or the identity for a
    still camera. None when too little background is left to fit. ``distance``: the mask's
    :func:`~ldmatte.video.trimaps.distance_outside`, when the caller has it already.

    Examples
    --------
    >>> import numpy as np
    >>> flow = np.zeros((40, 40, 2), np.float32); flow[..., 1] = 2  # the background moved 2 px up
    >>> mask = np.zeros((40, 40), np.uint8); mask[15:25, 15:25] = 255
    >>> (np.round(background_motion(flow, mask, 4).affine, 2) + 0.0).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 2.0]]
    """
    far = (distance if distance is not None else distance_outside(mask)) > margin
    return _fit_affine(flow, far, max_points, seed)


def _fit_affine(flow: np.ndarray, region: np.ndarray, max_points: int, seed: int) -> Motion | None:
    ys, xs = np.nonzero(region)
    if len(xs) < 30:
        return None
    if len(xs) > max_points:
        pick = np.random.default_rng(seed).choice(len(xs), max_points, replace=False)
        ys, xs = ys[pick], xs[pick]
    src = np.stack([xs, ys], axis=1).astype(np.float32)
    dst = src + flow[ys, xs]
    affine, inliers = cv2.estimateAffine2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=1.0)
    if affine is None or inliers is None or inliers.sum() < 20:
        return None
    return Motion(affine=affine.astype(np.float32))
