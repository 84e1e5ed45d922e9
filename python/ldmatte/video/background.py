"""A clean background plate remembered from earlier frames, and trimaps corrected with it.

Behind a moving subject the background shows up frame by frame. Where a pixel
was clean background (alpha 0) in a recent frame, that frame, moved along the
background's own motion (:func:`~ldmatte.video.flow.background_motion`: a still
camera, a pan, a zoom), tells what the background looks like behind the
subject's edge now. :func:`plate_trimap` uses it twice (the idea of background
matting: a known background makes alpha far easier to find):

- an unknown-band pixel outside the mask that matches the plate (with its
  neighbours) is background: the matting gets more known pixels right next to
  the hair, where closed-form matting otherwise smears the background's texture
  into alpha;
- a known-background pixel near the subject that does not match the plate holds
  something that is not background: a hair strand too thin to survive in a binary
  mask. It joins the unknown band, so the matting gives it its alpha.

Tolerances scale with the noise measured where the plate meets known background
(the median difference there), so a compressed or noisy video gets wider ones.
Each plate pixel is sampled once, from the most recent frame in which it was
clean background, so repeated resampling does not blur the plate (a compiled
pixel-by-pixel fill, :mod:`ldmatte.video._plate_kernels`; its reference with
OpenCV's warps is :func:`ldmatte.reference.background_plate.plate_reference`).
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from ._plate_kernels import colour_distance, fill_from
from .flow import Motion

__all__ = ["BackgroundSettings", "BackgroundPlate", "plate_trimap"]

_SQUARE3 = np.ones((3, 3), np.uint8)
MIN_NOISE_PIXELS = 16  # known background pixels under the plate needed to measure the noise


@dataclasses.dataclass(frozen=True)
class BackgroundSettings:
    """How the background plate is kept and used.

    ``history``: frames remembered (0 turns the plate off). A pixel is background when it differs from the
    plate by less than ``max(min_clean, clean * noise)`` (0..255, the largest channel difference, it and its
    8 neighbours) and something else when it differs by more than ``max(min_detect, detect * noise)``;
    ``noise`` is the median difference between the frame and the plate over known background.
    """

    history: int = 16
    clean: float = 5.0
    detect: float = 12.0
    min_clean: float = 2.0
    min_detect: float = 6.0

    def __post_init__(self):
        if isinstance(self.history, bool) or not isinstance(self.history, (int, np.integer)) or self.history < 0:
            raise ValueError(f"history must be an int >= 0 (frames), got {self.history!r}")
        if not 0 < self.clean <= self.detect or not 0 < self.min_clean <= self.min_detect:
            raise ValueError("need 0 < clean <= detect and 0 < min_clean <= min_detect")

    def tolerances(self, noise: float) -> tuple[float, float]:
        """(clean, detect) tolerances for a measured noise level.

        Examples
        --------
        >>> BackgroundSettings().tolerances(0.5), BackgroundSettings().tolerances(2.0)
        ((2.5, 6.0), (10.0, 24.0))
        """
        return max(self.min_clean, self.clean * noise), max(self.min_detect, self.detect * noise)


def _h(affine: np.ndarray) -> np.ndarray:
    return np.vstack([np.asarray(affine, np.float64), [0.0, 0.0, 1.0]])


class BackgroundPlate:
    """The clean background of recent frames, brought onto any later frame along the background's motion.

    Call :meth:`step` once per frame in order with that frame's background motion (current -> previous
    frame; None when it is unknown, which forgets everything before), :meth:`add` with a frame's clean
    background once its matte is known, and :meth:`plate` for the plate of a frame.

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte.video.flow import Motion
    >>> bg = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    >>> plate = BackgroundPlate()
    >>> plate.step(None); plate.add(0, bg, np.ones((4, 4), bool))
    >>> plate.step(Motion(affine=np.float32([[1, 0, 0], [0, 1, 0]])))  # a still camera
    >>> colour, valid = plate.plate(1)
    >>> bool(valid.all()), bool((colour == bg).all())
    (True, True)
    """

    def __init__(self, settings: BackgroundSettings | None = None):
        self.settings = settings or BackgroundSettings()
        self.index = -1
        self._affines: dict[int, np.ndarray | None] = {}
        self._seen: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def step(self, motion: Motion | None) -> None:
        """Take the next frame's background motion (an affine :class:`Motion`, or None: unknown)."""
        self.index += 1
        affine = getattr(motion, "affine", None)
        self._affines[self.index] = None if affine is None else np.asarray(affine)
        self._forget()

    def add(self, index: int, frame: np.ndarray, background: np.ndarray) -> None:
        """Remember where frame ``index`` (already stepped) is clean background (bool mask)."""
        if self.settings.history == 0 or index <= self.index - self.settings.history or index > self.index:
            return
        bg = np.asarray(background, bool)
        if bg.any():
            self._seen[index] = (np.asarray(frame), np.where(bg, 255, 0).astype(np.uint8))

    def _forget(self) -> None:
        oldest = self.index - self.settings.history
        for book in (self._affines, self._seen):
            for k in [k for k in book if k < oldest]:
                del book[k]

    def sources(self, index: int, x0: int = 0, y0: int = 0) -> list:
        """The remembered frames that can fill frame ``index``'s plate, most recent first: ``(frame, clean, m)``
        with ``clean`` 255 where that frame was clean background and ``m`` (2 x 3 float32) the map from a pixel of
        frame ``index`` (minus ``(x0, y0)``) to that frame's pixel (OpenCV's ``WARP_INVERSE_MAP``)."""
        out = []
        to_frame = _h([[1, 0, x0], [0, 1, y0]])  # box pixel -> frame `index` pixel -> ... -> frame k pixel
        for k in range(index - 1, index - 1 - self.settings.history, -1):
            affine = self._affines.get(k + 1)
            if affine is None:
                break
            to_frame = _h(affine) @ to_frame
            if k in self._seen:
                frame, bg = self._seen[k]
                out.append((frame, bg, to_frame[:2].astype(np.float32)))
        return out

    def plate(self, index: int, box: tuple[int, int, int, int] | None = None, crop: bool = False,
              need: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """The plate of frame ``index``: colour (H, W, 3) float32 and where it is known (H, W) bool.

        ``box`` (y0, y1, x0, x1) limits the work to that part of the frame (the rest stays unknown); with
        ``crop`` only that part is returned (the box clipped to the frame). ``need`` (bool, the returned
        shape): the pixels the caller reads; only these are filled (the rest stays unknown).
        """
        if not self._seen:
            return np.zeros((0, 0, 3), np.float32), np.zeros((0, 0), bool)
        h, w = next(iter(self._seen.values()))[1].shape
        y0, y1, x0, x1 = box if box is not None else (0, h, 0, w)
        y0, y1, x0, x1 = max(0, int(y0)), min(h, int(y1)), max(0, int(x0)), min(w, int(x1))
        shape = (max(0, y1 - y0), max(0, x1 - x0)) if crop else (h, w)
        colour = np.zeros(shape + (3,), np.float32)
        valid = np.zeros(shape, bool)
        if y1 <= y0 or x1 <= x0:
            return colour, valid
        sources = self.sources(index, x0, y0)
        if not sources:
            return colour, valid
        box_shape = (y1 - y0, x1 - x0)
        if need is None:
            need = np.ones(box_shape, bool)
        else:
            need = np.asarray(need, bool)
            need = np.ascontiguousarray(need if crop else need[y0:y1, x0:x1])
        sub_c = np.zeros(box_shape + (3,), np.float32) if not crop else colour
        sub_v = np.zeros(box_shape, bool) if not crop else valid
        ys, xs = np.nonzero(need)
        ys, xs, n = ys.astype(np.int64), xs.astype(np.int64), len(ys)
        for frame, clean, m in sources:
            if n == 0:
                break
            n = fill_from(np.ascontiguousarray(frame), np.ascontiguousarray(clean), m.astype(np.float64), ys, xs, n,
                          sub_c, sub_v)  # fmt: skip
        if not crop:
            colour[y0:y1, x0:x1], valid[y0:y1, x0:x1] = sub_c, sub_v
        return colour, valid


def plate_trimap(trimap: np.ndarray, frame: np.ndarray, colour: np.ndarray, valid: np.ndarray,
                 mask: np.ndarray, reach: np.ndarray, settings: BackgroundSettings | None = None):  # fmt: skip
    """Correct a trimap with a background plate; returns ``(trimap, noise)``.

    ``mask``: the subject's binary mask; ``reach``: where known background may turn unknown (near the subject).
    Unknown pixels outside ``mask`` that match the plate, with their 8 neighbours, become background; known
    background within ``reach`` that differs from it becomes unknown (with a one-pixel margin). ``noise`` is
    None when too little known background meets the plate to measure it (the trimap is then returned as
    it was).

    Examples
    --------
    >>> import numpy as np
    >>> frame = np.zeros((2, 24, 3), np.uint8); frame[:, 18:] = 200; frame[:, 3] = 90  # a strand at x = 3
    >>> tri = np.zeros((2, 24), np.uint8); tri[:, 14:20] = 128; tri[:, 20:] = 255
    >>> mask = frame[..., 0] > 100
    >>> colour = np.zeros((2, 24, 3), np.float32)  # the background, seen in earlier frames
    >>> out, noise = plate_trimap(tri, frame, colour, ~mask, mask, np.ones((2, 24), bool))
    >>> out[0].tolist(), noise
    ([0, 0, 128, 128, 128, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 128, 128, 128, 255, 255, 255, 255], 0.0)
    """
    s = settings or BackgroundSettings()
    mask = np.asarray(mask)
    mask = mask if mask.dtype == bool else mask > 127
    frame, colour = np.asarray(frame), np.asarray(colour, np.float32)
    if frame.dtype == np.uint8 and frame.shape == colour.shape and frame.ndim == 3 and frame.shape[2] == 3:
        diff = colour_distance(np.ascontiguousarray(frame), np.ascontiguousarray(colour))
    else:
        diff = np.abs(frame.astype(np.float32) - colour).max(axis=-1)
    known_bg = valid & (trimap == 0)
    if known_bg.sum() < MIN_NOISE_PIXELS:
        return trimap, None
    noise = float(np.median(diff[known_bg]))
    tol_clean, tol_detect = s.tolerances(noise)
    # A pixel is background only with its neighbours: a lone match is more likely a coincidence of colours.
    clean = cv2.erode((valid & (diff < tol_clean)).astype(np.uint8), _SQUARE3, borderType=cv2.BORDER_REPLICATE) > 0
    other = cv2.dilate((valid & (diff > tol_detect) & (trimap == 0) & reach).astype(np.uint8), _SQUARE3) > 0
    out = trimap.copy()
    out[(trimap == 128) & clean & ~mask] = 0
    out[other & (trimap == 0) & reach] = 128
    return out, noise
