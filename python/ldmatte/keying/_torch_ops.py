"""The keyers and the despill as torch operations, on the input tensor's device.

Same arithmetic as the Numba kernels (``_kernels``), operation for operation:
int64 chroma, float64 distances added in the same order, the same rounding. The
input is a (B, H, W, 3) uint8 tensor; key colours come as a (B, 3) numpy array.
"""
from __future__ import annotations

import numpy as np

from ._kernels import CB, CR, U_R, U_G, U_B, V_R, V_G, V_B, obs_key_chroma, screen_channels, vlahos_d_key


def _torch():
    import torch

    return torch


def _per_image(values, t, dtype):
    """(B, 1, 1) tensor of per-image scalars on ``t``'s device."""
    torch = _torch()
    return torch.as_tensor(np.asarray(values), dtype=dtype, device=t.device).reshape(-1, 1, 1)


def _clamped_shift(x, dy, dx):
    """x[:, clamp(y + dy), clamp(x + dx)] for a (B, H, W, ...) tensor (clamp-to-edge neighbours)."""
    torch = _torch()
    h, w = x.shape[1], x.shape[2]
    iy = torch.clamp(torch.arange(h, device=x.device) + dy, 0, h - 1)
    ix = torch.clamp(torch.arange(w, device=x.device) + dx, 0, w - 1)
    return x.index_select(1, iy).index_select(2, ix)


def _alpha_from_diff(diff, similarity, blend):
    torch = _torch()
    if blend > 0.0001:
        a = torch.clamp((diff - similarity) / blend, 0.0, 1.0) * 255.0
        return a.to(torch.uint8)  # truncation toward zero, as the C cast (a >= 0)
    return torch.where(diff > similarity, 255, 0).to(torch.uint8)


def _to_u8(v):
    torch = _torch()
    return torch.clamp(torch.floor(v * 255.0 + 0.5), 0.0, 255.0).to(torch.uint8)


def chromakey(stack, keys, similarity, blend):
    torch = _torch()
    c = stack.to(torch.int64)
    r, g, b = c[..., 0], c[..., 1], c[..., 2]
    kr, kg, kb = (keys[:, i].astype(np.int64) for i in range(3))
    ku = ((U_R * kr + U_G * kg + U_B * kb + 512) >> 10) + 128
    kv = ((V_R * kr + V_G * kg + V_B * kb + 512) >> 10) + 128
    du = (((U_R * r + U_G * g + U_B * b + 512) >> 10) + 128) - _per_image(ku, stack, torch.int64)
    dv = (((V_R * r + V_G * g + V_B * b + 512) >> 10) + 128) - _per_image(kv, stack, torch.int64)
    dist = torch.sqrt((du * du + dv * dv).to(torch.float64) / 130050.0)
    diff = torch.zeros_like(dist)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            diff = diff + _clamped_shift(dist, dy, dx)
    return _alpha_from_diff(diff / 9.0, float(similarity), float(blend))


def colorkey(stack, keys, similarity, blend):
    torch = _torch()
    d = stack.to(torch.int64) - torch.as_tensor(keys.astype(np.int64), device=stack.device).reshape(-1, 1, 1, 3)
    sq = d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1] + d[..., 2] * d[..., 2]
    diff = torch.sqrt(sq.to(torch.float64) / 195075.0)
    return _alpha_from_diff(diff, float(similarity), float(blend))


def _obs_dist(r, g, b, kcr, kcb):
    torch = _torch()
    cb = ((CB[0] * r + CB[1] * g) + CB[2] * b) + CB[3]
    cr = ((CR[0] * r + CR[1] * g) + CR[2] * b) + CR[3]
    dcr, dcb = cr - kcr, cb - kcb
    return torch.sqrt(dcr * dcr + dcb * dcb)


def _saturate_pow15(v):
    torch = _torch()
    v = torch.clamp(v, 0.0, 1.0)
    return v * torch.sqrt(v)


