"""Options of ``ldmatte build greenscreen`` (the green-screen + chroma keying source) and its construction."""
from __future__ import annotations


def add_greenscreen_parser(sources):
    """Add the ``greenscreen`` source parser to ``build``'s sources; return it."""
    from ..dataset.gs_source import BACKGROUND_PHRASE
    from ..keying import METHODS
    from ._options import add_keyer_options

    gs = sources.add_parser("greenscreen", help="generate with plain SDXL over a green screen and key it "
                            "(the chroma-keying route; needs the gen extra)")
    gs.add_argument("--prompts", required=True, help="prompt records (.jsonl): the same as for layerdiffusion")
    gs.add_argument("--base-model", required=True, help="SDXL model: diffusers folder or hub id")
    gs.add_argument("--background", default=BACKGROUND_PHRASE,
                    help="phrase appended to every prompt (default: %(default)r)")
    gs.add_argument("--method", choices=METHODS, default="vlahos", help="keyer (default %(default)s)")
    gs.add_argument("--key-color", default="auto", help="auto (from each image's border), #rrggbb, green, blue")
    add_keyer_options(gs, help="keyer parameter (see ldmatte key)")
    gs.add_argument("--no-despill", action="store_true", help="keep the generated colour")
    gs.add_argument("--refine-keyed", action="store_true", help="also refine the keyed matte (CAAR) before QC")
    gs.add_argument("--steps", type=int, default=25)
    gs.add_argument("--guidance", type=float, default=7.0)
    gs.add_argument("--batch-size", type=int, default=4)
    gs.add_argument("--device", default=None, help="torch device (default cuda when available)")
    gs.add_argument("--dtype", default=None, help="fp16, bf16 or fp32 (default fp16 on GPU, fp32 on CPU)")
    gs.add_argument("--seed", type=int, default=0, help="run seed; image seeds derive from it and the id "
                    "(the same as layerdiffusion's)")
    gs.add_argument("--height", type=int, default=1024)
    gs.add_argument("--width", type=int, default=1024)
    gs.add_argument("--negative-prompt", default=None, help="override the records' negative prompts")
    gs.add_argument("--scheduler", default=None, choices=["euler", "euler_a", "dpmpp_2m", "ddim", "unipc"])
    return gs


def greenscreen_source(args):
    """The :class:`~ldmatte.dataset.gs_source.GreenScreenSource` of parsed options (ValueError names an option)."""
    try:
        import diffusers  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(f"the greenscreen source needs the gen extra (pip install 'ldmatte[gen]'): {exc}")
    from ..dataset.gs_source import GreenScreenSource
    from ..generate.prompts import read_jsonl
    from ._options import keyer_params

    params = keyer_params(args)
    return GreenScreenSource(
        read_jsonl(args.prompts), args.base_model, method=args.method, params=params,
        key_color=args.key_color, despill=None if args.no_despill else "auto", background=args.background,
        refine=args.refine_keyed, steps=args.steps, guidance=args.guidance, batch_size=args.batch_size,
        device=args.device, dtype=args.dtype, seed=args.seed, height=args.height, width=args.width,
        negative_prompt=args.negative_prompt, scheduler=args.scheduler,
    )
