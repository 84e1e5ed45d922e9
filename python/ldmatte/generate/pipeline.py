"""Text to transparent portrait: SDXL with LayerDiffuse, batched decoding, refinement on device.

:class:`LayerDiffusionPipeline` wraps diffusers' ``StableDiffusionXLPipeline``:
the UNet is patched with the LayerDiffuse offset (base + offset, every key checked),
the diffusion latents go through the VAE and the transparent decoder (8-way
test-time augmentation, batched), the RGBA is quantised on the device and
refined there by :func:`ldmatte.refine`, and only then copied to the host.
Every image has its own seed (its own ``torch.Generator``), so a dataset is
reproducible whatever the batch size or the order of generation.
"""
from __future__ import annotations

import dataclasses
import time
import warnings

import numpy as np
import torch

from .decode import TTA_MODES, decode_transparent, rgba_to_uint8, unscale_latents, vae_decode
from .decoder import load_transparent_decoder
from .devices import auto_sub_batch, check_dtype_supported, default_decoder_dtype, default_vae_dtype
from .weights import UNET_OFFSET_FILE, check_model_folder, load_weights, merge_unet_offset

__all__ = ["DEFAULT_SCHEDULER", "SCHEDULERS", "GenerationResult", "LayerDiffusionPipeline", "parse_dtype"]

DEMO_NEGATIVE_PROMPT = "face asymmetry, eyes asymmetry, deformed eyes, open mouth"
_DTYPES = {"fp16": torch.float16, "float16": torch.float16, "half": torch.float16, "bf16": torch.bfloat16,
           "bfloat16": torch.bfloat16, "fp32": torch.float32, "float32": torch.float32, "float": torch.float32}
_DPMPP_2M = {"algorithm_type": "dpmsolver++", "solver_order": 2}
# name -> (diffusers class, settings over the base model's scheduler config)
_SCHEDULER_CLASSES = {
    "dpmpp_2m_karras": ("DPMSolverMultistepScheduler", {**_DPMPP_2M, "use_karras_sigmas": True}),
    "dpmpp_2m": ("DPMSolverMultistepScheduler", {**_DPMPP_2M, "use_karras_sigmas": False}),
    "euler": ("EulerDiscreteScheduler", {}),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}),
    "ddim": ("DDIMScheduler", {}),
    "unipc": ("UniPCMultistepScheduler", {}),
}
#: Sampler names; "model" keeps the base model's own scheduler.
SCHEDULERS = (*_SCHEDULER_CLASSES, "model")
#: DPM++ 2M Karras, the sampler of LayerDiffuse's demo.
DEFAULT_SCHEDULER = "dpmpp_2m_karras"


def parse_dtype(dtype) -> torch.dtype:
    """A torch dtype from ``"fp16"``, ``"bf16"``, ``"fp32"`` (or their long names) or a torch dtype."""
    if isinstance(dtype, torch.dtype) and dtype in _DTYPES.values():
        return dtype
    if isinstance(dtype, str) and dtype.lower() in _DTYPES:
        return _DTYPES[dtype.lower()]
    raise ValueError(f"dtype must be one of {sorted(set(_DTYPES))} or a float torch dtype, got {dtype!r}")


