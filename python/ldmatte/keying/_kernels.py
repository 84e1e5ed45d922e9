"""Numba kernels of the keyers and the despill, one image at a time, images spread over threads.

The arithmetic is written operation for operation as in the references
(``ldmatte.reference.keying``) and the torch routes (``_torch_ops``): integer
chroma, float64 distances summed in the same order, and the same rounding, so
the three agree bit for bit (the tests check). Border pixels read their
neighbours with clamp-to-edge addressing.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .._kernels._threads import run_batch

# BT.601 limited-range ("CCIR") chroma in 10-bit fixed point: U and V of grey are exactly 128.
U_R, U_G, U_B = -152, -298, 450
V_R, V_G, V_B = 450, -377, -73
# BT.709 limited-range Cb/Cr on [0, 1] colour (OBS's chroma key shader).
CB = (-0.100644, -0.338572, 0.439216, 0.501961)
CR = (0.439216, -0.398942, -0.040274, 0.501961)


@njit(cache=True, nogil=True, inline="always")
def _u(r, g, b):
    return ((U_R * r + U_G * g + U_B * b + 512) >> 10) + 128


@njit(cache=True, nogil=True, inline="always")
def _v(r, g, b):
    return ((V_R * r + V_G * g + V_B * b + 512) >> 10) + 128


@njit(cache=True, nogil=True, inline="always")
def _clamp(i, n):
    return 0 if i < 0 else (n - 1 if i >= n else i)


@njit(cache=True, nogil=True)
def _chromakey_image(img, out, ku, kv, similarity, blend):
    h, w = out.shape
    dist = np.empty((h, w), np.float64)  # each pixel's distance once; the 3x3 mean reads it nine times
    for y in range(h):
        for x in range(w):
            r, g, b = np.int64(img[y, x, 0]), np.int64(img[y, x, 1]), np.int64(img[y, x, 2])
            du = _u(r, g, b) - ku
            dv = _v(r, g, b) - kv
            dist[y, x] = np.sqrt(np.float64(du * du + dv * dv) / 130050.0)
    for y in range(h):
        for x in range(w):
            diff = 0.0
            for dy in range(-1, 2):
                yy = _clamp(y + dy, h)
                for dx in range(-1, 2):
                    diff += dist[yy, _clamp(x + dx, w)]
            diff = diff / 9.0
            if blend > 0.0001:
                a = (diff - similarity) / blend
                a = min(max(a, 0.0), 1.0) * 255.0
                out[y, x] = np.uint8(int(a))  # truncation, as the C cast
            else:
                out[y, x] = 255 if diff > similarity else 0


@njit(cache=True, nogil=True)
def _colorkey_image(img, out, kr, kg, kb, similarity, blend):
    h, w = out.shape
    for y in range(h):
        for x in range(w):
            dr = np.int64(img[y, x, 0]) - kr
            dg = np.int64(img[y, x, 1]) - kg
            db = np.int64(img[y, x, 2]) - kb
            diff = np.sqrt(np.float64(dr * dr + dg * dg + db * db) / 195075.0)
            if blend > 0.0001:
                a = (diff - similarity) / blend
                a = min(max(a, 0.0), 1.0) * 255.0
                out[y, x] = np.uint8(int(a))
            else:
                out[y, x] = 255 if diff > similarity else 0


@njit(cache=True, nogil=True, inline="always")
def _obs_dist(r, g, b, kcr, kcb):
    """Distance in (Cr, Cb) of a [0, 1] colour from the key's."""
    cb = ((CB[0] * r + CB[1] * g) + CB[2] * b) + CB[3]
    cr = ((CR[0] * r + CR[1] * g) + CR[2] * b) + CR[3]
    dcr, dcb = cr - kcr, cb - kcb
    return np.sqrt(dcr * dcr + dcb * dcb)


@njit(cache=True, nogil=True, inline="always")
def _pair_dist(img, y0, x0, y1, x1, kcr, kcb):
    """Distance of the mean colour of two pixels (a bilinear sample half-way between them)."""
    r = (np.int64(img[y0, x0, 0]) + np.int64(img[y1, x1, 0])) / 510.0
    g = (np.int64(img[y0, x0, 1]) + np.int64(img[y1, x1, 1])) / 510.0
    b = (np.int64(img[y0, x0, 2]) + np.int64(img[y1, x1, 2])) / 510.0
    return _obs_dist(r, g, b, kcr, kcb)


