"""``ldmatte generate``: transparent portraits from a prompt file with SDXL + LayerDiffuse.

torch and diffusers are imported only when the command runs, so ``ldmatte --help``
works without them.
"""
from __future__ import annotations

import sys

from ._generation_options import add_model_arguments, model_kwargs

ORDER = 40


def register(sub) -> None:
    p = sub.add_parser(
        "generate",
        help="generate transparent RGBA portraits (raw and refined) from a prompts .jsonl (needs the gen extra)",
        description="Run SDXL with the LayerDiffuse weights on every prompt record, decode with the transparent "
        "decoder (8-way TTA, batched), refine, and write raw/<id>.png, refined/<id>.png and manifest.jsonl. "
        "Ids already in the manifest are skipped, so an interrupted run resumes.",
    )
    p.add_argument("--prompts", required=True, help="prompt records (.jsonl, e.g. from 'ldmatte prompts')")
    p.add_argument("--base-model", required=True, help="SDXL model: diffusers folder or hub id")
    p.add_argument("--layerdiffuse-weights", required=True, help="folder (or hub repo) of the LayerDiffuse files")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--batch-size", type=int, default=4, help="images per diffusion batch (default 4)")
    p.add_argument("--steps", type=int, default=25, help="sampling steps (default 25, as LayerDiffuse's demo)")
    p.add_argument("--guidance", type=float, default=7.0, help="classifier-free guidance (default 7.0)")
    p.add_argument("--seed", type=int, default=0, help="run seed; each image's seed derives from it and its id")
    p.add_argument("--height", type=int, default=1024)
    p.add_argument("--width", type=int, default=1024)
    p.add_argument("--device", default=None, help="torch device (default cuda when available, else cpu)")
    add_model_arguments(p)
    p.add_argument("--tta", default="batched", choices=["batched", "sequential", "none"])
    p.add_argument("--sub-batch", type=int, default=None,
                   help="most samples per decoder pass, 8 per image with TTA (default: bounded by the free memory, "
                   "about 0.8 GiB per sample at 1024x1024 in fp16)")  # fmt: skip
    p.add_argument("--vae-batch", type=int, default=None, help="most latents per VAE decode")
    p.add_argument("--negative-prompt", default=None, help="override the records' negative prompts")
    p.add_argument("--limit", type=int, default=None, help="generate at most this many new images")
    p.add_argument("--no-refine", action="store_true", help="write raw images only")
    p.add_argument("--decoder-config", default=None, help="JSON file of decoder arguments (non-standard decoders)")
    p.set_defaults(func=run)


def _load_pipeline(args, device, dtype):
    import json

    from ..generate import LayerDiffusionPipeline

    config = None
    if args.decoder_config:
        with open(args.decoder_config, encoding="utf-8") as f:
            config = json.load(f)
    pipe = LayerDiffusionPipeline.from_pretrained(
        args.base_model, args.layerdiffuse_weights, device=device, dtype=dtype, decoder_config=config,
        tta=args.tta, sub_batch=args.sub_batch, vae_batch=args.vae_batch, **model_kwargs(args),
    )  # fmt: skip
    pipe.sdxl.set_progress_bar_config(disable=True)
    return pipe


def _settings(args, dtype) -> dict:
    return {"base_model": args.base_model, "steps": args.steps, "guidance": args.guidance, "height": args.height,
            "width": args.width, "dtype": dtype, "scheduler": args.scheduler, "tta": args.tta}  # fmt: skip


def run(args) -> int:
    try:
        import torch
        from tqdm import tqdm

        from ..generate.dataset import DatasetWriter, image_seed
        from ..generate.pipeline import DEMO_NEGATIVE_PROMPT
        from ..generate.prompts import read_jsonl
    except ImportError as exc:
        print(f"ldmatte generate needs the gen extra (pip install 'ldmatte[gen]'): {exc}", file=sys.stderr)
        return 2
    if args.batch_size < 1 or args.steps < 1 or (args.limit is not None and args.limit < 0):
        print("ldmatte generate: --batch-size and --steps must be >= 1, --limit >= 0", file=sys.stderr)
        return 2
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = args.dtype or ("fp16" if device.startswith("cuda") else "fp32")
    writer = DatasetWriter(args.output, _settings(args, dtype))
    todo = writer.pending(read_jsonl(args.prompts))[: args.limit]
    print(f"{len(writer.done)} images already in the manifest, {len(todo)} to generate", file=sys.stderr)
    if not todo:
        return 0
    try:
        pipe = _load_pipeline(args, device, dtype)
    except (ValueError, OSError) as exc:  # bf16 on an old GPU, missing weight files, mismatched weights
        print(f"ldmatte generate: {exc}", file=sys.stderr)
        return 2
    timings: dict = {}
    with tqdm(total=len(todo), unit="img", desc="generate", file=sys.stderr) as bar:
        for start in range(0, len(todo), args.batch_size):
            batch = todo[start : start + args.batch_size]
            seeds = [image_seed(args.seed, str(r["id"])) for r in batch]
            negatives = [args.negative_prompt or r.get("negative_prompt") or DEMO_NEGATIVE_PROMPT for r in batch]
            res = pipe(
                [r["prompt"] for r in batch], negatives, seeds, height=args.height, width=args.width,
                num_inference_steps=args.steps, guidance_scale=args.guidance, refine=not args.no_refine,
            )  # fmt: skip
            for i, rec in enumerate(batch):
                refined = None if res.refined is None else res.refined[i]
                writer.add(rec, seeds[i], res.raw[i], refined, res.reports[i] if res.reports else None)
            for k, v in res.timings.items():
                timings[k] = timings.get(k, 0.0) + v
            bar.update(len(batch))
    total = sum(timings.values())
    shares = ", ".join(f"{k} {100 * v / total:.1f}%" for k, v in timings.items()) if total else ""
    print(f"{len(todo)} images in {total:.1f} s ({len(todo) / max(total, 1e-9):.2f} images/s; {shares})",
          file=sys.stderr)  # fmt: skip
    return 0
