"""Matting losses (torch): L1 on the trimap's unknown region, Laplacian pyramid and gradient losses.

All take ``pred`` and ``gt`` alphas of shape (B, 1, H, W) in [0, 1] and an
``unknown`` weight mask of the same shape (1 in the trimap's unknown region),
the region ViTMatte computes its loss on. Each loss is normalised by the
unknown area, so crops with thin bands weigh like crops with wide ones.
"""
from __future__ import annotations

__all__ = ["unknown_l1", "laplacian_loss", "gradient_loss", "matting_loss", "LOSS_WEIGHTS"]

LOSS_WEIGHTS = {"l1": 1.0, "laplacian": 1.0, "gradient": 1.0}
_EPS = 1e-6


def unknown_l1(pred, gt, unknown):
    """Mean |pred - gt| over the unknown region."""
    return ((pred - gt).abs() * unknown).sum() / (unknown.sum() + _EPS)


def _gauss_kernel(device, dtype):
    import torch

    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], device=device, dtype=dtype)
    k = torch.outer(k, k)
    return (k / k.sum())[None, None]


def _pyramid(x, levels: int):
    import torch.nn.functional as F

    kernel = _gauss_kernel(x.device, x.dtype)
    out, current = [], x
    for _ in range(levels):
        blurred = F.conv2d(F.pad(current, (2, 2, 2, 2), mode="reflect"), kernel)
        down = blurred[..., ::2, ::2]
        up = F.interpolate(down, size=current.shape[-2:], mode="bilinear", align_corners=False)
        out.append(current - up)
        current = down
    out.append(current)
    return out


def laplacian_loss(pred, gt, unknown, levels: int = 5):
    """Sum over pyramid levels of 2^level * mean |L_level(pred) - L_level(gt)|, alphas masked to the unknown region.

    Levels stop early when the image becomes too small to blur.
    """
    levels = max(1, min(levels, int(min(pred.shape[-2:])).bit_length() - 3))
    scale = unknown.numel() / (unknown.sum() + _EPS)  # per unknown pixel, like the L1 term
    loss = 0.0
    for i, (lp, lg) in enumerate(zip(_pyramid(pred * unknown, levels), _pyramid(gt * unknown, levels))):
        loss = loss + (2**i) * (lp - lg).abs().mean()
    return loss * scale / (2**levels)


def _sobel(x):
    import torch
    import torch.nn.functional as F

    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=x.device, dtype=x.dtype) / 8
    k = torch.stack([kx, kx.t()])[:, None]
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k)


def gradient_loss(pred, gt, unknown):
    """Mean |grad pred - grad gt| (Sobel, both directions) over the unknown region, scaled to alpha units."""
    diff = (_sobel(pred) - _sobel(gt)).abs().sum(dim=1, keepdim=True)
    return 4.0 * (diff * unknown).sum() / (unknown.sum() + _EPS)


def matting_loss(pred, gt, unknown, weights=None) -> dict:
    """The terms and their weighted sum (``"loss"``) as a dict of scalar tensors."""
    w = dict(LOSS_WEIGHTS, **(weights or {}))
    terms = {"l1": unknown_l1(pred, gt, unknown), "laplacian": laplacian_loss(pred, gt, unknown),
             "gradient": gradient_loss(pred, gt, unknown)}  # fmt: skip
    terms["loss"] = sum(w[k] * v for k, v in terms.items())
    return terms