@njit(cache=True, nogil=True, inline="always")
def _saturate_pow15(v):
    v = min(max(v, 0.0), 1.0)
    return v * np.sqrt(v)


@njit(cache=True, nogil=True, inline="always")
def _to_u8(v):
    """Round a [0, 1] value to 0..255 (clamped), as a unorm render target does."""
    v = np.floor(v * 255.0 + 0.5)
    return np.uint8(min(max(v, 0.0), 255.0))


@njit(cache=True, nogil=True)
def _obs_image(img, alpha, rgb_out, kcr, kcb, similarity, smoothness, spill):
    h, w = alpha.shape
    for y in range(h):
        ym, yp = _clamp(y - 1, h), _clamp(y + 1, h)
        for x in range(w):
            xm, xp = _clamp(x - 1, w), _clamp(x + 1, w)
            d = _pair_dist(img, ym, xm, y, xm, kcr, kcb)
            d += _pair_dist(img, y, xp, yp, xp, kcr, kcb)
            d += _pair_dist(img, yp, xm, yp, x, kcr, kcb)
            d += _pair_dist(img, ym, x, ym, xp, kcr, kcb)
            r, g, b = img[y, x, 0] / 255.0, img[y, x, 1] / 255.0, img[y, x, 2] / 255.0
            d = (d * 2.0 + _obs_dist(r, g, b, kcr, kcb)) / 9.0
            base = d - similarity
            alpha[y, x] = _to_u8(_saturate_pow15(base / smoothness))
            s = _saturate_pow15(base / spill)
            desat = (0.2126 * r + 0.7152 * g) + 0.0722 * b
            rgb_out[y, x, 0] = _to_u8(desat + (r - desat) * s)
            rgb_out[y, x, 1] = _to_u8(desat + (g - desat) * s)
            rgb_out[y, x, 2] = _to_u8(desat + (b - desat) * s)


@njit(cache=True, nogil=True)
def _vlahos_image(img, out, screen_ch, other_a, other_b, d_key, balance, clip_black, clip_white):
    h, w = out.shape
    span = clip_white - clip_black
    for y in range(h):
        for x in range(w):
            d = img[y, x, screen_ch] - balance * max(img[y, x, other_a], img[y, x, other_b])
            a = 1.0 - d / d_key
            out[y, x] = _to_u8((min(max(a, clip_black), clip_white) - clip_black) / span)


@njit(cache=True, nogil=True)
def _despill_image(img, out, screen_ch, mix_ch, other_ch, mix, factor, brightness):
    h, w = img.shape[:2]
    for y in range(h):
        for x in range(w):
            s = img[y, x, screen_ch] / 255.0
            m = img[y, x, mix_ch] / 255.0
            o = img[y, x, other_ch] / 255.0
            spill = max(s - (m * mix + o * factor), 0.0)
            out[y, x, screen_ch] = _to_u8(max((s - spill) + brightness * spill, 0.0))
            out[y, x, mix_ch] = _to_u8(max(m + brightness * spill, 0.0))
            out[y, x, other_ch] = _to_u8(max(o + brightness * spill, 0.0))


# ---------------------------------------------------------------- batch drivers (no validation here)


def _alpha_batch(stack, per_image):
    b, h, w = stack.shape[:3]
    out = np.empty((b, h, w), np.uint8)

    def work(slot, lo, hi):
        for i in range(lo, hi):
            per_image(i, out[i])

    run_batch(b, h * w, work)
    return out


def chromakey_batch(stack, keys, similarity, blend):
    """(B, H, W) uint8 alpha of a (B, H, W, 3) uint8 stack; ``keys`` (B, 3) int RGB."""
    def one(i, out):
        r, g, b = (int(v) for v in keys[i])
        ku = ((U_R * r + U_G * g + U_B * b + 512) >> 10) + 128
        kv = ((V_R * r + V_G * g + V_B * b + 512) >> 10) + 128
        _chromakey_image(stack[i], out, ku, kv, float(similarity), float(blend))

    return _alpha_batch(stack, one)


