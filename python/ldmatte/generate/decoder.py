"""The LayerDiffuse transparent decoder ("UNet1024"), built from diffusers' blocks.

Input: the VAE's RGB decode in [0, 1] (3 channels, full resolution) and the latent
(4 channels, 1/8 resolution); output: 4 channels, alpha then foreground RGB. The
latent enters through a 1x1 convolution added to the hidden state just before the
fourth down block, where the resolution equals the latent's. Because the network
is assembled from diffusers' own blocks with the published configuration, its
state-dict keys are those of the published weight file, which loads strictly.
"""
from __future__ import annotations

import torch
from diffusers.models.unets.unet_2d_blocks import UNetMidBlock2D, get_down_block, get_up_block

from .weights import DECODER_FILE, check_state_dict, load_weights

__all__ = ["UNET1024_CONFIG", "TransparentDecoder", "load_transparent_decoder"]

#: The published decoder's configuration (the defaults of :class:`TransparentDecoder`).
UNET1024_CONFIG = {
    "in_channels": 3,
    "out_channels": 4,
    "down_block_types": ("DownBlock2D",) * 4 + ("AttnDownBlock2D",) * 3,
    "up_block_types": ("AttnUpBlock2D",) * 3 + ("UpBlock2D",) * 4,
    "block_out_channels": (32, 32, 64, 128, 256, 512, 512),
    "layers_per_block": 2,
    "norm_num_groups": 4,
    "norm_eps": 1e-5,
    "attention_head_dim": 8,
    "latent_channels": 4,
}

# The latent is added before this down block: three 2x downsamplings = the VAE's 1/8.
LATENT_BLOCK = 3


