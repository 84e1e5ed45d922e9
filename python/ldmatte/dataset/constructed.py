"""Constructed bad samples: a synthetic portrait turned into each kind quality control must delete.

They give the rules something to catch in tests and demos (``ldmatte build
synthetic --bad-fraction``), one kind per reason code (:data:`EXPECTED`). Each
maker takes a raw synthetic RGBA (realistic artifacts) and a random generator
and returns a new raw RGBA of the same size.
"""
from __future__ import annotations

import cv2
import numpy as np

__all__ = ["BAD_KINDS", "EXPECTED", "make_bad"]


def _blank(rgba: np.ndarray) -> np.ndarray:
    out = rgba.copy()
    out[..., 3] = 0
    return out


def _paste(canvas: np.ndarray, part: np.ndarray, top: int, left: int) -> np.ndarray:
    h, w = part.shape[:2]
    region = canvas[top : top + h, left : left + w]
    mask = part[..., 3:] > region[..., 3:]
    canvas[top : top + h, left : left + w] = np.where(mask, part, region)
    return canvas


def _scaled(rgba: np.ndarray, factor: float) -> np.ndarray:
    h, w = rgba.shape[:2]
    size = (max(1, int(w * factor)), max(1, int(h * factor)))
    return cv2.resize(rgba, size, interpolation=cv2.INTER_AREA)


def _shift(rgba: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Move the picture by (dy, dx); what comes in from outside is clear background."""
    out = _blank(rgba)
    h, w = rgba.shape[:2]
    src = rgba[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
    out[max(0, dy) : max(0, dy) + src.shape[0], max(0, dx) : max(0, dx) + src.shape[1]] = src
    return out


def _empty(rgba, rng):
    out = _blank(rgba)
    out[..., 3] = (rng.random(rgba.shape[:2]) < 0.01) * rng.integers(1, 6, rgba.shape[:2])
    return out


def _tiny(rgba, rng):
    part = _scaled(rgba, 0.2)
    h, w = rgba.shape[:2]
    return _paste(_blank(rgba), part, int(rng.integers(0, h - part.shape[0])), int(rng.integers(0, w - part.shape[1])))


def _head_cut(rgba, rng):
    return _shift(rgba, -int(rgba.shape[0] * rng.uniform(0.30, 0.40)), 0)


def _side_cut(rgba, rng):
    dx = int(rgba.shape[1] * rng.uniform(0.40, 0.50))
    return _shift(rgba, 0, dx if rng.random() < 0.5 else -dx)


def _two_people(rgba, rng):
    part = _scaled(rgba, 0.45)
    h, w = rgba.shape[:2]
    ph, pw = part.shape[:2]
    out = _blank(rgba)
    _paste(out, part, h - ph, int(w * 0.02))
    return _paste(out, np.ascontiguousarray(part[:, ::-1]), h - ph, w - pw - int(w * 0.02))


def _haze(rgba, rng):
    # A wide glow joined to the subject: refinement keeps it (it touches the core), QC must not.
    a = rgba[..., 3].astype(np.float32)
    r = int(min(a.shape) * rng.uniform(0.15, 0.25)) | 1
    glow = cv2.GaussianBlur(cv2.dilate((a > 128).astype(np.float32), np.ones((r, r), np.float32)), (r, r), 0)
    out = rgba.copy()
    out[..., 3] = np.maximum(a, glow * rng.uniform(70, 110)).astype(np.uint8)
    return out


def _opaque(rgba, rng):
    out = rgba.copy()
    out[..., 3] = 255 - (rng.random(rgba.shape[:2]) < 0.005) * rng.integers(0, 4, rgba.shape[:2])
    return out


def _ghost(rgba, rng):
    # A faint second figure apart from the subject: floating, so refinement removes a large area.
    part = _scaled(rgba, 0.9)
    part[..., 3] = (part[..., 3].astype(np.float32) * rng.uniform(0.3, 0.5)).astype(np.uint8)
    out = _scaled(rgba, 0.5)
    h, w = rgba.shape[:2]
    canvas = _blank(rgba)
    canvas = _paste(canvas, part[: h - out.shape[0] // 3, : w // 2], 0, 0)
    return _paste(canvas, out, h - out.shape[0], w - out.shape[1])


def _fog(rgba, rng):
    # The whole picture under a uniform translucent layer far above a generator's haze: refinement removes it as a
    # haze floor (no clear background), QC does not trust a floor that high.
    floor = rng.uniform(120, 160)
    out = rgba.copy()
    out[..., 3] = np.round(floor + rgba[..., 3].astype(np.float32) * (255 - floor) / 255).astype(np.uint8)
    return out


_MAKERS = {"empty": _empty, "tiny": _tiny, "head_cut": _head_cut, "side_cut": _side_cut,
           "two_people": _two_people, "haze": _haze, "opaque": _opaque, "ghost": _ghost, "fog": _fog}  # fmt: skip
BAD_KINDS = tuple(_MAKERS)
EXPECTED = {"empty": "no_subject", "tiny": "subject_too_small", "head_cut": "head_cut_top",
            "side_cut": "cut_at_sides", "two_people": "several_subjects", "haze": "haze_left",
            "opaque": "near_uniform_alpha", "ghost": "changed_too_much", "fog": "haze_floor_too_high"}  # fmt: skip


def make_bad(kind: str, rgba: np.ndarray, seed: int = 0) -> np.ndarray:
    """Turn a raw synthetic RGBA into a bad sample of ``kind`` (one of :data:`BAD_KINDS`).

    Examples
    --------
    >>> from ldmatte.synth import make_sample
    >>> from ldmatte.dataset.constructed import make_bad
    >>> bad = make_bad("head_cut", make_sample(0, 128).rgba, seed=1)
    >>> bad.shape, bool((bad[0, :, 3] > 128).any())
    ((128, 128, 4), True)
    """
    if kind not in _MAKERS:
        raise ValueError(f"kind must be one of {BAD_KINDS}, got {kind!r}")
    rgba = np.asarray(rgba)
    if rgba.dtype != np.uint8 or rgba.ndim != 3 or rgba.shape[2] != 4:
        raise TypeError(f"rgba must be an (H, W, 4) uint8 array, got {rgba.dtype} {rgba.shape}")
    return np.ascontiguousarray(_MAKERS[kind](rgba, np.random.default_rng(seed)).astype(np.uint8))