def colorkey_batch(stack, keys, similarity, blend):
    def one(i, out):
        _colorkey_image(stack[i], out, int(keys[i, 0]), int(keys[i, 1]), int(keys[i, 2]),
                        float(similarity), float(blend))

    return _alpha_batch(stack, one)


def obs_key_chroma(key) -> tuple[float, float]:
    """(Cr, Cb) of a key colour, computed as the kernel computes a pixel's."""
    r, g, b = (int(v) / 255.0 for v in key)
    cb = ((CB[0] * r + CB[1] * g) + CB[2] * b) + CB[3]
    cr = ((CR[0] * r + CR[1] * g) + CR[2] * b) + CR[3]
    return cr, cb


def obs_batch(stack, keys, similarity, smoothness, spill):
    """(alpha (B, H, W), spill-corrected rgb (B, H, W, 3)) of a stack."""
    b, h, w = stack.shape[:3]
    alpha = np.empty((b, h, w), np.uint8)
    rgb = np.empty((b, h, w, 3), np.uint8)

    def work(slot, lo, hi):
        for i in range(lo, hi):
            kcr, kcb = obs_key_chroma(keys[i])
            _obs_image(stack[i], alpha[i], rgb[i], kcr, kcb, float(similarity), float(smoothness), float(spill))

    run_batch(b, h * w, work)
    return alpha, rgb


def screen_channels(screen: str) -> tuple[int, int, int]:
    """(screen channel, the other two channels) for "green" or "blue"."""
    return (1, 0, 2) if screen == "green" else (2, 0, 1)


def vlahos_d_key(key, screen: str, balance: float) -> float:
    s, a, b = screen_channels(screen)
    return key[s] - balance * max(key[a], key[b])


def vlahos_batch(stack, keys, screens, balance, clip_black, clip_white):
    def one(i, out):
        s, a, b = screen_channels(screens[i])
        d_key = float(vlahos_d_key([int(v) for v in keys[i]], screens[i], balance))
        _vlahos_image(stack[i], out, s, a, b, d_key, float(balance), float(clip_black), float(clip_white))

    return _alpha_batch(stack, one)


def despill_batch(stack, screens, mix, expand, brightness):
    """Despilled (B, H, W, 3) uint8 colour (FFmpeg's despill: red mixes, the other channel expands)."""
    b, h, w = stack.shape[:3]
    out = np.empty_like(stack)
    factor = (1.0 - mix) * (1.0 - expand)

    def work(slot, lo, hi):
        for i in range(lo, hi):
            s, m, o = screen_channels(screens[i])
            _despill_image(stack[i], out[i], s, m, o, float(mix), float(factor), float(brightness))

    run_batch(b, h * w, work)
    return out


@njit(cache=True, nogil=True)
def _unmix_image(img, alpha, out, kr, kg, kb):
    h, w = alpha.shape
    for y in range(h):
        for x in range(w):
            av = alpha[y, x]
            if av == 0 or av == 255:
                out[y, x, 0], out[y, x, 1], out[y, x, 2] = img[y, x, 0], img[y, x, 1], img[y, x, 2]
                continue
            a = av / 255.0
            out[y, x, 0] = _to_u8((img[y, x, 0] - (1.0 - a) * kr) / a / 255.0)
            out[y, x, 1] = _to_u8((img[y, x, 1] - (1.0 - a) * kg) / a / 255.0)
            out[y, x, 2] = _to_u8((img[y, x, 2] - (1.0 - a) * kb) / a / 255.0)


def unmix_batch(stack, alpha, keys):
    """Foreground colour of a (B, H, W, 3) stack with (B, H, W) alpha over (B, 3) key colours."""
    b, h, w = stack.shape[:3]
    out = np.empty_like(stack)

    def work(slot, lo, hi):
        for i in range(lo, hi):
            _unmix_image(stack[i], alpha[i], out[i], float(keys[i, 0]), float(keys[i, 1]), float(keys[i, 2]))

    run_batch(b, h * w, work)
    return out
