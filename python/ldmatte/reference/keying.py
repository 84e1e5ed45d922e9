"""Plain numpy references of the keyers and the despill in ``ldmatte.keying``.

Written straight from the formulas in each keyer module's docstring, one
(H, W, 3) uint8 image and one key colour at a time, with ``np.pad(mode="edge")``
for the clamped neighbours. Float arithmetic is float64 with sums in the order
the formulas are written, so the library's kernels are expected to agree
exactly (the tests allow the one-level slack a different order would cause).
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "chromakey_reference", "colorkey_reference", "obs_chromakey_reference", "vlahos_reference",
    "despill_reference", "yuv_chroma_reference",
]


def _f64(img):
    return img.astype(np.int64)


def _to_u8_rounded(v):
    return np.clip(np.floor(v * 255.0 + 0.5), 0, 255).astype(np.uint8)


def _key_alpha(diff, similarity, blend):
    """FFmpeg's alpha from a 0..1 distance: a ramp (truncated) or a hard threshold."""
    if blend > 0.0001:
        return (np.clip((diff - similarity) / blend, 0.0, 1.0) * 255.0).astype(np.uint8)
    return np.where(diff > similarity, 255, 0).astype(np.uint8)


def yuv_chroma_reference(rgb):
    """(U, V) int64 planes of BT.601 limited-range chroma, 10-bit fixed point.

    Examples
    --------
    >>> u, v = yuv_chroma_reference(np.array([[[128, 128, 128], [0, 255, 0]]], np.uint8))
    >>> u.tolist(), v.tolist()
    ([[128, 54]], [[128, 34]])
    """
    c = _f64(np.asarray(rgb))
    r, g, b = c[..., 0], c[..., 1], c[..., 2]
    u = np.floor_divide(-152 * r - 298 * g + 450 * b + 512, 1024) + 128
    v = np.floor_divide(450 * r - 377 * g - 73 * b + 512, 1024) + 128
    return u, v


def chromakey_reference(rgb, key, similarity, blend):
    """FFmpeg ``chromakey`` alpha (see ``ldmatte.keying.ffmpeg_chroma``).

    Examples
    --------
    >>> im = np.zeros((3, 3, 3), np.uint8); im[:] = (0, 255, 0)
    >>> chromakey_reference(im, (0, 255, 0), 0.12, 0.08).max()
    np.uint8(0)
    """
    u, v = yuv_chroma_reference(rgb)
    ku, kv = yuv_chroma_reference(np.array([[key]], np.uint8))
    du, dv = u - ku[0, 0], v - kv[0, 0]
    d = np.sqrt((du * du + dv * dv).astype(np.float64) / (255.0 * 255.0 * 2))
    padded = np.pad(d, 1, mode="edge")
    h, w = d.shape
    diff = np.zeros_like(d)
    for dy in range(3):
        for dx in range(3):
            diff = diff + padded[dy : dy + h, dx : dx + w]
    return _key_alpha(diff / 9.0, similarity, blend)


def colorkey_reference(rgb, key, similarity, blend):
    """FFmpeg ``colorkey`` alpha (see ``ldmatte.keying.ffmpeg_color``).

    Examples
    --------
    >>> colorkey_reference(np.array([[[0, 255, 0], [255, 0, 255]]], np.uint8), (0, 255, 0), 0.2, 0.1).tolist()
    [[0, 255]]
    """
    d = _f64(np.asarray(rgb)) - np.asarray(key, np.int64)
    sq = d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1] + d[..., 2] * d[..., 2]
    return _key_alpha(np.sqrt(sq.astype(np.float64) / (255.0 * 255.0 * 3)), similarity, blend)


def _cbcr(r, g, b):
    cb = -0.100644 * r + -0.338572 * g + 0.439216 * b + 0.501961
    cr = 0.439216 * r + -0.398942 * g + -0.040274 * b + 0.501961
    return cr, cb


