"""Image matting backends for video: the trained ViTMatte model, or closed-form matting (no weights).

A backend is anything with ``predict(images, trimaps) -> alpha`` on batches:
(B, H, W, 3) uint8 RGB and (B, H, W) uint8 trimaps in, (B, H, W) uint8 alpha
out, the trimap's known regions kept. :func:`load_matting` picks one from a
spec: ``"closed-form"`` (Levin et al., through pymatting) or a training run /
checkpoint folder (:func:`ldmatte.matting.load_predictor`).
"""
from __future__ import annotations

import contextlib
import io
import os

import numpy as np

__all__ = ["ClosedFormMatting", "load_matting", "CLOSED_FORM"]

CLOSED_FORM = "closed-form"


class ClosedFormMatting:
    """Closed-form matting (as pymatting's ``estimate_alpha_cf``) frame by frame, solved on the unknown band's box.

    Only the bounding box of the unknown region (plus a margin for the
    matting Laplacian's window) is solved, with the Laplacian built for the unknown
    pixels only (:mod:`ldmatte.video.closed_form`); the rest keeps the trimap's values.
    ``epsilon`` is the Laplacian's regulariser (pymatting's default). 1e-5 gave 2.5 %
    lower SAD frame by frame on the synthetic video, but smoother edges that, fed back
    into the propagated mask, let it drift (SAD +52 % over 48 frames).

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((1, 12, 12, 3), np.uint8); img[0, :, 6:] = 255
    >>> tri = np.zeros((1, 12, 12), np.uint8); tri[0, :, 7:] = 255; tri[0, :, 4:7] = 128
    >>> a = ClosedFormMatting().predict(img, tri)
    >>> a.shape, a.dtype, int(a[0, 6, 2]), int(a[0, 6, 9]), int(a[0, 6, 6]) > 200
    ((1, 12, 12), dtype('uint8'), 0, 255, True)
    >>> tri[0, :, 7:] = 128  # no known foreground: the band is left at 0.5 (pymatting would refuse it)
    >>> ClosedFormMatting().predict(img, tri)[0, 6].tolist()
    [0, 0, 0, 0, 128, 128, 128, 128, 128, 128, 128, 128]
    """

    name = CLOSED_FORM
    batch_size = 1
    margin = 4

    def __init__(self, epsilon: float = 1e-7):
        if not epsilon > 0:
            raise ValueError(f"epsilon must be > 0, got {epsilon!r}")
        self.epsilon = float(epsilon)
        try:
            import pymatting  # noqa: F401 - its preconditioner and solver
        except ImportError:
            raise RuntimeError("closed-form matting needs pymatting (pip install 'ldmatte[video]')") from None
        from .closed_form import solve_closed_form

        self._cf = solve_closed_form

    def _one(self, image: np.ndarray, tri: np.ndarray) -> np.ndarray:
        out = np.where(tri >= 255, 255, 0).astype(np.uint8)
        ys, xs = np.nonzero((tri > 0) & (tri < 255))
        if len(xs) == 0:
            return out
        h, w = tri.shape
        y0, y1 = max(0, ys.min() - self.margin), min(h, ys.max() + 1 + self.margin)
        x0, x1 = max(0, xs.min() - self.margin), min(w, xs.max() + 1 + self.margin)
        crop_t = tri[y0:y1, x0:x1]
        known = (crop_t == 0) | (crop_t == 255)
        if not ((crop_t == 255).any() and (crop_t == 0).any()):
            # Nothing to anchor the solve on one side (pymatting refuses a trimap without foreground or without
            # background, e.g. a thin part the band swallowed whole): leave the band at 0.5.
            out[y0:y1, x0:x1] = np.where(crop_t >= 255, 255, np.where(crop_t == 0, 0, 128))
            return out
        crop_i = image[y0:y1, x0:x1].astype(np.float64) / 255
        unit_t = np.where(known, crop_t / 255.0, 0.5)
        with contextlib.redirect_stdout(io.StringIO()):  # pymatting prints preconditioner notes to stdout
            alpha = self._cf(crop_i, unit_t, self.epsilon)
        a8 = np.clip(np.round(alpha * 255), 0, 255).astype(np.uint8)
        out[y0:y1, x0:x1] = np.where(crop_t == 255, 255, np.where(crop_t == 0, 0, a8))
        return out

    def predict(self, images, trimaps) -> np.ndarray:
        images, trimaps = np.asarray(images), np.asarray(trimaps)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(f"images must be (B, H, W, 3) uint8, got {images.shape} {images.dtype}")
        if trimaps.shape != images.shape[:3] or trimaps.dtype != np.uint8:
            raise ValueError(f"trimaps must be (B, H, W) uint8 matching the images, got {trimaps.shape} "
                             f"{trimaps.dtype}")
        return np.stack([self._one(i, t) for i, t in zip(images, trimaps)])


def load_matting(spec: str, device: str = "auto", batch_size: int = 4):
    """The matting backend for ``spec``: ``"closed-form"`` or a model folder (training run or checkpoint).

    Examples
    --------
    >>> load_matting("closed-form").name
    'closed-form'
    """
    if spec == CLOSED_FORM:
        return ClosedFormMatting()
    path = os.fspath(spec)
    if not os.path.isdir(path):
        raise ValueError(f"--model must be {CLOSED_FORM!r} or a training run / checkpoint folder; "
                         f"{path!r} is not a folder")
    from ..matting import load_predictor  # torch and transformers only when a model is asked for

    predictor = load_predictor(path, device=device, batch_size=batch_size)
    if not hasattr(predictor, "name"):
        predictor.name = os.path.basename(os.path.normpath(path))
    return predictor
