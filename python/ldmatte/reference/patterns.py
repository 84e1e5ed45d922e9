"""Inputs the kernels are compared on: adversarial and random masks, alphas and RGBA, and the real samples.

Shared by the tests and the benchmarks (``bench/gpu_check.py``); kept out of
``import ldmatte`` like the rest of :mod:`ldmatte.reference`. The adversarial
masks are the shapes that break labelling and padding shortcuts: spirals and
snakes (one component winding through the image), chessboards and diagonal
stripes (4- vs 8-connectivity everywhere), combs, single rows and columns,
all-0 and all-1.
"""
from __future__ import annotations

import numpy as np


def spiral(n: int, gap: int = 1) -> np.ndarray:
    """A square spiral of 1-pixel walls: one component that winds through the whole image."""
    m = np.zeros((n, n), dtype=bool)
    top, left, bottom, right = 0, 0, n - 1, n - 1
    while top <= bottom and left <= right:
        m[top, left : right + 1] = True
        m[top : bottom + 1, right] = True
        if top + gap + 1 <= bottom:
            m[bottom, left : right + 1] = True
        if left + gap + 1 <= right:
            m[top + gap + 1 : bottom + 1, left] = True
        top, left, bottom, right = top + gap + 1, left + gap + 1, bottom - gap - 1, right - gap - 1
    return m


def snake(h: int, w: int) -> np.ndarray:
    """Rows of foreground joined alternately at the right and left end: one long component."""
    m = np.zeros((h, w), dtype=bool)
    m[::2, :] = True
    for i, r in enumerate(range(1, h, 2)):
        m[r, w - 1 if i % 2 == 0 else 0] = True
    return m


def chessboard(h: int, w: int, cell: int = 1) -> np.ndarray:
    """Cells alternate; with cell=1, 8-connectivity joins everything and 4 keeps every pixel apart."""
    yy, xx = np.mgrid[:h, :w]
    return ((yy // cell + xx // cell) % 2 == 0)


def diagonal_stripes(h: int, w: int, period: int = 3) -> np.ndarray:
    """Anti-diagonal lines: components that 8-connectivity joins through corners only."""
    yy, xx = np.mgrid[:h, :w]
    return (yy + xx) % period == 0


def comb(h: int, w: int) -> np.ndarray:
    """Vertical teeth joined by a bottom bar: merges discovered late in a raster scan."""
    m = np.zeros((h, w), dtype=bool)
    m[:, ::2] = True
    m[:-1, 1::2] = False
    m[-1, :] = True
    return m


def random_mask(rng: np.random.Generator, h: int, w: int, density: float) -> np.ndarray:
    return rng.random((h, w)) < density


def blobs(rng: np.random.Generator, h: int, w: int, sigma: float = 3.0, density: float = 0.5) -> np.ndarray:
    """Smooth random blobs (closer to real masks than white noise)."""
    from scipy import ndimage

    field = ndimage.gaussian_filter(rng.standard_normal((h, w)), sigma)
    return field > np.quantile(field, 1 - density) if field.size else field.astype(bool)


def adversarial_masks() -> dict[str, np.ndarray]:
    """Named masks that break careless labelling code."""
    return {
        "empty_0x0": np.zeros((0, 0), bool),
        "empty_0x5": np.zeros((0, 5), bool),
        "one_pixel_on": np.ones((1, 1), bool),
        "one_pixel_off": np.zeros((1, 1), bool),
        "row_1x97": (np.arange(97) % 3 != 0)[None, :],
        "col_97x1": (np.arange(97) % 3 != 0)[:, None],
        "all_zero": np.zeros((33, 47), bool),
        "all_one": np.ones((33, 47), bool),
        "spiral_64": spiral(64),
        "spiral_odd_63": spiral(63),
        "snake_31x40": snake(31, 40),
        "chess_1_33x35": chessboard(33, 35),
        "chess_3_50x50": chessboard(50, 50, 3),
        "diagonals_41x37": diagonal_stripes(41, 37),
        "comb_20x63": comb(20, 63),
        "frame_border": np.pad(np.zeros((10, 12), bool), 1, constant_values=True),
    }


def alpha_from_mask(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uint8 alpha with every class present: values spread over 0..255 inside the mask."""
    a = np.where(mask, rng.integers(200, 256, mask.shape), rng.integers(0, 40, mask.shape))
    return a.astype(np.uint8)


def make_rgba(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A subject with a noisy interior, a soft rim, haze and specks, over random colour: (h, w, 4) uint8."""
    body = blobs(rng, h, w, 3.0, 0.35) if min(h, w) > 2 else rng.random((h, w)) < 0.35
    rim = (blobs(rng, h, w, 3.0, 0.45) if min(h, w) > 2 else rng.random((h, w)) < 0.1) & ~body
    a = np.where(body, rng.integers(240, 256, (h, w)), rng.integers(0, 12, (h, w)))
    a = np.where(rim, rng.integers(20, 230, (h, w)), a)
    rgb = rng.integers(0, 256, (h, w, 3))
    return np.concatenate([rgb, a[..., None]], axis=-1).astype(np.uint8)


def load_rgba(path):
    """(H, W, 4) uint8 RGBA of an 8-bit RGBA PNG, or None for any other file (RGB, gray, unreadable)."""
    import cv2

    im = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if im is None or im.ndim != 3 or im.shape[2] != 4 or im.dtype != np.uint8:
        return None
    return cv2.cvtColor(im, cv2.COLOR_BGRA2RGBA)


def real_rgba(data_dir, size=None, limit=None) -> list:
    """``[(stem, rgba)]`` of the RGBA PNGs in ``data_dir`` (sorted by name; of ``size`` (H, W) only, if given)."""
    import pathlib

    found = []
    for path in sorted(pathlib.Path(data_dir).glob("*.png")):
        rgba = load_rgba(path)
        if rgba is not None and (size is None or rgba.shape[:2] == tuple(size)):
            found.append((path.stem, rgba))
    return found[:limit]

