"""Adversarial and random masks/alphas shared by the tests and benchmarks."""
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