def obs(stack, keys, similarity, smoothness, spill):
    torch = _torch()
    chroma = np.array([obs_key_chroma(k) for k in keys], np.float64)
    kcr, kcb = _per_image(chroma[:, 0], stack, torch.float64), _per_image(chroma[:, 1], stack, torch.float64)
    c = stack.to(torch.int64)

    def pair(a, b):  # (dy, dx) of two pixels -> distance of their mean colour
        p, q = _clamped_shift(c, *a), _clamped_shift(c, *b)
        s = (p + q).to(torch.float64) / 510.0
        return _obs_dist(s[..., 0], s[..., 1], s[..., 2], kcr, kcb)

    d = pair((-1, -1), (0, -1))
    d = d + pair((0, 1), (1, 1))
    d = d + pair((1, -1), (1, 0))
    d = d + pair((-1, 0), (-1, 1))
    f = stack.to(torch.float64) / 255.0
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    d = (d * 2.0 + _obs_dist(r, g, b, kcr, kcb)) / 9.0
    base = d - float(similarity)
    alpha = _to_u8(_saturate_pow15(base / float(smoothness)))
    s = _saturate_pow15(base / float(spill))
    desat = (0.2126 * r + 0.7152 * g) + 0.0722 * b
    rgb = torch.stack([_to_u8(desat + (ch - desat) * s) for ch in (r, g, b)], dim=-1)
    return alpha, rgb


def vlahos(stack, keys, screens, balance, clip_black, clip_white):
    torch = _torch()
    f = stack.to(torch.float64)
    chans = [screen_channels(s) for s in screens]
    idx = torch.as_tensor(np.array(chans, np.int64), device=stack.device)  # (B, 3)
    picked = torch.gather(f, 3, idx.reshape(-1, 1, 1, 3).expand(*f.shape[:3], 3))
    d_key = np.array([vlahos_d_key([int(v) for v in k], s, balance) for k, s in zip(keys, screens)], np.float64)
    d = picked[..., 0] - balance * torch.maximum(picked[..., 1], picked[..., 2])
    a = 1.0 - d / _per_image(d_key, stack, torch.float64)
    return _to_u8((torch.clamp(a, clip_black, clip_white) - clip_black) / (clip_white - clip_black))


def despill(stack, screens, mix, expand, brightness):
    torch = _torch()
    factor = (1.0 - mix) * (1.0 - expand)
    f = stack.to(torch.float64) / 255.0
    chans = np.array([screen_channels(s) for s in screens], np.int64)  # (B, 3): screen, mix, other
    idx = torch.as_tensor(chans, device=stack.device).reshape(-1, 1, 1, 3).expand(*f.shape[:3], 3)
    p = torch.gather(f, 3, idx)
    s, m, o = p[..., 0], p[..., 1], p[..., 2]
    spill = torch.clamp(s - (m * mix + o * factor), min=0.0)
    new = torch.stack([torch.clamp((s - spill) + brightness * spill, min=0.0),
                       torch.clamp(m + brightness * spill, min=0.0),
                       torch.clamp(o + brightness * spill, min=0.0)], dim=-1)
    out = torch.empty_like(stack)
    out.scatter_(3, idx, _to_u8(new))
    return out


def unmix(stack, alpha, keys):
    torch = _torch()
    k = torch.as_tensor(keys.astype(np.float64), device=stack.device).reshape(-1, 1, 1, 3)
    a = (alpha.to(torch.float64) / 255.0).unsqueeze(-1)
    f = stack.to(torch.float64)
    safe = torch.where((alpha > 0).unsqueeze(-1), a, torch.ones_like(a))
    fg = _to_u8((f - (1.0 - a) * k) / safe / 255.0)
    keep = ((alpha == 0) | (alpha == 255)).unsqueeze(-1)
    return torch.where(keep, stack, fg)
