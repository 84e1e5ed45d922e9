"""Tiny random-weight SDXL + LayerDiffuse components, built from configs: the pipeline end to end on a CPU in seconds.

For tests and benchmarks (no weights are downloaded or shipped): the outputs are
noise, the code paths are those of a real model. Sizes: 64x64 pixels, 8x8
latents. The tokenizer is a byte-level CLIP BPE with no merges, written here
(vocab.json, merges.txt).
"""
from __future__ import annotations

import json
import pathlib

import torch

TINY_DECODER_CONFIG = {
    "block_out_channels": (4, 4, 8, 8),
    "down_block_types": ("DownBlock2D",) * 3 + ("AttnDownBlock2D",),
    "up_block_types": ("AttnUpBlock2D",) + ("UpBlock2D",) * 3,
    "layers_per_block": 1,
    "norm_num_groups": 4,
    "attention_head_dim": 8,
}


def _bytes_to_unicode():
    """GPT-2/CLIP byte-level alphabet: printable stand-ins for the 256 byte values."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    out, extra = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return out


def write_tokenizer(folder) -> pathlib.Path:
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    chars = list(_bytes_to_unicode().values())
    tokens = chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 77}))
    return folder


def tiny_components(tmp_path, seed: int = 0) -> dict:
    """vae, unet, text encoders, tokenizers, scheduler of a tiny SDXL (float32, CPU)."""
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=8, transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=6 * 8 + 16, cross_attention_dim=32, norm_num_groups=4,
    )  # fmt: skip
    vae = AutoencoderKL(
        block_out_channels=(8, 8, 8, 8), in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=4,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, sample_size=64,
    )  # fmt: skip
    text_cfg = dict(hidden_size=16, intermediate_size=32, num_attention_heads=2, num_hidden_layers=2,
                    vocab_size=520, max_position_embeddings=77, bos_token_id=512, eos_token_id=513, pad_token_id=513)
    text_encoder = CLIPTextModel(CLIPTextConfig(**text_cfg, projection_dim=16))
    text_encoder_2 = CLIPTextModelWithProjection(CLIPTextConfig(**text_cfg, projection_dim=16))
    tok_dir = write_tokenizer(pathlib.Path(tmp_path) / "tokenizer")
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1, timestep_spacing="leading"
    )
    return {
        "unet": unet.eval(), "vae": vae.eval(), "text_encoder": text_encoder.eval(),
        "text_encoder_2": text_encoder_2.eval(), "tokenizer": CLIPTokenizer.from_pretrained(tok_dir),
        "tokenizer_2": CLIPTokenizer.from_pretrained(tok_dir), "scheduler": scheduler,
    }  # fmt: skip


def tiny_decoder_weights(seed: int = 0, config=None) -> dict:
    """A random state dict for a (tiny) TransparentDecoder whose outputs are spread over [0, 1]."""
    from ldmatte.generate import TransparentDecoder

    torch.manual_seed(seed)
    model = TransparentDecoder(**(config or TINY_DECODER_CONFIG))
    with torch.no_grad():
        # The published model starts the latent path at zero; random here so that tests exercise it.
        model.latent_conv_in.weight.normal_(0, 0.5)
        # Outputs centred on 0.5 and wide enough that alpha has 0, 255 and soft regions.
        model.conv_out.weight.mul_(3.0)
        y = model(torch.rand(2, 3, 64, 64), torch.randn(2, 4, 8, 8))
        model.conv_out.bias.sub_(y.mean(dim=(0, 2, 3)) - 0.5)
    return {k: v.clone() for k, v in model.state_dict().items()}


def tiny_unet_offset(unet, seed: int = 0) -> dict:
    """Small random offsets for the UNet's attention projections (what LayerDiffuse's offset patches)."""
    g = torch.Generator().manual_seed(seed)
    return {
        k: 0.01 * torch.randn(v.shape, generator=g)
        for k, v in unet.state_dict().items()
        if ".attn1.to_" in k or ".attn2.to_" in k
    }


def save_tiny_model(root, seed: int = 0):
    """Write a diffusers SDXL folder and a LayerDiffuse weights folder; return their paths and the decoder config."""
    from diffusers import StableDiffusionXLPipeline
    from safetensors.torch import save_file

    from ldmatte.generate import DECODER_FILE, UNET_OFFSET_FILE

    root = pathlib.Path(root)
    comps = tiny_components(root / "build", seed)
    offset = tiny_unet_offset(comps["unet"], seed)
    StableDiffusionXLPipeline(**comps, add_watermarker=False).save_pretrained(root / "base")
    weights = root / "layerdiffuse"
    weights.mkdir(parents=True, exist_ok=True)
    save_file(offset, str(weights / UNET_OFFSET_FILE))
    save_file(tiny_decoder_weights(seed), str(weights / DECODER_FILE))
    config = weights / "decoder_config.json"
    config.write_text(json.dumps(TINY_DECODER_CONFIG))
    return root / "base", weights, config
