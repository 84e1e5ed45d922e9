"""Procedural portraits with ground truth and Layer-Diffusion-like alpha artifacts.

A sample is a head, neck, shoulders and torso cut by the bottom frame, an arm
whose hand rests on the waist so that it encloses a real hole (alpha 0), and
hundreds of thin anti-aliased hair strands of varied opacity. The raw RGBA then
gets the artifacts measured on real Layer Diffusion outputs (see the refinement
spec): near-opaque jitter (245..254, thousands of small pieces) and a few deeper
texture strokes inside the body, translucent interior patches, a darker
1-pixel rim where the subject meets the frame, floating haze blobs, faint
background speckle and haze touching the subject; and, off in the presets,
translucent patches reaching the body's border (``border_patches``). The ground truth is drawn
once per seed; the artifacts use their own random streams, so the same seed
gives the same ground truth at every artifact level.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
from scipy.special import ndtri

__all__ = ["SyntheticSample", "make_sample", "make_batch", "ARTIFACT_KINDS", "ARTIFACT_PRESETS"]

ARTIFACT_KINDS = ("jitter", "strokes", "patches", "rim", "haze", "speckle", "halo", "border_patches")
ARTIFACT_PRESETS = {
    "none": dict.fromkeys(ARTIFACT_KINDS, 0.0),
    # border_patches is off in the presets: the band study of the real outputs (bench/band_study.py) found
    # no translucent patch reaching the border; it is there to measure what the rule does if one occurs.
    "realistic": {**dict.fromkeys(ARTIFACT_KINDS, 1.0), "border_patches": 0.0},
    "heavy": dict(jitter=2.0, strokes=2.0, patches=3.0, rim=1.5, haze=3.0, speckle=3.0, halo=3.0, border_patches=0.0),
}
MIN_SIZE = 80  # below this the anti-aliased arm can close its hole
_SUB = 16  # fixed-point factor for sub-pixel cv2 drawing (shift=4)


@dataclasses.dataclass
class SyntheticSample:
    """One synthetic portrait: the raw RGBA with artifacts and its ground truth."""

    rgba: np.ndarray  # (H, W, 4) uint8, straight colour, smooth padded colour where alpha == 0
    alpha_gt: np.ndarray  # (H, W) uint8
    rgb_gt: np.ndarray  # (H, W, 3) uint8, straight foreground colour (smooth padded colour where alpha_gt == 0)
    hair: np.ndarray  # (H, W) bool, ground-truth hair transition pixels
    hole: np.ndarray  # (H, W) bool, alpha_gt == 0 enclosed by the arm
    seed: int


def _check_size(size) -> tuple[int, int]:
    hw = (size, size) if isinstance(size, (int, np.integer)) and not isinstance(size, bool) else size
    if (
        not isinstance(hw, (tuple, list))
        or len(hw) != 2
        or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in hw)
    ):
        raise TypeError(f"size must be an int or a (height, width) tuple of ints, got {size!r}")
    if min(hw) < MIN_SIZE:
        raise ValueError(f"size must be at least {MIN_SIZE} pixels per side (smaller arms close their hole), "
                         f"got {tuple(hw)}")
    return int(hw[0]), int(hw[1])


def _check_artifacts(artifacts) -> dict:
    if isinstance(artifacts, str):
        if artifacts not in ARTIFACT_PRESETS:
            raise ValueError(f"artifacts must be one of {sorted(ARTIFACT_PRESETS)} or a dict, got {artifacts!r}")
        return dict(ARTIFACT_PRESETS[artifacts])
    if not isinstance(artifacts, dict):
        raise TypeError(f"artifacts must be a preset name or a dict of levels, got {type(artifacts).__name__}")
    unknown = set(artifacts) - set(ARTIFACT_KINDS)
    if unknown:
        raise ValueError(f"unknown artifact kinds {sorted(unknown)}; known: {ARTIFACT_KINDS}")
    levels = dict.fromkeys(ARTIFACT_KINDS, 0.0)
    for kind, level in artifacts.items():
        if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 <= level <= 10:
            raise ValueError(f"artifact level of {kind!r} must be a number in [0, 10], got {level!r}")
        levels[kind] = float(level)
    return levels


def _pts(xy) -> np.ndarray:
    return np.round(np.asarray(xy, np.float64) * _SUB).astype(np.int32)


def _smooth_noise(rng, h, w, scale: float) -> np.ndarray:
    """Zero-mean, unit-std noise with features about `scale` pixels wide (drawn coarse, resized)."""
    gh, gw = max(2, int(h / scale) + 2), max(2, int(w / scale) + 2)
    field = cv2.resize(rng.standard_normal((gh, gw)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    return (field - field.mean()) / (field.std() + 1e-6)


# ------------------------------------------------------------------ ground truth


def _body(rng, h, w):
    """Anti-aliased coverage (uint8) of skin, clothes and the hair volume, plus the hair ellipse."""
    cx = w * (0.5 + rng.uniform(-0.04, 0.04))
    hx, hy, rx, ry = cx, h * rng.uniform(0.33, 0.38), w * rng.uniform(0.14, 0.18), h * rng.uniform(0.18, 0.22)
    skin, clothes, cap = (np.zeros((h, w), np.uint8) for _ in range(3))
    cv2.ellipse(skin, _pts((hx, hy)), _pts((rx, ry)), 0, 0, 360, 255, -1, cv2.LINE_AA, 4)
    # The hair volume: a larger ellipse over the skull, down the sides for longer hair.
    hair_ell = (hx, hy - 0.08 * ry, rx * rng.uniform(1.1, 1.25), ry * rng.uniform(1.05, 1.15))
    t = np.radians(np.linspace(180 - rng.uniform(0, 35), 360 + rng.uniform(0, 35), 64))
    arc = np.stack([hair_ell[0] + hair_ell[2] * np.cos(t), hair_ell[1] + hair_ell[3] * np.sin(t)], axis=1)
    cv2.fillPoly(cap, [_pts(arc)], 255, cv2.LINE_AA, 4)  # closed by the chord between the arc's ends
    neck_w, sh_y = rx * rng.uniform(0.6, 0.75), hy + ry * rng.uniform(1.35, 1.5)
    neck = [(cx - neck_w / 2, hy + 0.6 * ry), (cx + neck_w / 2, hy + 0.6 * ry), (cx + neck_w * 0.6, sh_y + 0.02 * h),
            (cx - neck_w * 0.6, sh_y + 0.02 * h)]
    cv2.fillPoly(skin, [_pts(neck)], 255, cv2.LINE_AA, 4)
    half_sh, half_bot, drop = w * rng.uniform(0.25, 0.29), w * rng.uniform(0.3, 0.34), h * rng.uniform(0.06, 0.1)
    t = np.linspace(0, np.pi / 2, 24)
    xs, ys = cx - neck_w * 0.55 - (half_sh - neck_w * 0.55) * np.sin(t), sh_y + drop * (1 - np.cos(t))
    left = list(zip(xs, ys))
    torso = left + [(cx - half_bot, h + 20), (cx + half_bot, h + 20)] + [(2 * cx - x, y) for x, y in left[::-1]]
    cv2.fillPoly(clothes, [_pts(torso)], 255, cv2.LINE_AA, 4)
    # Hand on the hip: shoulder -> elbow outside the torso -> hand back on the waist encloses a hole.
    side, thick = rng.choice([-1.0, 1.0]), w * rng.uniform(0.045, 0.06)
    arm = [(cx + side * (half_sh - thick * 0.5), sh_y + drop),
           (cx + side * (half_sh + w * rng.uniform(0.12, 0.15)), sh_y + (h - sh_y) * rng.uniform(0.45, 0.55)),
           (cx + side * (half_sh * 0.92), h - 0.06 * h)]
    cv2.polylines(skin, [_pts(arm)], False, 255, max(1, int(thick)), cv2.LINE_AA, 4)
    cv2.circle(skin, _pts(arm[2]), int(thick * 0.6 * _SUB), 255, -1, cv2.LINE_AA, 4)
    return skin, clothes, cap, hair_ell


def _hair(rng, h, w, ell):
    """Hundreds of thin anti-aliased strands rooted in the hair volume, opacity varied and fading to the tip."""
    ex, ey, erx, ery = ell
    n, steps, chunks = int(rng.integers(250, 500) * max(min(h, w) / 1024, 0.25)), 24, 4
    ang = rng.uniform(np.pi * 0.85, np.pi * 2.15, n)  # the top and the sides
    r0 = rng.uniform(0.8, 0.97, n)
    length = w * rng.uniform(0.03, 0.16, n)
    curl = rng.normal(0, 0.07, (n, 1))
    heading = ang[:, None] + rng.normal(0, 0.35, (n, 1)) + np.cumsum(curl + rng.normal(0, 0.08, (n, steps)), axis=1)
    step = (length / steps)[:, None]
    x = ex + erx * r0 * np.cos(ang)
    y = ey + ery * r0 * np.sin(ang)
    px = np.concatenate([x[:, None], x[:, None] + np.cumsum(step * np.cos(heading), axis=1)], axis=1)
    py = np.concatenate([y[:, None], y[:, None] + np.cumsum(step * np.sin(heading), axis=1)], axis=1)
    pts = _pts(np.stack([px, py], axis=-1))  # (n, steps + 1, 2)
    # Each strand is drawn in chunks; a chunk's opacity fades toward the tip and picks an opacity bin.
    frac = (np.arange(chunks) + 0.5) / chunks
    opacity = rng.beta(1.6, 1.4, (n, 1)) * (1 - 0.85 * frac**1.5)
    levels = np.linspace(0.1, 1.0, 10)
    bins = np.clip(np.searchsorted(levels, opacity), 0, len(levels) - 1)
    per = steps // chunks
    clear = np.ones((h, w), np.float32)
    canvas = np.zeros((h, w), np.uint8)
    for b, o in enumerate(levels):
        idx = np.argwhere(bins == b)
        if len(idx):
            canvas[:] = 0
            segs = [pts[i, c * per : (c + 1) * per + 1] for i, c in idx]
            cv2.polylines(canvas, segs, False, 255, 1, cv2.LINE_AA, 4)
            clear *= 1 - canvas * np.float32(o / 255)
    return 1 - clear


def _colour(rng, skin_w, hair_w, h, w):
    """Straight colour (float32 0..255): clothes, skin and hair tones with soft shading."""
    tone = rng.uniform(0.35, 1.0)
    skin_c = np.array([225, 180, 150]) * tone + rng.uniform(-10, 10, 3)
    hair_c = rng.uniform(15, 200) * np.array([1.0, 0.75, 0.55]) + rng.uniform(-10, 10, 3)
    cloth_c = rng.uniform(30, 230, 3)
    shade = 1 + 0.08 * _smooth_noise(rng, h, w, 64 * min(h, w) / 1024)
    channels = []
    for c in range(3):  # per channel: 2-D arithmetic is much cheaper than broadcasting over (H, W, 3)
        ch = np.float32(cloth_c[c]) + skin_w * np.float32(skin_c[c] - cloth_c[c])
        ch += hair_w * (np.float32(hair_c[c]) - ch)
        channels.append(np.clip(ch * shade, 0, 255))
    return cv2.merge(channels)


def _smooth_fill(rgb, alpha):
    """LayerDiffuse-like smooth colour where alpha is 0 (normalised blur at a coarse scale)."""
    h, w = alpha.shape
    small = (max(4, w // 16), max(4, h // 16))
    pa = cv2.resize(alpha, small, interpolation=cv2.INTER_AREA)
    prgb = cv2.resize(rgb * alpha[..., None], small, interpolation=cv2.INTER_AREA)
    sig = max(small) / 8
    pa, prgb = cv2.GaussianBlur(pa, (0, 0), sig), cv2.GaussianBlur(prgb, (0, 0), sig)
    fill = prgb / np.maximum(pa, 1e-4)[..., None]
    mean = (rgb * alpha[..., None]).reshape(-1, 3).sum(0) / max(float(alpha.sum()), 1e-4)
    fill = np.where(pa[..., None] > 1e-3, fill, mean)
    return cv2.resize(fill.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)


def _enclosed_zero(alpha_u8):
    """Pixels with alpha 0 in components that do not reach the frame (real holes)."""
    n, lab = cv2.connectedComponents((alpha_u8 == 0).view(np.uint8), connectivity=4)
    frame = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    return (lab > 0) & ~np.isin(lab, frame)


def _ground_truth(seed, h, w):
    rng = np.random.default_rng([seed, 0])
    skin, clothes, cap, ell = _body(rng, h, w)
    hair = _hair(rng, h, w, ell)
    # Layer Diffusion draws soft silhouettes (a 2-4 px ramp on real outputs): blur the body, not the strands.
    sigma = rng.uniform(0.8, 2.0) * min(h, w) / 1024
    skin, clothes, cap = (cv2.GaussianBlur(c.astype(np.float32) / 255, (0, 0), sigma) for c in (skin, clothes, cap))
    body = 1 - (1 - skin) * (1 - clothes) * (1 - cap)
    alpha = 1 - (1 - body) * (1 - hair)
    # Straight-colour weights: a half-covered edge pixel of skin is skin-coloured, not skin mixed with clothes.
    skin_w = np.minimum(skin / np.maximum(body, 1e-3), 1)
    hair_w = np.minimum(cap + hair / np.maximum(alpha, 1e-3), 1)
    rgb = _colour(rng, skin_w, hair_w, h, w)
    alpha_u8 = np.round(alpha * 255).astype(np.uint8)
    hair_mask = (hair * 255 >= 0.5) & (alpha_u8 > 0) & (alpha_u8 < 255)
    return alpha_u8, rgb, hair_mask, _enclosed_zero(alpha_u8)


# ------------------------------------------------------------------ artifacts (deficits lower the opaque body,
# haze is composited over everything; both in alpha units 0..1)


def _jitter(rng, gt, lv, inside):
    """Near-opaque interior error: small pieces at 254..245 with a heavy tail, thousands per image."""
    h, w = gt.shape
    cover = min(0.6, lv * rng.uniform(0.02, 0.14))
    field = cv2.GaussianBlur(rng.standard_normal((h, w), np.float32), (0, 0), 0.8)
    field /= field.std() + 1e-6
    excess = np.maximum(field - np.float32(ndtri(1 - cover)), 0)
    # A slowly varying gain: textured regions (hair, fabric) err more than smooth skin.
    gain = np.exp(0.9 * _smooth_noise(rng, h, w, 40)) * rng.uniform(1.2, 3.5) * max(lv, 0.25) ** 0.5
    return excess * gain / 255


def _strokes(rng, gt, lv, inside):
    """Deeper thin strokes inside the body (collars, seams, facial lines): elongated U pieces."""
    h, w = gt.shape
    canvas = np.zeros((h, w), np.uint8)
    ys, xs = np.nonzero(inside[::4, ::4])
    n = rng.poisson(lv * 10)
    for _ in range(n if len(ys) else 0):
        i = rng.integers(len(ys))
        x, y, heading = xs[i] * 4.0, ys[i] * 4.0, rng.uniform(0, 2 * np.pi)
        pts = [(x, y)]
        for _ in range(int(rng.integers(4, 30))):
            heading += rng.normal(0, 0.3)
            x, y = x + 5 * np.cos(heading), y + 5 * np.sin(heading)
            pts.append((x, y))
        depth = int(np.clip(rng.lognormal(np.log(12), 0.6) * lv**0.5, 3, 200))
        cv2.polylines(canvas, [_pts(pts)], False, depth, int(rng.integers(1, 3)), cv2.LINE_AA, 4)
    return canvas.astype(np.float32) / 255


def _patches(rng, gt, lv, inside):
    """Translucent interior patches (soft blobs down to about 215 at realistic level)."""
    h, w = gt.shape
    s = min(h, w) / 1024
    out = np.zeros((h, w), np.float32)
    ys, xs = np.nonzero(inside[::4, ::4])
    for _ in range(rng.poisson(lv * 2.0) if len(ys) else 0):
        i = rng.integers(len(ys))
        r = rng.uniform(5, 18) * s * lv**0.5 + 1
        depth = min(0.8, rng.uniform(10, 40) * lv**0.8 / 255)
        _add_blob(out, xs[i] * 4, ys[i] * 4, r, depth, rng)
    return out


def _add_blob(out, x, y, r, peak, rng):
    """Add an irregular Gaussian blob of radius r (pixels) and height `peak` to `out` in place."""
    h, w = out.shape
    x0, x1 = int(max(0, x - 3 * r)), int(min(w, x + 3 * r + 1))
    y0, y1 = int(max(0, y - 3 * r)), int(min(h, y + 3 * r + 1))
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    sx, sy = r * rng.uniform(0.6, 1.4), r * rng.uniform(0.6, 1.4)
    bump = np.exp(-((xx - x) ** 2 / (2 * sx**2) + (yy - y) ** 2 / (2 * sy**2)))
    wobble = 1 + 0.3 * rng.standard_normal(bump.shape).astype(np.float32)
    out[y0:y1, x0:x1] += peak * bump * cv2.GaussianBlur(wobble, (0, 0), max(r / 4, 0.5))


def _rim(rng, gt, lv, inside):
    """The decoder's darker outermost row/column where the subject meets the frame."""
    out = np.zeros(gt.shape, np.float32)
    depth = min(0.9, lv * rng.uniform(3, 40) / 255)
    for sl in (np.s_[0, :], np.s_[-1, :], np.s_[:, 0], np.s_[:, -1]):
        out[sl] = np.clip(depth + rng.normal(0, 1.5 / 255, out[sl].shape), 0, 1)
    return out