class TransparentDecoder(torch.nn.Module):
    """UNet that turns (RGB decode, latent) into (alpha, foreground RGB).

    Parameters are those of :data:`UNET1024_CONFIG` (the published model); smaller
    configurations build tiny models for tests. At least four down blocks are
    needed, and the first three must downsample.

    Examples
    --------
    >>> import torch
    >>> from ldmatte.generate import TransparentDecoder
    >>> with torch.device("meta"):
    ...     model = TransparentDecoder()
    >>> sd = model.state_dict()
    >>> len(sd), tuple(sd["latent_conv_in.weight"].shape), tuple(sd["conv_in.weight"].shape)
    (..., (64, 4, 1, 1), (32, 3, 3, 3))
    """

    def __init__(
        self,
        in_channels=3,
        out_channels=4,
        down_block_types=UNET1024_CONFIG["down_block_types"],
        up_block_types=UNET1024_CONFIG["up_block_types"],
        block_out_channels=UNET1024_CONFIG["block_out_channels"],
        layers_per_block=2,
        norm_num_groups=4,
        norm_eps=1e-5,
        attention_head_dim=8,
        latent_channels=4,
    ):
        super().__init__()
        n = len(block_out_channels)
        if len(down_block_types) != n or len(up_block_types) != n or n <= LATENT_BLOCK:
            raise ValueError(
                f"need one down and one up block type per entry of block_out_channels (at least {LATENT_BLOCK + 1}), "
                f"got {len(down_block_types)}, {len(up_block_types)} and {n}"
            )
        self.config = dict(
            in_channels=in_channels, out_channels=out_channels, down_block_types=tuple(down_block_types),
            up_block_types=tuple(up_block_types), block_out_channels=tuple(block_out_channels),
            layers_per_block=layers_per_block, norm_num_groups=norm_num_groups, norm_eps=norm_eps,
            attention_head_dim=attention_head_dim, latent_channels=latent_channels,
        )  # fmt: skip
        common = dict(temb_channels=None, resnet_eps=norm_eps, resnet_act_fn="silu", resnet_groups=norm_num_groups,
                      attention_head_dim=attention_head_dim, resnet_time_scale_shift="default", dropout=0.0)
        self.conv_in = torch.nn.Conv2d(in_channels, block_out_channels[0], kernel_size=3, padding=1)
        # Zero-initialised as in training: a fresh model ignores the latent until trained.
        self.latent_conv_in = torch.nn.Conv2d(latent_channels, block_out_channels[LATENT_BLOCK - 1], kernel_size=1)
        torch.nn.init.zeros_(self.latent_conv_in.weight)
        torch.nn.init.zeros_(self.latent_conv_in.bias)
        self.down_blocks = torch.nn.ModuleList()
        channels = block_out_channels[0]
        for i, kind in enumerate(down_block_types):
            self.down_blocks.append(get_down_block(
                kind, num_layers=layers_per_block, in_channels=channels, out_channels=block_out_channels[i],
                add_downsample=i < n - 1, downsample_padding=1, downsample_type="conv", **common,
            ))  # fmt: skip
            channels = block_out_channels[i]
        self.mid_block = UNetMidBlock2D(
            in_channels=channels, temb_channels=None, dropout=0.0, resnet_eps=norm_eps, resnet_act_fn="silu",
            output_scale_factor=1, resnet_time_scale_shift="default", attention_head_dim=attention_head_dim,
            resnet_groups=norm_num_groups, attn_groups=None, add_attention=True,
        )
        rev = list(reversed(block_out_channels))
        self.up_blocks = torch.nn.ModuleList()
        for i, kind in enumerate(up_block_types):
            self.up_blocks.append(get_up_block(
                kind, num_layers=layers_per_block + 1, in_channels=rev[min(i + 1, n - 1)], out_channels=rev[i],
                prev_output_channel=rev[max(i - 1, 0)], add_upsample=i < n - 1, upsample_type="conv", **common,
            ))  # fmt: skip
        self.conv_norm_out = torch.nn.GroupNorm(norm_num_groups, block_out_channels[0], eps=norm_eps)
        self.conv_act = torch.nn.SiLU()
        self.conv_out = torch.nn.Conv2d(block_out_channels[0], out_channels, kernel_size=3, padding=1)

    def forward(self, pixel: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """Raw output (B, out_channels, H, W) for pixel (B, 3, H, W) and latent (B, 4, H/8, W/8)."""
        sample = self.conv_in(pixel)
        skips = (sample,)
        for i, block in enumerate(self.down_blocks):
            if i == LATENT_BLOCK:
                sample = sample + self.latent_conv_in(latent)
            sample, res = block(hidden_states=sample, temb=None)
            skips += res
        sample = self.mid_block(sample, None)
        for block in self.up_blocks:
            k = len(block.resnets)
            sample = block(sample, skips[-k:], None)
            skips = skips[:-k]
        return self.conv_out(self.conv_act(self.conv_norm_out(sample)))


def load_transparent_decoder(spec, *, device="cpu", dtype=torch.float16, config: dict | None = None):
    """Build the decoder and load its weights strictly.

    Parameters
    ----------
    spec : str, path or dict
        A ``.safetensors`` file, a folder holding :data:`~ldmatte.generate.weights.DECODER_FILE`,
        a hub id (when online), or a state dict.
    device, dtype
        Where and in which precision the model runs (LayerDiffuse uses float16 on GPUs).
    config : dict, optional
        Keyword arguments of :class:`TransparentDecoder` (default: the published model).

    Returns
    -------
    model : TransparentDecoder in eval mode, without gradients.

    Raises
    ------
    WeightsMismatchError
        Listing missing, unexpected and mis-shaped keys; nothing is loaded.
    """
    weights = spec if isinstance(spec, dict) else load_weights(spec, DECODER_FILE)
    what = "transparent decoder" if isinstance(spec, dict) else f"transparent decoder {spec}"
    with torch.device("meta"):  # no time spent on random initialisation
        model = TransparentDecoder(**(config or {}))
    check_state_dict(model.state_dict(), weights, what)
    model.load_state_dict(weights, strict=True, assign=True)
    return model.to(device=device, dtype=dtype).eval().requires_grad_(False)
