"""The green-screen source: the same prompts and seeds as the Layer Diffusion source, over a green screen, keyed.

The other route to portrait mattes (``ldmatte build greenscreen``): plain SDXL
(no LayerDiffuse) draws each prompt with a background phrase appended
(default ", solid green background, chroma key studio, evenly lit"), from the
same initial noise as :class:`~ldmatte.dataset.ld_source.LayerDiffusionSource`
(one CPU generator per image, seeded by ``image_seed(run seed, id)``) and the
same sampler, and a chroma keyer of :mod:`ldmatte.keying` turns the picture
into RGBA (key colour from the border unless given; despill). The builder then
applies the same quality control and writes the dataset as for any source; the
keyed matte is written as keyed (not refined by CAAR) unless ``refine`` is set,
so a dataset of this source shows what keying alone gives. ``ldmatte compare``
puts two such builds side by side.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .manifest import check_id
from .sources import Produced

__all__ = ["GreenScreenSource", "BACKGROUND_PHRASE"]

BACKGROUND_PHRASE = "solid green background, chroma key studio, evenly lit"


class GreenScreenSource:
    """Prompt records to keyed green-screen samples.

    Parameters
    ----------
    records : list of dict
        ``id``, ``prompt``, optional ``negative_prompt`` and ``attributes`` (e.g. ``ldmatte.prompts.read_jsonl``).
    base_model : str
        SDXL diffusers folder or hub id.
    method, params, key_color, despill
        As :func:`ldmatte.keying.key` (``params`` None: the method's defaults).
    background : str
        Appended to every prompt after a comma.
    refine : bool
        Let the builder refine the keyed matte (CAAR) instead of writing it as keyed.
    steps, guidance, batch_size, device, dtype, seed, height, width, negative_prompt, scheduler, variant
        As :class:`~ldmatte.dataset.ld_source.LayerDiffusionSource`.
    """

    name = "greenscreen"

    def __init__(self, records, base_model, *, method="vlahos", params=None, key_color="auto", despill="auto",
                 background=BACKGROUND_PHRASE, refine=False, steps=25, guidance=7.0, batch_size=4, device=None,
                 dtype=None, seed=0, height=1024, width=1024, negative_prompt=None, scheduler=None, variant=None):
        from ..keying import METHODS, PARAMS, parse_key_color

        if batch_size < 1 or steps < 1:
            raise ValueError("batch_size and steps must be >= 1")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.params = PARAMS[method]() if params is None else params
        if not isinstance(self.params, PARAMS[method]):
            raise TypeError(f"method {method!r} takes a {PARAMS[method].__name__}")
        parse_key_color(key_color)
        self.records = {}
        for rec in records:
            self.records.setdefault(check_id(str(rec["id"])), rec)
        self.base_model, self.method, self.key_color, self.despill = str(base_model), method, key_color, despill
        self.background, self.refine = str(background), bool(refine)
        self.steps, self.guidance, self.batch_size, self.seed = int(steps), float(guidance), int(batch_size), int(seed)
        self.height, self.width, self.negative_prompt = int(height), int(width), negative_prompt
        self.device, self.dtype, self.scheduler, self.variant = device, dtype, scheduler, variant
        self._sdxl = None

    def ids(self) -> list[str]:
        return list(self.records)

    def _load(self):
        import warnings

        import torch
        from diffusers import StableDiffusionXLPipeline

        from ..generate.pipeline import DEFAULT_SCHEDULER, make_scheduler, resolve_dtypes
        from ..generate.weights import check_model_folder

        self.device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = self.dtype or ("fp16" if str(self.device).startswith("cuda") else "fp32")
        device, dtype, _, _ = resolve_dtypes(self.device, self.dtype)
        check_model_folder(self.base_model, self.variant)
        from .ld_source import model_load_error

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*torch_dtype.*", category=FutureWarning)
            try:
                sdxl = StableDiffusionXLPipeline.from_pretrained(self.base_model, torch_dtype=dtype,
                                                                 add_watermarker=False, variant=self.variant)
            except Exception as exc:  # diffusers' messages may point at a stack trace nobody is shown
                raise model_load_error(self.base_model, exc) from None
        if self.scheduler != "model":
            sdxl.scheduler = make_scheduler(self.scheduler or DEFAULT_SCHEDULER, sdxl.scheduler.config)
        sdxl.to(device)
        sdxl.set_progress_bar_config(disable=True)
        self._sdxl = sdxl
        return sdxl

    def model(self) -> dict:
        from .ld_source import _base_model_identity

        return {"base_model": _base_model_identity(self.base_model), "steps": self.steps, "guidance": self.guidance,
                "height": self.height, "width": self.width, "dtype": self.dtype,
                "scheduler": self.scheduler or "default", "background": self.background,
                "keyer": {"method": self.method, "params": dataclasses.asdict(self.params),
                          "key_color": str(self.key_color), "despill": str(self.despill)}}

    def generate(self, prompts, negatives, seeds) -> np.ndarray:
        """(B, H, W, 3) uint8 RGB pictures of ``prompts`` (the background phrase already appended)."""
        import torch

        sdxl = self._sdxl or self._load()
        gens = [torch.Generator("cpu").manual_seed(int(s)) for s in seeds]
        shape = (1, sdxl.unet.config.in_channels, self.height // sdxl.vae_scale_factor,
                 self.width // sdxl.vae_scale_factor)
        noise = torch.cat([torch.randn(shape, generator=g, dtype=torch.float32) for g in gens])
        with torch.no_grad():
            images = sdxl(prompt=list(prompts), negative_prompt=list(negatives), height=self.height,
                          width=self.width, num_inference_steps=self.steps, guidance_scale=self.guidance,
                          generator=gens, latents=noise.to(sdxl.unet.device, sdxl.unet.dtype),
                          output_type="np").images
        return np.clip(np.round(np.asarray(images, np.float32) * 255), 0, 255).astype(np.uint8)

    def produce(self, ids):
        from ..generate.dataset import image_seed
        from ..generate.pipeline import DEMO_NEGATIVE_PROMPT
        from ..keying import key

        ids = list(ids)
        if not ids:
            return
        model = self.model()
        for start in range(0, len(ids), self.batch_size):
            batch = [self.records[i] for i in ids[start : start + self.batch_size]]
            seeds = [image_seed(self.seed, str(r["id"])) for r in batch]
            negatives = [self.negative_prompt or r.get("negative_prompt") or DEMO_NEGATIVE_PROMPT for r in batch]
            prompts = [f"{r['prompt']}, {self.background}" if self.background else r["prompt"] for r in batch]
            rgb = self.generate(prompts, negatives, seeds)
            for k, rec in enumerate(batch):
                meta = {"prompt": rec["prompt"], "negative_prompt": negatives[k], "generation_prompt": prompts[k],
                        "attributes": rec.get("attributes", {}), "seed": seeds[k], "model": model}
                try:
                    rgba, colour = key(np.ascontiguousarray(rgb[k]), self.method, self.params,
                                       key_color=self.key_color, despill_params=self.despill,
                                       return_key_color=True)
                except ValueError as exc:  # e.g. no green excess in the key colour: this sample only
                    yield Produced(str(rec["id"]), meta=meta, error=f"keying failed: {exc}")
                    continue
                meta["key_color"] = "#" + "".join(f"{v:02x}" for v in colour)
                if self.refine:
                    yield Produced(str(rec["id"]), rgba, meta)
                else:
                    yield Produced(str(rec["id"]), rgba, meta, refined=rgba, report=None)

    def settings(self) -> dict:
        """What the samples depend on (the dataset keeps them): the description and the keyer, without counts."""
        model = self.model()
        return {**{k: v for k, v in self.describe().items() if k != "records"},
                **{k: model[k] for k in ("steps", "guidance", "height", "width", "scheduler", "keyer")},
                "refine_keyed": self.refine}  # fmt: skip

    def describe(self) -> dict:
        from .ld_source import _base_model_identity

        return {"source": self.name, "records": len(self.records), "seed": self.seed, "method": self.method,
                "background": self.background, "base_model": _base_model_identity(self.base_model)["name"]}
