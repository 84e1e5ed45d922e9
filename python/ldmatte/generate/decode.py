"""From diffusion latents to transparent RGBA: VAE decode, transparent decoder with TTA, uint8."""
from __future__ import annotations

import torch

from .tta import tta_batched, tta_sequential

__all__ = ["TTA_MODES", "decode_transparent", "rgba_to_uint8", "unscale_latents", "vae_decode"]

TTA_MODES = ("batched", "sequential", "none")


def unscale_latents(vae, latents: torch.Tensor) -> torch.Tensor:
    """Diffusion latents -> VAE latents (divide by the scaling factor, or de-normalise)."""
    cfg = vae.config
    mean, std = getattr(cfg, "latents_mean", None), getattr(cfg, "latents_std", None)
    if mean is not None and std is not None:
        mean = torch.tensor(mean, device=latents.device, dtype=latents.dtype).view(1, -1, 1, 1)
        std = torch.tensor(std, device=latents.device, dtype=latents.dtype).view(1, -1, 1, 1)
        return latents * std / cfg.scaling_factor + mean
    return latents / cfg.scaling_factor


@torch.no_grad()
def vae_decode(vae, z: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
    """RGB in [0, 1], float32, (B, 3, 8h, 8w), from VAE latents ``z`` (B, 4, h, w).

    Decodes in the VAE's own dtype, ``batch_size`` latents at a time. A float16
    VAE can overflow (the SDXL VAE does): batches that come out non-finite are
    decoded again with the VAE upcast to float32, which is then cast back.
    """
    dtype = vae.dtype
    step = batch_size or z.shape[0]
    parts = []
    for s in range(0, z.shape[0], step):
        chunk = z[s : s + step].to(dtype)
        pixel = vae.decode(chunk).sample.float()
        if dtype == torch.float16 and not torch.isfinite(pixel).all():
            vae.to(torch.float32)
            try:
                pixel = vae.decode(chunk.float()).sample.float()
            finally:
                vae.to(dtype)
        parts.append((pixel * 0.5 + 0.5).clip(0, 1))
    return torch.cat(parts)


def _param_dtype(module, default):
    """dtype of a module's first floating-point parameter (``default`` if it has none)."""
    params = module.parameters() if isinstance(module, torch.nn.Module) else ()
    return next((p.dtype for p in params if p.is_floating_point()), default)


@torch.no_grad()
def decode_transparent(
    decoder, pixel: torch.Tensor, z: torch.Tensor, tta: str = "batched", sub_batch: int | None = None
) -> torch.Tensor:
    """Straight RGBA in [0, 1], (B, H, W, 4), in the decoder's dtype.

    Parameters
    ----------
    decoder : TransparentDecoder
    pixel : (B, 3, H, W) tensor
        The VAE's RGB decode in [0, 1] (:func:`vae_decode`).
    z : (B, 4, H/8, W/8) tensor
        The VAE latents it came from.
    tta : {"batched", "sequential", "none"}
        8-way test-time augmentation batched, LayerDiffuse's sequential reference,
        or a single pass.
    sub_batch : int, optional
        Most samples per decoder pass (batched TTA and no-TTA).

    Examples
    --------
    >>> import torch
    >>> from ldmatte.generate.decode import decode_transparent
    >>> class Fake(torch.nn.Module):  # alpha 1, foreground = the input
    ...     def forward(self, p, z): return torch.cat([torch.ones_like(p[:, :1]), p], 1)
    >>> px = torch.rand(2, 3, 8, 8)
    >>> out = decode_transparent(Fake(), px, torch.zeros(2, 4, 1, 1))
    >>> out.shape, bool(torch.equal(out[..., :3], px.movedim(1, -1)))
    (torch.Size([2, 8, 8, 4]), True)
    """
    if tta not in TTA_MODES:
        raise ValueError(f"tta must be one of {TTA_MODES}, got {tta!r}")
    dtype = _param_dtype(decoder, pixel.dtype)
    pixel, z = pixel.to(dtype), z.to(dtype)
    if tta == "batched":
        y = tta_batched(decoder, pixel, z, sub_batch)
    elif tta == "sequential":
        y = tta_sequential(decoder, pixel, z)
    else:
        step = sub_batch or pixel.shape[0]
        y = torch.cat([decoder(pixel[s : s + step], z[s : s + step]) for s in range(0, pixel.shape[0], step)])
    y = y.clip(0, 1).movedim(1, -1)
    # Channel 0 is alpha, 1..3 the foreground: reorder to RGBA.
    return torch.cat([y[..., 1:4], y[..., :1]], dim=-1).contiguous()


def rgba_to_uint8(rgba: torch.Tensor) -> torch.Tensor:
    """uint8 RGBA as LayerDiffuse writes its PNGs: ``x * 255`` in the decoder's dtype, then clipped
    to [0, 255] in float32 and truncated (same device).

    LayerDiffuse multiplies the float16 decoder output by 255 *in float16* and only then
    converts to float32 and truncates. Rounding the product to float16 (steps of 1/8 above
    128) lifts values just below an integer to it, so about 3 % of the values come out one
    level above an exact float32 product; doing the same reproduces its PNGs bit for bit.
    float32 input is scaled in float32 (what LayerDiffuse would do with a float32 decoder);
    bfloat16 (never LayerDiffuse's) is scaled in float32, where the product is exact.

    Examples
    --------
    >>> import torch
    >>> from ldmatte.generate.decode import rgba_to_uint8
    >>> x = torch.tensor([0.5019]).half()  # 0.50195... in float16; x 255 = 127.998 -> 128.0 in float16
    >>> rgba_to_uint8(x).item(), rgba_to_uint8(x.float()).item()
    (128, 127)
    """
    scaled = rgba * 255.0 if rgba.dtype in (torch.float16, torch.float32) else rgba.float() * 255.0
    return scaled.float().clip(0, 255).to(torch.uint8)
