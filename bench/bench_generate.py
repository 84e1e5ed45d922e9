"""Benchmark: the whole generation path, images/s and the split per stage.

SDXL UNet, VAE, both text encoders and the transparent decoder are built from their
published configurations with random weights (speed does not depend on the weight
values), assembled into :class:`ldmatte.generate.LayerDiffusionPipeline`, and run as
a dataset build runs them: diffusion (text encoding + UNet steps with classifier-free
guidance), VAE decode, the decoder's 8-way test-time augmentation (batched), refinement
on the device, quality control and writing the sample files. In the same run the
decode is timed again with the sequential reference schedule (8 batch-1 passes per
image), so "TTA batched vs sequential" is a ratio of one process.

Full size on a GPU (fp16 UNet and decoder, the VAE in the library's default dtype)::

    python bench/bench_generate.py --device cuda --batch 4 --steps 25 [--compile] [--channels-last]
                                   [--attention sdpa|flash|efficient|cudnn|math|classic]

``--tiny`` (the default on the CPU) uses the tests' tiny random SDXL (64 x 64): a smoke
run whose figures say nothing about real speed. Targets (docs/targets.md), on an
H100/H200: batched TTA >= 3x the sequential reference; refinement + QC < 1 % of the
generation time.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import pathlib
import statistics
import sys
import tempfile
import time


# The published SDXL base 1.0 configurations (diffusers / transformers argument names).
SDXL_UNET = dict(
    sample_size=128, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280),
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    attention_head_dim=(5, 10, 20), transformer_layers_per_block=(1, 2, 10), cross_attention_dim=2048,
    use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2816, norm_num_groups=32, norm_eps=1e-5, flip_sin_to_cos=True,
)  # fmt: skip
SDXL_VAE = dict(
    in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, block_out_channels=(128, 256, 512, 512),
    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, norm_num_groups=32,
    sample_size=1024, scaling_factor=0.13025, force_upcast=True,
)  # fmt: skip
# CLIP ViT-L/14 and OpenCLIP ViT-bigG/14 text towers; token ids of the tests' byte-level tokenizer.
_TOKENS = dict(vocab_size=49408, max_position_embeddings=77, bos_token_id=512, eos_token_id=513, pad_token_id=513)
CLIP_L = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
              hidden_act="quick_gelu", projection_dim=768, **_TOKENS)  # fmt: skip
CLIP_BIGG = dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=20,
                 hidden_act="gelu", projection_dim=1280, **_TOKENS)  # fmt: skip
SDXL_SCHEDULER = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1,
                      timestep_spacing="leading")  # fmt: skip


def sync(device):
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def default_dtype(dtype):
    import torch

    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


def full_size_components(device, dtype, tmp) -> dict:
    """SDXL + the published decoder with random weights, built directly on ``device`` in ``dtype``."""
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    from ldmatte.generate import TransparentDecoder

    write_tokenizer = _tiny_module().write_tokenizer

    torch.manual_seed(0)
    with torch.device(device), default_dtype(dtype):
        comps = {
            "unet": UNet2DConditionModel(**SDXL_UNET),
            "vae": AutoencoderKL(**SDXL_VAE),
            "text_encoder": CLIPTextModel(CLIPTextConfig(**CLIP_L)),
            "text_encoder_2": CLIPTextModelWithProjection(CLIPTextConfig(**CLIP_BIGG)),
            "decoder": TransparentDecoder(),
        }
        with torch.no_grad():  # the published decoder's latent path is trained away from its zero start
            comps["decoder"].latent_conv_in.weight.normal_(0, 0.1)
    tok = write_tokenizer(pathlib.Path(tmp) / "tokenizer")
    comps.update(tokenizer=CLIPTokenizer.from_pretrained(tok), tokenizer_2=CLIPTokenizer.from_pretrained(tok),
                 scheduler=EulerDiscreteScheduler(**SDXL_SCHEDULER))  # fmt: skip
    return comps


def tiny_components(device, dtype, tmp) -> dict:
    """The tests' tiny random SDXL and decoder (64 x 64 images)."""
    from ldmatte.generate import load_transparent_decoder

    tiny = _tiny_module()
    comps = tiny.tiny_components(tmp)
    comps["decoder"] = load_transparent_decoder(tiny.tiny_decoder_weights(), dtype=dtype,
                                                config=tiny.TINY_DECODER_CONFIG)  # fmt: skip
    return comps