def _haze(rng, gt, lv, inside):
    """Floating haze: small faint blobs (alpha 2..30) and some stronger ones (30..100), anywhere."""
    h, w = gt.shape
    s = min(h, w) / 1024
    out = np.zeros((h, w), np.float32)
    for _ in range(rng.poisson(lv * 8.0)):
        peak = rng.uniform(2, 30) if rng.random() < 0.75 else rng.uniform(30, 100)
        radius = min(40.0, rng.lognormal(np.log(2.5), 0.7)) * s**0.5 + 0.5
        _add_blob(out, rng.uniform(0, w), rng.uniform(0, h), radius, peak / 255, rng)
    return np.clip(out, 0, 1)


def _speckle(rng, gt, lv, inside):
    """Faint background: a wide low field of 1..8 levels in some images, and scattered specks."""
    h, w = gt.shape
    out = np.zeros((h, w), np.float32)
    if rng.random() < min(1.0, 0.25 * lv):  # a wide faint field, as in one real file of four
        amp = min(60.0, rng.uniform(2, 8) * lv) / 255
        out += amp * np.clip(0.5 * _smooth_noise(rng, h, w, 120 * min(h, w) / 1024) + rng.uniform(-0.2, 0.6), 0, 1)
    n = rng.poisson(lv * 1e-4 * h * w)
    ys, xs = rng.integers(0, h, n), rng.integers(0, w, n)
    out[ys, xs] = np.maximum(out[ys, xs], rng.uniform(1, 20, n).astype(np.float32) / 255)
    return out


