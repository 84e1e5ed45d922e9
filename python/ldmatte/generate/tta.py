"""The decoder's 8-way test-time augmentation: the sequential reference and a batched version.

The 8 variants are {no flip, horizontal flip} x rot90 by k = 0..3, applied to the
pixel and the latent alike; each output is clipped to [0, 1], the transform is
undone, and the per-pixel, per-channel median of the 8 is taken with
``torch.median`` semantics (the lower of the two middle values).

:func:`tta_sequential` is LayerDiffuse's schedule: per image, 8 forward passes of
batch 1. :func:`tta_batched` stacks every variant of every image into one
forward pass per output shape (two for non-square images, whose odd rotations
swap height and width), split into sub-batches of at most ``sub_batch`` samples to
bound memory. Convolutions, group norms and attention act per sample, so both
give the same result up to float rounding.
"""
from __future__ import annotations

import torch

__all__ = ["TRANSFORMS", "forward_transform", "inverse_transform", "tta_batched", "tta_sequential"]

#: (flip, k) of the 8 variants, in LayerDiffuse's order.
TRANSFORMS = tuple((flip, k) for flip in (False, True) for k in range(4))


def forward_transform(x: torch.Tensor, flip: bool, k: int) -> torch.Tensor:
    """Flip the last axis (if ``flip``), then rotate the last two axes by ``k`` quarter turns."""
    if flip:
        x = torch.flip(x, dims=(-1,))
    return torch.rot90(x, k=k, dims=(-2, -1))


def inverse_transform(x: torch.Tensor, flip: bool, k: int) -> torch.Tensor:
    """Undo :func:`forward_transform`."""
    x = torch.rot90(x, k=-k, dims=(-2, -1))
    return torch.flip(x, dims=(-1,)) if flip else x


def _check(pixel, latent):
    if not (isinstance(pixel, torch.Tensor) and isinstance(latent, torch.Tensor)):
        raise TypeError("pixel and latent must be torch tensors")
    if pixel.ndim != 4 or latent.ndim != 4 or pixel.shape[0] != latent.shape[0]:
        raise ValueError(
            f"expected pixel (B, C, H, W) and latent (B, C, H/8, W/8) with the same B, "
            f"got {tuple(pixel.shape)} and {tuple(latent.shape)}"
        )
    if pixel.shape[-2] != 8 * latent.shape[-2] or pixel.shape[-1] != 8 * latent.shape[-1]:
        raise ValueError(f"pixel {tuple(pixel.shape)} must be 8 times the latent {tuple(latent.shape)} per side")


@torch.no_grad()
def tta_sequential(model, pixel: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
    """Reference: per image, the 8 variants one after the other with batch 1.

    Parameters
    ----------
    model : callable
        ``model(pixel, latent) -> (B, C_out, H, W)``, e.g. a :class:`TransparentDecoder`.
    pixel : (B, 3, H, W) tensor
    latent : (B, 4, H/8, W/8) tensor

    Returns
    -------
    median : (B, C_out, H, W) tensor in [0, 1]

    Examples
    --------
    >>> import torch
    >>> from ldmatte.generate.tta import tta_sequential
    >>> model = lambda p, z: p[:, :1].clone()
    >>> px = torch.rand(1, 3, 16, 8); z = torch.zeros(1, 4, 2, 1)
    >>> torch.equal(tta_sequential(model, px, z), px[:, :1])  # an equivariant model is unchanged
    True
    """
    _check(pixel, latent)
    results = []
    for i in range(pixel.shape[0]):
        outs = []
        for flip, k in TRANSFORMS:
            y = model(forward_transform(pixel[i : i + 1], flip, k), forward_transform(latent[i : i + 1], flip, k))
            outs.append(inverse_transform(y.clip(0, 1), flip, k))
        results.append(torch.median(torch.stack(outs), dim=0).values)
    return torch.cat(results)


def _run_chunks(model, pixel, latent, sub_batch):
    n = pixel.shape[0]
    step = n if not sub_batch else int(sub_batch)
    if step == n:
        return model(pixel, latent)
    return torch.cat([model(pixel[s : s + step], latent[s : s + step]) for s in range(0, n, step)])


@torch.no_grad()
def tta_batched(model, pixel: torch.Tensor, latent: torch.Tensor, sub_batch: int | None = None) -> torch.Tensor:
    """All 8 variants of all images in one forward pass per output shape.

    Parameters
    ----------
    model, pixel, latent
        As in :func:`tta_sequential`.
    sub_batch : int, optional
        Most samples per forward pass (one image contributes 8); None = all at once.
        Bounds activation memory; the result does not depend on it beyond rounding.

    Returns
    -------
    median : (B, C_out, H, W) tensor in [0, 1], the same as :func:`tta_sequential`
        up to float rounding.

    Examples
    --------
    >>> import torch
    >>> from ldmatte.generate.tta import tta_batched, tta_sequential
    >>> conv = torch.nn.Conv2d(3, 2, 3, padding=1)
    >>> model = lambda p, z: conv(p) + z.repeat_interleave(8, -1).repeat_interleave(8, -2)[:, :1]
    >>> px, z = torch.rand(2, 3, 16, 24), torch.randn(2, 4, 2, 3)
    >>> bool(torch.allclose(tta_batched(model, px, z, sub_batch=5), tta_sequential(model, px, z), atol=1e-6))
    True
    """
    _check(pixel, latent)
    if sub_batch is not None and (isinstance(sub_batch, bool) or not isinstance(sub_batch, int) or sub_batch < 1):
        raise ValueError(f"sub_batch must be a positive int or None, got {sub_batch!r}")
    b = pixel.shape[0]
    square = pixel.shape[-1] == pixel.shape[-2]
    # Variants with the same output shape share a pass: all 8 for square images,
    # even and odd rotations apart otherwise.
    groups = [list(range(8))] if square else [[i for i, (_, k) in enumerate(TRANSFORMS) if k % 2 == p] for p in (0, 1)]
    outs: list = [None] * len(TRANSFORMS)
    for group in groups:
        px = torch.cat([forward_transform(pixel, *TRANSFORMS[i]) for i in group])
        lt = torch.cat([forward_transform(latent, *TRANSFORMS[i]) for i in group])
        y = _run_chunks(model, px, lt, sub_batch).clip(0, 1)
        for j, i in enumerate(group):
            outs[i] = inverse_transform(y[j * b : (j + 1) * b], *TRANSFORMS[i])
    return torch.median(torch.stack(outs), dim=0).values
