"""The sources of ``ldmatte build`` (``synthetic``, ``folder``, ``layerdiffusion``; ``greenscreen`` in
:mod:`~ldmatte.cli.greenscreen_args`): their options, and the source object made from them."""
from __future__ import annotations


def add_source_parsers(sources) -> list:
    """Add each source's parser to ``build``'s sources; return them (the options they share come after)."""
    syn = sources.add_parser("synthetic", help="procedural portraits (demos, tests)")
    syn.add_argument("-n", "--count", type=int, required=True, help="number of samples")
    syn.add_argument("--seed", type=int, default=0)
    syn.add_argument("--size", default="512", help="side, or HxW (default 512)")
    syn.add_argument("--artifacts", default="realistic", choices=["none", "realistic", "heavy"])
    syn.add_argument("--bad-fraction", type=float, default=0.0, help="share turned into constructed bad samples")
    folder = sources.add_parser("folder", help="existing RGBA images in a folder")
    folder.add_argument("folder", help="folder of RGBA PNGs")
    folder.add_argument("--pattern", default="*.png", help="file pattern (default *.png)")
    folder.add_argument("--recursive", action="store_true", help="also look in subfolders")
    folder.add_argument("--follow-symlinks", action="store_true",
                        help="with --recursive, also enter links to folders (each real folder and file once)")
    folder.add_argument("--metadata", default=None, help="JSON lines with id, prompt, attributes, seed... per image")
    ld = sources.add_parser("layerdiffusion", help="generate with SDXL + LayerDiffuse (needs the gen extra)")
    ld.add_argument("--prompts", required=True, help="prompt records (.jsonl, e.g. from 'ldmatte prompts')")
    ld.add_argument("--base-model", required=True, help="SDXL model: diffusers folder or hub id")
    ld.add_argument("--layerdiffuse-weights", required=True, help="folder (or hub repo) of the LayerDiffuse files")
    ld.add_argument("--steps", type=int, default=25)
    ld.add_argument("--guidance", type=float, default=7.0)
    ld.add_argument("--batch-size", type=int, default=4)
    ld.add_argument("--device", default=None, help="torch device (default cuda when available)")
    ld.add_argument("--seed", type=int, default=0, help="run seed; image seeds derive from it and the id")
    ld.add_argument("--height", type=int, default=1024)
    ld.add_argument("--width", type=int, default=1024)
    ld.add_argument("--negative-prompt", default=None, help="override the records' negative prompts")
    from ._generation_options import add_model_arguments

    add_model_arguments(ld)  # --variant, --dtype, --vae-dtype, --decoder-dtype, --scheduler (as ldmatte generate)
    ld.add_argument("--decoder-config", default=None, help="JSON file of decoder arguments (non-standard decoders)")
    from .greenscreen_args import add_greenscreen_parser

    gs = add_greenscreen_parser(sources)
    return [syn, folder, ld, gs]


def refine_settings(args) -> dict:
    """The refinement options (``ldmatte.refine`` keywords), checked before anything is built."""
    from ..batch.refine_files import check_settings
    from .refine_cmd import refine_kwargs

    settings = refine_kwargs(args)
    check_settings(settings)
    return settings


def _size(text: str):
    from ..synthetic.portraits import MIN_SIZE

    parts = text.lower().split("x")
    if len(parts) not in (1, 2) or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"--size must be N or HxW, got {text!r}")
    sides = [int(p) for p in parts]
    if not all(MIN_SIZE <= v <= 16384 for v in sides):
        raise ValueError(f"--size must be between {MIN_SIZE} and 16384 pixels per side, got {text!r}")
    return sides[0] if len(sides) == 1 else (sides[0], sides[1])


def source_from_args(args):
    """The dataset source the parsed options describe (ValueError names an option)."""
    from ..dataset import FolderSource, SyntheticSource

    if args.source == "synthetic":
        return SyntheticSource(args.count, args.seed, _size(args.size), args.artifacts, args.bad_fraction)
    if args.source == "folder":
        return FolderSource(args.folder, args.pattern, args.recursive, args.metadata, args.follow_symlinks)
    if args.source == "greenscreen":
        from .greenscreen_args import greenscreen_source

        return greenscreen_source(args)
    return _ld_source(args)


def _ld_source(args):
    import json

    try:
        import diffusers  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(f"the layerdiffusion source needs the gen extra (pip install 'ldmatte[gen]'): {exc}")
    from ..dataset.ld_source import LayerDiffusionSource
    from ..generate.prompts import read_jsonl

    from ._generation_options import model_kwargs

    kwargs = model_kwargs(args)
    if args.decoder_config:
        with open(args.decoder_config, encoding="utf-8") as f:
            kwargs["decoder_config"] = json.load(f)
    return LayerDiffusionSource(
        read_jsonl(args.prompts), args.base_model, args.layerdiffuse_weights, steps=args.steps,
        guidance=args.guidance, batch_size=args.batch_size, device=args.device, dtype=args.dtype, seed=args.seed,
        height=args.height, width=args.width, negative_prompt=args.negative_prompt, pipeline_kwargs=kwargs,
        refine_kwargs=refine_settings(args),
    )  # fmt: skip