def _halo(rng, gt, lv, inside):
    """Haze touching the subject: decays away from the silhouette, on some stretches of it only."""
    h, w = gt.shape
    s = min(h, w) / 1024
    dist = cv2.distanceTransform((gt < 0.5).view(np.uint8), cv2.DIST_L2, 5)
    amp = min(200.0, rng.uniform(8, 30) * lv) / 255
    reach = rng.uniform(3, 6) * s * lv**0.7 + 0.5
    where = np.clip(0.8 * _smooth_noise(rng, h, w, 90 * s + 4) + rng.uniform(0.2, 0.8), 0, 1)
    # A Gaussian fall-off: real profiles drop from ~35 at 2 px to ~2 at 8 px and ~0.5 at 12 px.
    return np.where(dist > 0, amp * where * np.exp(-0.5 * (dist / reach) ** 2), 0).astype(np.float32)


def _border_patches(rng, gt, lv, inside):
    """Translucent patches that reach the body's border: band-connected, so the component rule keeps them.

    Shape: an irregular Gaussian blob (as ``_patches``) centred on a pixel of
    the opaque core's outline, radius 8..25 px at 1024 (times sqrt(level)),
    lowering the body by 40..110 levels at its centre (about 145..215 there at
    level 1), so that its translucent part and the border band are one
    uncertain component touching both core and background.
    """
    h, w = gt.shape
    s = min(h, w) / 1024
    out = np.zeros((h, w), np.float32)
    outline = inside & ~cv2.erode(inside.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool)
    ys, xs = np.nonzero(outline)
    for _ in range(rng.poisson(lv * 2.0) if len(ys) else 0):
        i = rng.integers(len(ys))
        r = rng.uniform(8, 25) * s * lv**0.5 + 1
        depth = min(0.8, rng.uniform(40, 110) * lv**0.8 / 255)
        _add_blob(out, xs[i], ys[i], r, depth, rng)
    return out