def _tiny_module():
    """The tiny random SDXL builders (:mod:`ldmatte.generate.tiny_model`)."""
    from ldmatte.generate import tiny_model

    return tiny_model


def set_attention(modules, backend: str):
    """"classic": diffusers' non-SDPA attention processor everywhere; other names pick the SDPA kernel later."""
    if backend != "classic":
        return
    from diffusers.models.attention_processor import Attention, AttnProcessor

    for module in modules:
        for m in module.modules():
            if isinstance(m, Attention):
                m.set_processor(AttnProcessor())


def sdpa_context(backend: str):
    """Context forcing one scaled-dot-product-attention kernel ("sdpa" and "classic": none forced)."""
    if backend in ("sdpa", "classic"):
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    names = {"flash": "FLASH_ATTENTION", "efficient": "EFFICIENT_ATTENTION", "cudnn": "CUDNN_ATTENTION",
             "math": "MATH"}  # fmt: skip
    return sdpa_kernel(getattr(SDPBackend, names[backend]))


def build_pipeline(args, tmp):
    import torch

    from ldmatte.generate import LayerDiffusionPipeline
    from ldmatte.generate.pipeline import make_scheduler, resolve_dtypes

    device, dtype, vae_dtype, decoder_dtype = resolve_dtypes(args.device, args.dtype, args.vae_dtype,
                                                             args.decoder_dtype)  # fmt: skip
    t0 = time.perf_counter()
    comps = (tiny_components(device, dtype, tmp) if args.tiny else full_size_components(device, dtype, tmp))
    decoder = comps.pop("decoder").to(device, decoder_dtype).eval().requires_grad_(False)
    for name in ("unet", "text_encoder", "text_encoder_2"):
        comps[name] = comps[name].to(device, dtype).eval().requires_grad_(False)
    comps["vae"] = comps["vae"].to(device).eval().requires_grad_(False)
    comps["scheduler"] = make_scheduler(args.scheduler, comps["scheduler"].config)
    pipe = LayerDiffusionPipeline.from_components(**comps, decoder=decoder, vae_dtype=vae_dtype, tta="batched",
                                                  sub_batch=args.sub_batch)  # fmt: skip
    pipe.sdxl.set_progress_bar_config(disable=True)
    set_attention([pipe.sdxl.unet, pipe.sdxl.vae, pipe.decoder], args.attention)
    if args.channels_last:
        for m in (pipe.sdxl.unet, pipe.sdxl.vae, pipe.decoder):
            m.to(memory_format=torch.channels_last)
    if args.compile:
        pipe.sdxl.unet = torch.compile(pipe.sdxl.unet, fullgraph=False)
        pipe.decoder = torch.compile(pipe.decoder, fullgraph=False)
    sync(device)
    dtypes = {"unet": str(dtype), "vae": str(vae_dtype), "decoder": str(decoder_dtype)}
    return pipe, device, {k: v.replace("torch.", "") for k, v in dtypes.items()}, time.perf_counter() - t0


def timed(fn, device):
    sync(device)
    t0 = time.perf_counter()
    out = fn()
    sync(device)
    return out, time.perf_counter() - t0


