"""Command-line options of the generation pipeline, shared by the commands that generate.

No torch here: ``ldmatte --help`` must work without the gen extra. The names equal
``ldmatte.generate.pipeline.SCHEDULERS`` (a test checks it).
"""
from __future__ import annotations

SCHEDULER_CHOICES = ("dpmpp_2m_karras", "dpmpp_2m", "euler", "euler_a", "ddim", "unipc", "model")
DEFAULT_SCHEDULER = "dpmpp_2m_karras"
DTYPE_CHOICES = ("fp16", "bf16", "fp32")


def add_model_arguments(p) -> None:
    """--variant, --dtype, --vae-dtype, --decoder-dtype, --scheduler."""
    p.add_argument("--variant", default=None,
                   help="weight file variant of the SDXL folder, e.g. fp16 for a folder holding only "
                   "*.fp16.safetensors (default: the plain files)")  # fmt: skip
    p.add_argument("--dtype", default=None, choices=DTYPE_CHOICES,
                   help="UNet and text encoder precision (default fp16 on GPU, fp32 on CPU); bf16 needs a GPU of "
                   "compute capability 8.0 or newer")  # fmt: skip
    p.add_argument("--vae-dtype", default=None, choices=DTYPE_CHOICES,
                   help="VAE precision (default bf16 on GPUs of compute capability >= 8.0 unless --dtype fp32, "
                   "else --dtype)")  # fmt: skip
    p.add_argument("--decoder-dtype", default=None, choices=DTYPE_CHOICES,
                   help="transparent decoder precision, independent of --dtype (default fp16 on GPU, as "
                   "LayerDiffuse; fp32 on CPU)")  # fmt: skip
    p.add_argument("--scheduler", default=DEFAULT_SCHEDULER, choices=SCHEDULER_CHOICES,
                   help=f"sampler (default {DEFAULT_SCHEDULER}: DPM++ 2M with Karras sigmas, as LayerDiffuse's "
                   "demo; 'model' keeps the base model's own)")  # fmt: skip


def model_kwargs(args) -> dict:
    """:meth:`LayerDiffusionPipeline.from_pretrained` keyword arguments from the options above."""
    return {"variant": args.variant, "vae_dtype": args.vae_dtype, "decoder_dtype": args.decoder_dtype,
            "scheduler": args.scheduler}  # fmt: skip
