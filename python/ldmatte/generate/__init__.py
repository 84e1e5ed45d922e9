"""Layer Diffusion generation on diffusers (needs the ``gen`` extra: torch, diffusers, transformers, safetensors).

- :class:`LayerDiffusionPipeline`: SDXL + the LayerDiffuse UNet offset + the
  transparent decoder with batched test-time augmentation, then :func:`ldmatte.refine`.
- :class:`TransparentDecoder`, :func:`load_transparent_decoder`: the decoder ("UNet1024").
- :func:`tta_batched`, :func:`tta_sequential`: the 8-way augmentation, batched and reference.
- :func:`merge_unet_offset`, :func:`check_state_dict`, :class:`WeightsMismatchError`: strict weights.

Names are imported on first use, so ``import ldmatte.generate`` costs nothing
until one of them is needed.
"""
from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "LayerDiffusionPipeline": "pipeline",
    "GenerationResult": "pipeline",
    "TransparentDecoder": "decoder",
    "UNET1024_CONFIG": "decoder",
    "load_transparent_decoder": "decoder",
    "decode_transparent": "decode",
    "vae_decode": "decode",
    "rgba_to_uint8": "decode",
    "tta_batched": "tta",
    "tta_sequential": "tta",
    "TRANSFORMS": "tta",
    "WeightsMismatchError": "weights",
    "check_state_dict": "weights",
    "merge_unet_offset": "weights",
    "load_weights": "weights",
    "DECODER_FILE": "weights",
    "UNET_OFFSET_FILE": "weights",
    "HUB_REPO": "weights",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