def run(args) -> dict:
    import torch

    from ldmatte.dataset.layout import STATUSES, paths, write_sample
    from ldmatte.dataset.qc import evaluate
    from ldmatte.generate.decode import decode_transparent, vae_decode
    from ldmatte.prompts import make_prompts

    tmp = tempfile.mkdtemp(prefix="ldmatte-bench-generate-")
    pipe, device, dtypes, build_s = build_pipeline(args, tmp)
    size = args.size or (64 if args.tiny else 1024)
    records = make_prompts(args.batch * (args.batches + 1), seed=0)
    stages = ("text", "unet_steps", "vae", "decoder_tta_batched", "refine", "host", "qc", "write")
    totals = dict.fromkeys(stages, 0.0)
    images, tta = 0, {"batched": [], "sequential": []}
    out_dir = pathlib.Path(tmp) / "samples"
    for status in STATUSES:  # the folders a dataset build prepares
        for rel in paths(status, "x").values():
            (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
    with sdpa_context(args.attention), torch.no_grad():
        for i in range(args.batches + 1):  # batch 0 warms up (cuDNN autotuning, compilation) and is not counted
            batch = records[i * args.batch : (i + 1) * args.batch]
            prompts, negatives = [r["prompt"] for r in batch], [r["negative_prompt"] for r in batch]
            _, text_s = timed(lambda: pipe.sdxl.encode_prompt(prompts, device=device, negative_prompt=negatives),
                              device)  # fmt: skip
            res = pipe(prompts, negatives, list(range(len(batch))), height=size, width=size,
                       num_inference_steps=args.steps, guidance_scale=7.0)  # fmt: skip
            t0 = time.perf_counter()
            verdicts = [evaluate(res.refined[k][..., 3], res.reports[k]) for k in range(len(batch))]
            t1 = time.perf_counter()
            for k in range(len(batch)):
                write_sample(str(out_dir), "kept" if verdicts[k].keep else "rejected", f"b{i}-{k}", res.refined[k])
            t2 = time.perf_counter()
            # The decode alone, batched and with the reference schedule, on latents of the same shape.
            g = torch.Generator().manual_seed(i)
            vae = pipe.sdxl.vae
            z = torch.randn(len(batch), 4, size // 8, size // 8, generator=g).to(device) / vae.config.scaling_factor
            pixel = vae_decode(vae, z)
            sub = pipe.decode_sub_batch(size, size)
            _, seq_s = timed(lambda: decode_transparent(pipe.decoder, pixel, z, "sequential"), device)
            _, bat_s = timed(lambda: decode_transparent(pipe.decoder, pixel, z, "batched", sub), device)
            if i == 0:
                continue
            images += len(batch)
            tta["batched"].append(bat_s)
            tta["sequential"].append(seq_s)
            t = res.timings
            split = {"text": text_s, "unet_steps": max(t["diffusion"] - text_s, 0.0), "vae": t["vae"],
                     "decoder_tta_batched": t["decoder"], "refine": t["refine"], "host": t["host"], "qc": t1 - t0,
                     "write": t2 - t1}  # fmt: skip
            for k, v in split.items():
                totals[k] += v
    total = sum(totals.values())
    gen = totals["text"] + totals["unet_steps"] + totals["vae"] + totals["decoder_tta_batched"]
    result = {
        "mode": "tiny random SDXL (smoke, not representative)" if args.tiny else "full-size SDXL, random weights",
        "device": str(device), "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "size": size, "batch": args.batch, "timed_batches": args.batches, "steps": args.steps,
        "scheduler": args.scheduler, "dtypes": dtypes, "compile": args.compile, "channels_last": args.channels_last,
        "attention": args.attention, "decoder_sub_batch": pipe.decode_sub_batch(size, size),
        "threads": torch.get_num_threads(), "build_s": build_s, "images": images, "seconds": total,
        "images_per_s": images / total if total else None,
        "seconds_per_image": {k: v / max(images, 1) for k, v in totals.items()},
        "stage_share": {k: v / total for k, v in totals.items()} if total else {},
        "unet_step_ms": 1e3 * totals["unet_steps"] / max(args.batches * args.steps, 1),
        "tta_batched_s": statistics.median(tta["batched"]), "tta_sequential_s": statistics.median(tta["sequential"]),
        "refine_qc_share_of_generation": (totals["refine"] + totals["qc"]) / gen if gen else None,
    }  # fmt: skip
    result["tta_speedup"] = result["tta_sequential_s"] / result["tta_batched_s"]
    if device.type == "cuda":
        result["peak_mem_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    result["files_written"] = len(list(out_dir.rglob("*.png")))
    return result


def print_result(r: dict) -> None:
    print(f"# generation benchmark: {r['mode']}, {r['device']} {r['gpu'] or ''}".rstrip())
    print(f"size {r['size']}, batch {r['batch']} x {r['timed_batches']} timed batches, {r['steps']} steps "
          f"{r['scheduler']}, dtypes {r['dtypes']}, compile {r['compile']}, channels-last {r['channels_last']}, "
          f"attention {r['attention']}, decoder sub-batch {r['decoder_sub_batch']}")  # fmt: skip
    print(f"{r['images_per_s']:.4g} images/s ({r['seconds']:.3g} s for {r['images']} images)")
    print("| stage | s / image | share |\n| --- | --- | --- |")
    for k, v in r["seconds_per_image"].items():
        print(f"| {k} | {v:.4g} | {100 * r['stage_share'].get(k, 0):.1f} % |")
    print(f"TTA decode alone: batched {r['tta_batched_s']:.4g} s, sequential {r['tta_sequential_s']:.4g} s "
          f"per batch -> {r['tta_speedup']:.2f}x (target >= 3x on an H100/H200)")  # fmt: skip
    print(f"refinement + QC: {100 * r['refine_qc_share_of_generation']:.3f} % of generation (target < 1 %)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default=None, help="cuda or cpu (default cuda when available)")
    p.add_argument("--tiny", action="store_true", help="tiny random models (the default on the CPU)")
    p.add_argument("--size", type=int, default=None, help="pixel side (default 1024; 64 with --tiny)")
    p.add_argument("--batch", type=int, default=4, help="images per batch (default 4)")
    p.add_argument("--batches", type=int, default=2, help="timed batches after one warm-up batch (default 2)")
    p.add_argument("--steps", type=int, default=25, help="sampling steps (default 25, as LayerDiffuse's demo)")
    p.add_argument("--scheduler", default="dpmpp_2m_karras")
    p.add_argument("--dtype", default=None, help="UNet / text encoders (default fp16 on GPU, fp32 on CPU)")
    p.add_argument("--vae-dtype", default=None, help="default: the library's (bf16 on compute capability >= 8.0)")
    p.add_argument("--decoder-dtype", default=None, help="default: the library's (fp16 on GPU)")
    p.add_argument("--sub-batch", type=int, default=None, help="decoder samples per pass (default: free memory)")
    p.add_argument("--compile", action="store_true", help="torch.compile the UNet and the decoder")
    p.add_argument("--channels-last", action="store_true", help="NHWC UNet, VAE and decoder")
    p.add_argument("--attention", default="sdpa", choices=["sdpa", "flash", "efficient", "cudnn", "math", "classic"],
                   help="sdpa: torch picks; flash/efficient/cudnn/math: that SDPA kernel only; classic: "
                   "diffusers' non-SDPA attention")  # fmt: skip
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (CPU)")
    p.add_argument("--json", default=None, help="also write the result here")
    args = p.parse_args(argv)
    import torch

    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    args.dtype = args.dtype or ("fp16" if args.device.startswith("cuda") else "fp32")
    args.tiny = args.tiny or not args.device.startswith("cuda")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
    if args.batches < 1 or args.batch < 1 or args.steps < 1:
        p.error("--batch, --batches and --steps must be >= 1")
    import diffusers
    import transformers

    # The byte-level test tokenizer truncates every prompt, and casting random-weight models with .to()
    # is what is meant here: neither warning says anything about the benchmark.
    transformers.logging.set_verbosity_error()
    diffusers.utils.logging.set_verbosity_error()
    result = run(args)
    print_result(result)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
