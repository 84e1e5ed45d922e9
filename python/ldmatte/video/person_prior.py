"""A person prior: the first frame's mask without a hand-made one, from MediaPipe's selfie-segmentation model.

MediaPipe's selfie-segmentation model (Apache-2.0, 250 KB, a 256 x 256 RGB
input in [0, 1], a person probability out) is run with LiteRT
(``ai-edge-litert``: numpy only), never with mediapipe itself, whose wheels pin
numpy < 2 and pull opencv-contrib-python beside OpenCV headless. The model
file comes from the user: a ``.tflite`` file, or a mediapipe 0.10.x wheel
that carries it (``pip download --no-deps mediapipe==0.10.21 -d models/``;
read out of the wheel, nothing unpacked), or an installed mediapipe package.
Nothing is downloaded.
"""
from __future__ import annotations

import importlib.util
import os
import zipfile

import cv2
import numpy as np

from .masks import SegmenterUnavailable

__all__ = ["PersonPrior", "MODEL_IN_WHEEL"]

MODEL_IN_WHEEL = "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite"
HOW = ("pass MediaPipe's selfie-segmentation model with --person-model: a .tflite file, or a mediapipe 0.10.x wheel "
       "that carries it (pip download --no-deps mediapipe==0.10.21 -d models/)")  # fmt: skip


def _model_bytes(model) -> tuple[bytes, str]:
    """(the .tflite bytes, where they came from) for a .tflite path, a mediapipe wheel, or None (installed)."""
    if model is None:
        spec = importlib.util.find_spec("mediapipe")  # found, never imported
        root = os.path.dirname(spec.origin) if spec is not None and spec.origin else None
        path = os.path.join(os.path.dirname(root), MODEL_IN_WHEEL) if root else None
        if path is None or not os.path.isfile(path):
            raise SegmenterUnavailable(f"no person model: {HOW}")
        model = path
    model = os.fspath(model)
    if not os.path.isfile(model):
        raise SegmenterUnavailable(f"{model}: no such model file; {HOW}")
    if zipfile.is_zipfile(model):
        with zipfile.ZipFile(model) as z:
            try:
                return z.read(MODEL_IN_WHEEL), f"{model}!{MODEL_IN_WHEEL}"
            except KeyError:
                raise SegmenterUnavailable(f"{model}: holds no {MODEL_IN_WHEEL} (mediapipe 0.10.21 and earlier "
                                           "0.10.x wheels carry it)") from None  # fmt: skip
    with open(model, "rb") as fh:
        return fh.read(), model


class PersonPrior:
    """The person in a frame: MediaPipe's selfie-segmentation model run with LiteRT.

    Parameters
    ----------
    model : path, optional
        A ``.tflite`` file, a mediapipe wheel carrying it, or ``None`` for an installed mediapipe package.
    threshold : float
        Probability above which a pixel is the person.
    min_share : float
        Pieces smaller than this share of the largest are dropped (a person is one piece or a few large ones).

    Examples
    --------
    >>> prior = PersonPrior("models/mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl")  # doctest: +SKIP
    >>> mask = prior.mask(frame)  # (H, W) 0 / 255 uint8  # doctest: +SKIP
    """

    def __init__(self, model=None, threshold: float = 0.5, min_share: float = 0.05, threads: int = 1):
        if not 0 < threshold < 1 or not 0 <= min_share < 1:
            raise ValueError("threshold must be in (0, 1) and min_share in [0, 1)")
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise SegmenterUnavailable('the person prior needs LiteRT: pip install "ldmatte[person]" '
                                       "(ai-edge-litert)") from None  # fmt: skip
        content, self.source = _model_bytes(model)
        try:
            self._net = Interpreter(model_content=content, num_threads=threads)
            self._net.allocate_tensors()
        except Exception as exc:
            raise SegmenterUnavailable(f"{self.source}: not a TFLite model LiteRT runs ({exc})") from None
        inp, out = self._net.get_input_details()[0], self._net.get_output_details()[0]
        shape = tuple(int(v) for v in inp["shape"])
        if len(shape) != 4 or shape[0] != 1 or shape[3] != 3 or inp["dtype"] != np.float32:
            raise SegmenterUnavailable(f"{self.source}: expected one (1, H, W, 3) float32 input, got {shape}")
        self._in, self._out, self.size = inp["index"], out["index"], (shape[1], shape[2])
        self.threshold, self.min_share = threshold, min_share

    def probability(self, frame: np.ndarray) -> np.ndarray:
        """Person probability of every pixel of an RGB uint8 frame, float32 (H, W) in [0, 1]."""
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame must be an (H, W, 3) uint8 RGB array, got {frame.shape} {frame.dtype}")
        h, w = self.size
        x = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
        self._net.set_tensor(self._in, x[None])
        self._net.invoke()
        p = np.asarray(self._net.get_tensor(self._out), np.float32).reshape(h, w)
        return np.clip(cv2.resize(p, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_LINEAR), 0, 1)

    def mask(self, frame: np.ndarray) -> np.ndarray:
        """The person's mask (0 / 255 uint8): probability above ``threshold``, small pieces dropped."""
        m = (self.probability(frame) > self.threshold).astype(np.uint8) * 255
        n, lab, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
        if n > 2 and self.min_share > 0:
            areas = stats[1:, cv2.CC_STAT_AREA]
            small = np.flatnonzero(areas < areas.max() * self.min_share) + 1
            m[np.isin(lab, small)] = 0
        return m
