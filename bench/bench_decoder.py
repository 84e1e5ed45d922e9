"""Benchmark: the transparent decoder's 8-way TTA, batched against the sequential reference; generation rate.

``decoder`` mode times, in one run and round-robin, LayerDiffuse's schedule (per
image, 8 passes of batch 1) and ``tta_batched`` (every variant of every image in
one pass per output shape, optionally in sub-batches) on the same inputs, checks
that the outputs agree, and prints the ratio. The published architecture is used
with random weights unless ``--weights`` names the real file (the speed does not
depend on the weights). CPU smoke sizes by default; on a GPU::

    python bench/bench_decoder.py --device cuda --dtype fp16 --size 1024 --batch 4 --repeat 5

``generate`` mode measures images/s of the whole pipeline (diffusion, VAE,
decoder, refinement) and the share of each stage. With ``--base-model`` and
``--layerdiffuse-weights`` it runs the real model; without them a tiny random
model from the tests (a CPU smoke run)::

    python bench/bench_decoder.py generate --device cuda --base-model BASE --layerdiffuse-weights DIR
    python bench/bench_decoder.py generate            # tiny random model, CPU
"""
from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import time


def _sync(device):
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device):
    def call():
        _sync(device)
        t0 = time.perf_counter()
        out = fn()
        _sync(device)
        return out, time.perf_counter() - t0

    return call


def _decoder(args, dtype):
    import torch

    from ldmatte.generate import TransparentDecoder, load_transparent_decoder

    if args.weights:
        return load_transparent_decoder(args.weights, device=args.device, dtype=dtype)
    torch.manual_seed(0)
    model = TransparentDecoder()
    with torch.no_grad():
        model.latent_conv_in.weight.normal_(0, 0.1)  # the published model's latent path is not zero
    return model.to(args.device, dtype).eval().requires_grad_(False)