_MAKERS = dict(jitter=_jitter, strokes=_strokes, patches=_patches, rim=_rim, haze=_haze, speckle=_speckle, halo=_halo,
               border_patches=_border_patches)
_ADDITIVE = ("haze", "speckle", "halo")  # composited over the matte; the others lower the body


def _raw_alpha(seed, gt, levels):
    """Apply every artifact kind with its own random stream; return the raw float alpha."""
    inside = cv2.erode((gt >= 254.5 / 255).view(np.uint8), np.ones((3, 3), np.uint8)).view(bool)
    deficit = np.zeros(gt.shape, np.float32)
    haze = np.zeros(gt.shape, np.float32)
    for k, kind in enumerate(ARTIFACT_KINDS):
        if levels[kind] > 0:
            part = _MAKERS[kind](np.random.default_rng([seed, 1 + k]), gt, levels[kind], inside)
            if kind in _ADDITIVE:
                haze = 1 - (1 - haze) * (1 - np.clip(part, 0, 1))
            else:
                deficit += part
    body = gt * (1 - np.clip(deficit, 0, 1))
    return body + (1 - body) * haze


def make_sample(seed: int, size=1024, artifacts="realistic") -> SyntheticSample:
    """Draw one synthetic portrait with ground truth and Layer-Diffusion-like artifacts.

    Parameters
    ----------
    seed : int
        Everything is deterministic per seed; the ground truth does not depend
        on `artifacts`.
    size : int or (height, width)
        At least ``MIN_SIZE`` (80) per side. Geometry scales with the image; pixel-scale
        artifacts (jitter pieces, 1-pixel strands, the rim) do not.
    artifacts : {"none", "realistic", "heavy"} or dict
        A preset or levels per kind (``ARTIFACT_KINDS``; 0 = off, 1 = the
        level measured on real outputs, up to 10; missing kinds are off).

    Returns
    -------
    SyntheticSample

    Examples
    --------
    >>> from ldmatte.synth import make_sample
    >>> s = make_sample(3, size=128)
    >>> s.rgba.shape, s.alpha_gt.dtype, bool(s.hole.any()), int(s.alpha_gt[s.hole].max())
    ((128, 128, 4), dtype('uint8'), True, 0)
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    h, w = _check_size(size)
    levels = _check_artifacts(artifacts)
    alpha_gt, rgb, hair, hole = _ground_truth(int(seed), h, w)
    gt = alpha_gt.astype(np.float32) / 255
    rgb = np.where((alpha_gt > 0)[..., None], rgb, _smooth_fill(rgb, gt))
    rgb_gt = np.round(rgb).astype(np.uint8)
    raw = _raw_alpha(int(seed), gt, levels)
    rgba = np.concatenate([rgb_gt, np.round(raw * 255).astype(np.uint8)[..., None]], axis=-1)
    return SyntheticSample(rgba=rgba, alpha_gt=alpha_gt, rgb_gt=rgb_gt, hair=hair, hole=hole, seed=int(seed))


def make_batch(n: int, seed: int = 0, size=1024, artifacts="realistic") -> list[SyntheticSample]:
    """Samples ``make_sample(seed + i, size, artifacts)`` for i in 0..n-1.

    Examples
    --------
    >>> from ldmatte.synth import make_batch
    >>> [s.seed for s in make_batch(3, seed=10, size=96)]
    [10, 11, 12]
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    return [make_sample(seed + i, size, artifacts) for i in range(int(n))]