@dataclasses.dataclass
class GenerationResult:
    """One batch: raw and refined RGBA (host uint8, (B, H, W, 4)), reports, seeds, seconds per stage."""

    raw: np.ndarray
    refined: np.ndarray | None
    reports: list | None
    seeds: list[int]
    timings: dict


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class LayerDiffusionPipeline:
    """SDXL + LayerDiffuse: prompts in, transparent RGBA (raw and refined) out.

    Parameters
    ----------
    sdxl : diffusers.StableDiffusionXLPipeline
        With the LayerDiffuse offset already merged into its UNet (see
        :meth:`from_pretrained` and :meth:`from_components`).
    decoder : TransparentDecoder
    vae_dtype : str or torch.dtype, optional
        Precision of the VAE decode. LayerDiffuse's demo runs the SDXL VAE in
        bfloat16; float16 batches that overflow are decoded again in float32.
    tta : {"batched", "sequential", "none"}
    sub_batch : int, optional
        Most samples per decoder pass (an image contributes 8 with TTA). Default:
        bounded by the device's free memory at each call
        (:func:`~ldmatte.generate.devices.auto_sub_batch`: 70 % of the free memory
        over an estimated 0.8 GiB per sample at 1024 x 1024 in float16, scaled by
        the pixel count and the element size), so a batch of 4 fits a 24 GB card.
    vae_batch : int, optional
        Most latents per VAE decode.

    Examples
    --------
    >>> from ldmatte.generate import LayerDiffusionPipeline  # doctest: +SKIP
    >>> pipe = LayerDiffusionPipeline.from_pretrained(
    ...     "stabilityai/stable-diffusion-xl-base-1.0", "models/", device="cuda", dtype="fp16")  # doctest: +SKIP
    >>> res = pipe(["a woman with curly hair, high quality"], seeds=[1])  # doctest: +SKIP
    >>> res.refined.shape  # doctest: +SKIP
    (1, 1024, 1024, 4)
    """

    def __init__(self, sdxl, decoder, *, vae_dtype=None, tta="batched", sub_batch=None, vae_batch=None):
        if tta not in TTA_MODES:
            raise ValueError(f"tta must be one of {TTA_MODES}, got {tta!r}")
        self.sdxl, self.decoder = sdxl, decoder
        if sub_batch is not None and (isinstance(sub_batch, bool) or not isinstance(sub_batch, int) or sub_batch < 1):
            raise ValueError(f"sub_batch must be a positive int or None (bounded by free memory), got {sub_batch!r}")
        self.tta, self.sub_batch, self.vae_batch = tta, sub_batch, vae_batch
        if vae_dtype is not None:
            self.sdxl.vae.to(parse_dtype(vae_dtype))
        # Pixel sizes must survive every downsampling of the decoder and the VAE.
        self.size_multiple = 2 ** (len(decoder.config["block_out_channels"]) - 1)

    @classmethod
    def from_components(cls, *, unet, vae, text_encoder, text_encoder_2, tokenizer, tokenizer_2, scheduler,
                        decoder, unet_offset=None, **kwargs):  # fmt: skip
        """Assemble from loaded diffusers/transformers components; ``unet_offset`` (a state dict) is merged."""
        from diffusers import StableDiffusionXLPipeline

        if unet_offset is not None:
            merge_unet_offset(unet, unet_offset)
        sdxl = StableDiffusionXLPipeline(
            vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=tokenizer,
            tokenizer_2=tokenizer_2, unet=unet, scheduler=scheduler, add_watermarker=False,
        )  # fmt: skip
        return cls(sdxl, decoder, **kwargs)

    @classmethod
    def from_pretrained(cls, base_model, layerdiffuse_weights, *, device="cuda", dtype="fp16", vae_dtype=None,
                        decoder_dtype=None, decoder_config=None, scheduler=DEFAULT_SCHEDULER,
                        local_files_only=False, variant=None, **kwargs):  # fmt: skip
        """Load an SDXL model (diffusers folder or hub id) and the LayerDiffuse weights.

        Parameters
        ----------
        base_model : str
            Diffusers-format SDXL folder or hub id (any SDXL checkpoint works).
        layerdiffuse_weights : str
            Folder holding the official files (``ld_diffusers_sdxl_attn.safetensors``,
            ``ld_diffusers_sdxl_vae_transparent_decoder.safetensors``) or their hub repository.
        device, dtype
            Where and in which precision the UNet and text encoders run ("fp16", "bf16", "fp32").
            bf16 needs a GPU of compute capability 8.0 or newer (ValueError otherwise).
        vae_dtype : optional
            Default bfloat16 on GPUs of compute capability >= 8.0 (as LayerDiffuse's demo)
            unless ``dtype`` is fp32, else the model dtype.
        decoder_dtype : optional
            Precision of the transparent decoder, independent of ``dtype``: default float16
            on CUDA (LayerDiffuse's; bfloat16 is 20+ levels off) and float32 on the CPU.
        decoder_config : dict, optional
            :class:`TransparentDecoder` arguments for a non-standard decoder.
        scheduler : str, optional
            One of :data:`SCHEDULERS`: "dpmpp_2m_karras" (default, DPM++ 2M with Karras
            sigmas, LayerDiffuse's demo sampler), "dpmpp_2m", "euler", "euler_a", "ddim",
            "unipc", or "model" for the base model's own; None means the default.
        variant : str, optional
            Weight file variant of the base model, e.g. "fp16" for folders holding only
            ``*.fp16.safetensors``; a local folder without the files it needs is reported
            with the variants it does hold.
        """
        from diffusers import StableDiffusionXLPipeline

        device, dtype, vae_dtype, decoder_dtype = resolve_dtypes(device, dtype, vae_dtype, decoder_dtype)
        if scheduler is not None and scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler must be one of {list(SCHEDULERS)}, got {scheduler!r}")
        check_model_folder(base_model, variant)
        with warnings.catch_warnings():
            # Newer diffusers rename torch_dtype to dtype; the old name works everywhere.
            warnings.filterwarnings("ignore", message=".*torch_dtype.*", category=FutureWarning)
            try:
                sdxl = StableDiffusionXLPipeline.from_pretrained(
                    base_model, torch_dtype=dtype, add_watermarker=False, local_files_only=local_files_only,
                    variant=variant,
                )
            except OSError as exc:
                hint = "" if variant else " (a folder holding only *.fp16.* weight files needs variant='fp16')"
                raise OSError(f"could not load the SDXL model {base_model}: {exc}{hint}") from exc
        merge_unet_offset(sdxl.unet, load_weights(layerdiffuse_weights, UNET_OFFSET_FILE), f"{UNET_OFFSET_FILE}")
        if scheduler != "model":
            sdxl.scheduler = make_scheduler(scheduler or DEFAULT_SCHEDULER, sdxl.scheduler.config)
        sdxl.to(device)
        decoder = load_transparent_decoder(layerdiffuse_weights, device=device, dtype=decoder_dtype,
                                           config=decoder_config)  # fmt: skip
        return cls(sdxl, decoder, vae_dtype=vae_dtype, **kwargs)

    @property
    def device(self) -> torch.device:
        return self.sdxl.unet.device

    def decode_sub_batch(self, height: int, width: int) -> int | None:
        """Samples per decoder pass: ``sub_batch`` if given, else bounded by the free memory now."""
        if self.sub_batch is not None:
            return self.sub_batch
        param = next((p for p in self.decoder.parameters() if p.is_floating_point()), None)
        if param is None:
            return None
        return auto_sub_batch(param.device, height, width, param.dtype)

    def to(self, device):
        self.sdxl.to(device)
        self.decoder.to(device)
        return self

    def _check_call(self, prompts, negative_prompt, seeds, height, width):
        if isinstance(prompts, str) or not all(isinstance(p, str) for p in prompts) or not prompts:
            raise TypeError("prompts must be a non-empty list of strings")
        negatives = [negative_prompt] * len(prompts) if isinstance(negative_prompt, str) else list(negative_prompt)
        if len(negatives) != len(prompts) or not all(isinstance(n, str) for n in negatives):
            raise ValueError("negative_prompt must be a string or one string per prompt")
        seeds = list(range(len(prompts))) if seeds is None else [int(s) for s in seeds]
        if len(seeds) != len(prompts) or any(s < 0 or s >= 2**63 for s in seeds):
            raise ValueError(f"need one seed in [0, 2**63) per prompt, got {len(seeds)} for {len(prompts)} prompts")
        m = self.size_multiple
        if height % m or width % m or height <= 0 or width <= 0:
            raise ValueError(f"height and width must be positive multiples of {m}, got {height}x{width}")
        return list(prompts), negatives, seeds

    def initial_noise(self, seeds, height, width) -> tuple[torch.Tensor, list]:
        """float32 noise drawn on the CPU from one generator per seed (device- and dtype-independent)."""
        gens = [torch.Generator("cpu").manual_seed(s) for s in seeds]
        shape = (1, self.sdxl.unet.config.in_channels, height // self.sdxl.vae_scale_factor,
                 width // self.sdxl.vae_scale_factor)  # fmt: skip
        return torch.cat([torch.randn(shape, generator=g, dtype=torch.float32) for g in gens]), gens

    @torch.no_grad()
    def __call__(self, prompts, negative_prompt=DEMO_NEGATIVE_PROMPT, seeds=None, *, height=1024, width=1024,
                 num_inference_steps=25, guidance_scale=7.0, refine=True, refine_kwargs=None):  # fmt: skip
        """Generate one batch.

        Returns
        -------
        GenerationResult
            ``raw`` and ``refined`` RGBA uint8 on the host, ``reports`` (one
            :class:`~ldmatte.RefineReport` per image), ``seeds``, and ``timings``
            (seconds for "diffusion", "vae", "decoder", "refine", "host").
        """
        prompts, negatives, seeds = self._check_call(prompts, negative_prompt, seeds, height, width)
        dev, timings = self.device, {}
        t0 = time.perf_counter()
        noise, gens = self.initial_noise(seeds, height, width)
        latents = self.sdxl(
            prompt=prompts, negative_prompt=negatives, height=height, width=width,
            num_inference_steps=num_inference_steps, guidance_scale=guidance_scale, generator=gens,
            latents=noise.to(dev, self.sdxl.unet.dtype), output_type="latent", return_dict=True,
        ).images  # fmt: skip
        _sync(dev)
        t1 = time.perf_counter()
        vae = self.sdxl.vae
        z = unscale_latents(vae, latents.float())
        pixel = vae_decode(vae, z, self.vae_batch)
        _sync(dev)
        t2 = time.perf_counter()
        sub_batch = self.decode_sub_batch(height, width)
        rgba = rgba_to_uint8(decode_transparent(self.decoder, pixel, z, self.tta, sub_batch))
        _sync(dev)
        t3 = time.perf_counter()
        refined, reports = _refine(rgba, refine_kwargs or {}) if refine else (None, None)
        _sync(dev)
        t4 = time.perf_counter()
        raw = rgba.cpu().numpy()
        refined = None if refined is None else refined.cpu().numpy()
        t5 = time.perf_counter()
        timings = {"diffusion": t1 - t0, "vae": t2 - t1, "decoder": t3 - t2, "refine": t4 - t3, "host": t5 - t4}
        return GenerationResult(raw, refined, reports, seeds, timings)


def _refine(rgba: torch.Tensor, kwargs: dict):
    """:func:`ldmatte.refine` where the data is; on the host if the CUDA kernels are not available."""
    from .. import _backend
    from .._refine import refine

    if rgba.device.type == "cuda" and _backend.resolve_device("auto") == "cpu":
        rgba = rgba.cpu()
    threads = torch.get_num_threads()
    try:
        refined, reports = refine(rgba.contiguous(), return_report=True, **kwargs)
    finally:
        # Numba's OpenMP threading layer shares the OpenMP thread count with torch
        # and leaves it at its own; restore torch's so later batches compute alike.
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
    return refined, list(reports)


def make_scheduler(name: str, config):
    """A diffusers scheduler by name (see :data:`SCHEDULERS`) from a base model's scheduler config.

    Examples
    --------
    >>> from diffusers import EulerDiscreteScheduler
    >>> from ldmatte.generate.pipeline import make_scheduler
    >>> s = make_scheduler("dpmpp_2m_karras", EulerDiscreteScheduler().config)
    >>> type(s).__name__, s.config.algorithm_type, s.config.use_karras_sigmas, s.config.solver_order
    ('DPMSolverMultistepScheduler', 'dpmsolver++', True, 2)
    """
    import diffusers

    if name not in _SCHEDULER_CLASSES:
        raise ValueError(f"scheduler must be one of {sorted(_SCHEDULER_CLASSES)}, got {name!r}")
    cls_name, settings = _SCHEDULER_CLASSES[name]
    return getattr(diffusers, cls_name).from_config(config, **settings)


def resolve_dtypes(device, dtype="fp16", vae_dtype=None, decoder_dtype=None):
    """(device, UNet dtype, VAE dtype, decoder dtype) with the defaults and checks of :mod:`.devices`.

    bf16 anywhere on a CUDA GPU older than compute capability 8.0 is a ValueError.

    Examples
    --------
    >>> from ldmatte.generate.pipeline import resolve_dtypes
    >>> resolve_dtypes("cpu", "fp32")
    (device(type='cpu'), torch.float32, torch.float32, torch.float32)
    """
    device = torch.device(device)
    dtype = parse_dtype(dtype)
    vae_dtype = default_vae_dtype(device, dtype) if vae_dtype is None else parse_dtype(vae_dtype)
    decoder_dtype = default_decoder_dtype(device) if decoder_dtype is None else parse_dtype(decoder_dtype)
    for what, value in (("dtype", dtype), ("vae dtype", vae_dtype), ("decoder dtype", decoder_dtype)):
        check_dtype_supported(device, value, what)
    return device, dtype, vae_dtype, decoder_dtype