def obs_chromakey_reference(rgb, key, similarity, smoothness, spill):
    """OBS chroma key: (alpha, spill-reduced rgb) (see ``ldmatte.keying.obs_filter``).

    Examples
    --------
    >>> im = np.zeros((3, 3, 3), np.uint8); im[:] = (0, 255, 0)
    >>> a, rgb = obs_chromakey_reference(im, (0, 255, 0), 0.4, 0.08, 0.1)
    >>> int(a.max()), rgb[1, 1].tolist()
    (0, [182, 182, 182])
    """
    kr, kg, kb = (v / 255.0 for v in key)
    kcr, kcb = _cbcr(kr, kg, kb)

    def dist(r, g, b):
        cr, cb = _cbcr(r, g, b)
        return np.sqrt((cr - kcr) ** 2 + (cb - kcb) ** 2)

    c = _f64(np.asarray(rgb))
    h, w = c.shape[:2]
    p = np.pad(c, ((1, 1), (1, 1), (0, 0)), mode="edge")

    def at(dy, dx):  # the neighbour at offset (dy, dx) of every pixel
        return p[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]

    def bilinear_half(a, b):  # a texture sample half-way between two pixels
        m = (at(*a) + at(*b)) / 510.0
        return dist(m[..., 0], m[..., 1], m[..., 2])

    total = bilinear_half((-1, -1), (0, -1))
    total = total + bilinear_half((0, 1), (1, 1))
    total = total + bilinear_half((1, -1), (1, 0))
    total = total + bilinear_half((-1, 0), (-1, 1))
    f = c / 255.0
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    d = (total * 2.0 + dist(r, g, b)) / 9.0
    base = d - similarity
    full = np.clip(base / smoothness, 0.0, 1.0)
    alpha = _to_u8_rounded(full * np.sqrt(full))  # saturate(x) ^ 1.5
    s = np.clip(base / spill, 0.0, 1.0)
    s = s * np.sqrt(s)
    luma = 0.2126 * r + 0.7152 * g + 0.0722 * b
    out = np.stack([_to_u8_rounded(luma + (ch - luma) * s) for ch in (r, g, b)], axis=-1)
    return alpha, out


_SCREEN = {"green": (1, 0, 2), "blue": (2, 0, 1)}  # screen channel, then the two others (red first)


def vlahos_reference(rgb, key, screen, balance, clip_black, clip_white):
    """Vlahos colour-difference alpha (see ``ldmatte.keying.color_difference``).

    Examples
    --------
    >>> vlahos_reference(np.array([[[64, 191, 64]]], np.uint8), (0, 255, 0), "green", 1.0, 0.0, 1.0).tolist()
    [[128]]
    """
    s, o1, o2 = _SCREEN[screen]
    f = np.asarray(rgb).astype(np.float64)
    d = f[..., s] - balance * np.maximum(f[..., o1], f[..., o2])
    d_key = key[s] - balance * max(key[o1], key[o2])
    a = 1.0 - d / d_key
    return _to_u8_rounded((np.clip(a, clip_black, clip_white) - clip_black) / (clip_white - clip_black))


def despill_reference(rgb, screen, mix, expand, brightness):
    """FFmpeg ``despill`` colour (see ``ldmatte.keying.spill``).

    Examples
    --------
    >>> despill_reference(np.array([[[200, 220, 100]]], np.uint8), "green", 0.5, 0.0, 0.0).tolist()
    [[[200, 150, 100]]]
    """
    s, m, o = _SCREEN[screen]
    f = np.asarray(rgb).astype(np.float64) / 255.0
    spill = np.maximum(f[..., s] - (f[..., m] * mix + f[..., o] * ((1.0 - mix) * (1.0 - expand))), 0.0)
    out = np.empty(f.shape)
    out[..., s] = np.maximum(f[..., s] - spill + brightness * spill, 0.0)
    out[..., m] = np.maximum(f[..., m] + brightness * spill, 0.0)
    out[..., o] = np.maximum(f[..., o] + brightness * spill, 0.0)
    return _to_u8_rounded(out)


def unmix_reference(rgb, alpha, key):
    """Foreground colour from ``I = a F + (1 - a) K`` where 0 < alpha < 255 (see ``ldmatte.keying.spill``).

    Examples
    --------
    >>> unmix_reference(np.array([[[100, 178, 60]]], np.uint8), np.array([[128]], np.uint8), (0, 255, 0)).tolist()
    [[[199, 102, 120]]]
    """
    img = np.asarray(rgb).astype(np.float64)
    a = (np.asarray(alpha).astype(np.float64) / 255.0)[..., None]
    k = np.asarray(key, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        fg = _to_u8_rounded((img - (1.0 - a) * k) / a / 255.0)
    between = ((alpha > 0) & (alpha < 255))[..., None]
    return np.where(between, fg, np.asarray(rgb)).astype(np.uint8)
