"""The key (backing) colour: parsed from the user's value, or estimated from the image border.

A green screen fills the frame around the subject, so the frame's pixels are
mostly backing; a portrait cut by the bottom edge covers part of one side only.
The estimate takes a band of ``max(1, min(H, W) // 64)`` pixels around the
frame, its per-channel median (robust to the subject touching one side), and
then the mean of the band's pixels within an L1 distance of 96 of that median
(the backing's own unevenness averaged, the subject's pixels left out).
"""
from __future__ import annotations

import re

import numpy as np

from .._arrays import array_kind

__all__ = ["estimate_key_color", "parse_key_color", "screen_of"]

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")
NEAR_MEDIAN_L1 = 96  # border pixels this close (L1, levels) to the median count as backing


def parse_key_color(value):
    """``None``/``"auto"`` (estimate per image) or an (r, g, b) tuple of ints in 0..255.

    Accepts ``"#00ff00"``, ``"00ff00"``, ``"green"``, ``"blue"`` or a sequence of three ints.

    Examples
    --------
    >>> parse_key_color("#00B140"), parse_key_color("auto"), parse_key_color((0, 0, 255))
    ((0, 177, 64), None, (0, 0, 255))
    """
    if value is None or (isinstance(value, str) and value.lower() == "auto"):
        return None
    if isinstance(value, str):
        named = {"green": "00ff00", "blue": "0000ff"}
        m = _HEX.match(named.get(value.lower(), value.strip()))
        if not m:
            raise ValueError(f"key colour must be 'auto', a name (green, blue) or #rrggbb, got {value!r}")
        h = m.group(1)
        return tuple(int(h[i : i + 2], 16) for i in (0, 2, 4))
    try:
        vals = tuple(value)
    except TypeError:
        raise TypeError(f"key colour must be 'auto', '#rrggbb' or three ints, got {value!r}") from None
    if len(vals) != 3 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 <= v <= 255
                                 for v in vals):
        raise ValueError(f"key colour must be three ints in 0..255, got {value!r}")
    return tuple(int(v) for v in vals)


def _band_parts(img):
    """The frame band of one (H, W, 3) image as up to four slices (any array type)."""
    h, w = img.shape[:2]
    bw = max(1, min(h, w) // 64)
    if 2 * bw >= h or 2 * bw >= w:  # tiny image: every pixel is border
        return [img]
    return [img[:bw], img[-bw:], img[bw:-bw, :bw], img[bw:-bw, -bw:]]


def _to_host(part) -> np.ndarray:
    kind = array_kind(part)
    if kind == "numpy":
        return part
    return part.detach().cpu().numpy() if kind == "torch" else part.get()


def _estimate_one(img) -> tuple:
    """Only the band is copied to the host for device arrays (a few thousand pixels)."""
    band = np.concatenate([_to_host(p).reshape(-1, 3) for p in _band_parts(img)]).astype(np.int64)
    median = np.median(band, axis=0)
    near = band[np.abs(band - median).sum(axis=1) <= NEAR_MEDIAN_L1]
    colour = near.mean(axis=0) if len(near) else median
    return tuple(int(v) for v in np.clip(np.floor(colour + 0.5), 0, 255))


def estimate_key_color(rgb):
    """Estimate the backing colour of a uint8 RGB image (or each image of a batch) from its border.

    Parameters
    ----------
    rgb : (H, W, 3) or (B, H, W, 3) uint8 array (numpy, torch or CuPy)

    Returns
    -------
    (r, g, b) tuple of ints, or a list of them for a batch.

    Examples
    --------
    >>> import numpy as np
    >>> im = np.zeros((64, 64, 3), np.uint8); im[:] = (20, 200, 30); im[20:, 16:48] = (180, 120, 90)
    >>> estimate_key_color(im)
    (20, 200, 30)
    """
    colours = [_estimate_one(img) for img in (rgb if rgb.ndim == 4 else [rgb])]
    return colours if rgb.ndim == 4 else colours[0]


def key_colors_for(rgb, key_color) -> np.ndarray:
    """(B, 3) int64 key colours for a stack: the given colour for all, or one estimate per image."""
    n = rgb.shape[0] if rgb.ndim == 4 else 1
    if _is_per_image(key_color):
        per = [parse_key_color(k) for k in key_color]
        if len(per) != n or any(k is None for k in per):
            raise ValueError(f"per-image key colours: expected {n} (r, g, b) colours, got {len(per)}")
        return np.array(per, np.int64).reshape(n, 3)
    parsed = parse_key_color(key_color)
    if parsed is not None:
        return np.tile(np.array(parsed, np.int64), (n, 1))
    est = estimate_key_color(rgb)
    return np.array(est if rgb.ndim == 4 else [est], np.int64).reshape(n, 3)


def _is_per_image(value) -> bool:
    """A sequence of colours (one per image of a batch) rather than one colour."""
    if isinstance(value, np.ndarray):
        return value.ndim == 2
    return isinstance(value, (list, tuple)) and len(value) > 0 and not isinstance(value[0], (int, np.integer))


def screen_of(key) -> str:
    """``"green"`` or ``"blue"``: the dominant of the key colour's green and blue channels.

    Examples
    --------
    >>> screen_of((0, 177, 64)), screen_of((10, 40, 230))
    ('green', 'blue')
    """
    return "green" if int(key[1]) >= int(key[2]) else "blue"