def bench_decoder(args) -> dict:
    import torch

    from ldmatte.generate import rgba_to_uint8, tta_batched, tta_sequential
    from ldmatte.generate.pipeline import parse_dtype

    dtype = parse_dtype(args.dtype or ("fp16" if args.device.startswith("cuda") else "fp32"))
    model = _decoder(args, dtype)
    g = torch.Generator().manual_seed(1)
    pixel = torch.rand(args.batch, 3, args.size, args.size, generator=g).to(args.device, dtype)
    latent = torch.randn(args.batch, 4, args.size // 8, args.size // 8, generator=g).to(args.device, dtype)
    if args.channels_last:  # NHWC convolutions (tensor cores on GPUs); applies to both schedules
        model = model.to(memory_format=torch.channels_last)
        pixel = pixel.contiguous(memory_format=torch.channels_last)
        latent = latent.contiguous(memory_format=torch.channels_last)
    variants = {
        "sequential": _timed(lambda: tta_sequential(model, pixel, latent), args.device),
        "batched": _timed(lambda: tta_batched(model, pixel, latent, args.sub_batch), args.device),
    }
    outs = {k: fn()[0] for k, fn in variants.items()}  # warm-up (cuDNN autotuning, allocator) and outputs
    samples = {k: [] for k in variants}
    for _ in range(args.repeat):
        for k, fn in variants.items():
            samples[k].append(fn()[1])
    t = {k: statistics.median(v) for k, v in samples.items()}
    diff = float((outs["batched"].float() - outs["sequential"].float()).abs().max())
    u8 = (rgba_to_uint8(outs["batched"]).int() - rgba_to_uint8(outs["sequential"]).int()).abs()
    result = {
        "mode": "decoder", "device": args.device, "dtype": str(dtype).replace("torch.", ""), "size": args.size,
        "batch": args.batch, "sub_batch": args.sub_batch, "channels_last": args.channels_last,
        "threads": torch.get_num_threads(),
        "sequential_s": t["sequential"], "batched_s": t["batched"], "speedup": t["sequential"] / t["batched"],
        "batched_images_per_s": args.batch / t["batched"], "max_abs_diff": diff,
        "max_uint8_diff": int(u8.max()), "uint8_diff_share": float((u8 > 0).float().mean()),
    }  # fmt: skip
    if torch.device(args.device).type == "cuda":
        result["gpu"] = torch.cuda.get_device_name(args.device)
        result["peak_mem_gib"] = torch.cuda.max_memory_allocated(args.device) / 2**30
    return result


def _tiny_pipeline(tmp):
    import torch

    from ldmatte.generate import LayerDiffusionPipeline, load_transparent_decoder
    from ldmatte.generate.tiny_model import TINY_DECODER_CONFIG, tiny_components, tiny_decoder_weights, tiny_unet_offset

    comps = tiny_components(tmp)
    dec = load_transparent_decoder(tiny_decoder_weights(), dtype=torch.float32, config=TINY_DECODER_CONFIG)
    return LayerDiffusionPipeline.from_components(**comps, decoder=dec, unet_offset=tiny_unet_offset(comps["unet"]))


def bench_generate(args) -> dict:
    import tempfile

    from ldmatte.generate import LayerDiffusionPipeline
    from ldmatte.prompts import make_prompts

    if args.base_model:
        pipe = LayerDiffusionPipeline.from_pretrained(
            args.base_model, args.layerdiffuse_weights, device=args.device, dtype=args.dtype or "fp16",
            sub_batch=args.sub_batch,
        )  # fmt: skip
        size = args.size
    else:
        import transformers

        transformers.logging.set_verbosity_error()  # the tiny byte-level tokenizer truncates every prompt
        pipe = _tiny_pipeline(tempfile.mkdtemp()).to(args.device)
        size = 64
    pipe.sdxl.set_progress_bar_config(disable=True)
    records = make_prompts(args.batch * (args.batches + 1), seed=0)
    totals: dict = {}
    images = 0
    for i in range(args.batches + 1):  # the first batch warms up and is not counted
        batch = records[i * args.batch : (i + 1) * args.batch]
        res = pipe([r["prompt"] for r in batch], [r["negative_prompt"] for r in batch], list(range(len(batch))),
                   height=size, width=size, num_inference_steps=args.steps)  # fmt: skip
        if i:
            images += len(batch)
            for k, v in res.timings.items():
                totals[k] = totals.get(k, 0.0) + v
    total = sum(totals.values())
    return {
        "mode": "generate", "model": args.base_model or "tiny random (smoke)", "device": args.device, "size": size,
        "steps": args.steps, "batch": args.batch, "images": images, "seconds": total, "images_per_s": images / total,
        "stage_share": {k: v / total for k, v in totals.items()},
    }  # fmt: skip


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", nargs="?", default="decoder", choices=["decoder", "generate"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default=None, help="fp16, bf16, fp32 (default fp16 on cuda, fp32 on cpu)")
    p.add_argument("--size", type=int, default=None, help="pixel side (default 128 on cpu, 1024 on cuda)")
    p.add_argument("--batch", type=int, default=2, help="images per call")
    p.add_argument("--sub-batch", type=int, default=None, help="most decoder samples per pass")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--channels-last", action="store_true", help="NHWC model and inputs (decoder mode)")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (CPU)")
    p.add_argument("--weights", default=None, help="real decoder weights (file or folder)")
    p.add_argument("--base-model", default=None)
    p.add_argument("--layerdiffuse-weights", default=None)
    p.add_argument("--steps", type=int, default=25)
    p.add_argument("--batches", type=int, default=3, help="timed batches in generate mode")
    p.add_argument("--json", default=None, help="also write the result here")
    args = p.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
    args.size = args.size or (1024 if args.device.startswith("cuda") else 128)
    if args.size % 64:
        p.error("--size must be a multiple of 64 (the decoder downsamples six times)")
    with torch.no_grad():
        result = bench_decoder(args) if args.mode == "decoder" else bench_generate(args)
    for k, v in result.items():
        print(f"{k:>22}: {v:.4g}" if isinstance(v, float) else f"{k:>22}: {v}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
