"""``ldmatte build``: a matting dataset (fg/, alpha/, rejected/, manifest.jsonl, README.md) from a source."""
from __future__ import annotations

import argparse
import sys

ORDER = 50


def _common(parser) -> None:
    from .qc_cmd import add_arguments

    parser.add_argument("-o", "--output", default=None, help="dataset folder (created; an existing one is resumed)")
    parser.add_argument("--shard", default="0/1", help="process only shard i of n ('i/n', ids split by hash)")
    parser.add_argument("--limit", type=int, default=None, help="process at most this many new samples")
    parser.add_argument("--workers", type=int, default=None, help="threads for refine/QC/write (default: cores, <= 4)")
    parser.add_argument("--review", action="store_true", help="also write review.html (contact sheet)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--no-fsync", action="store_true", help="skip fsync (faster, not crash-safe)")
    parser.add_argument("--dry-run", action="store_true",
                        help="show how many samples are to do (and the Ray cluster and plan with --engine ray); "
                        "build nothing")  # fmt: skip
    engine = parser.add_argument_group("engine (where the work runs)")
    engine.add_argument("--engine", choices=["local", "ray"], default="local",
                        help="local: threads of this process (default); ray: Ray actors on every CPU/GPU of a "
                        "cluster (pip install 'ldmatte[ray]')")  # fmt: skip
    engine.add_argument("--ray-address", default=None, metavar="ADDR",
                        help="Ray cluster to join ('auto', 'head:6379', 'ray://head:10001'); default: RAY_ADDRESS, "
                        "else a local Ray instance on this machine")  # fmt: skip
    engine.add_argument("--ray-workers", type=int, default=None, metavar="N",
                        help="Ray workers (default: one per GPU at --gpus-per-worker, else one per CPU)")
    engine.add_argument("--gpus-per-worker", type=float, default=None, metavar="G",
                        help="GPUs per Ray worker, fractions share a GPU (default: 1 for layerdiffusion when the "
                        "cluster has GPUs, else 0)")  # fmt: skip
    engine.add_argument("--cpus-per-worker", type=float, default=1.0, metavar="C", help="CPUs per Ray worker (1)")
    add_arguments(parser)


def register(sub) -> None:
    p = sub.add_parser(
        "build", help="build a matting dataset: refine, quality-control and write samples from a source",
        description="Produce samples from a source, refine them, delete bad ones (quality control) and write "
        "fg/<id>.png, alpha/<id>.png, rejected/, manifest.jsonl and a dataset card. Kill-safe: a rerun resumes "
        "where the last one stopped. Exit status 1 when some inputs could not be used.",
    )  # fmt: skip
    p.add_argument("-o", "--output", dest="output_before_source", default=None, metavar="OUTPUT",
                   help="dataset folder (may also follow SOURCE)")  # fmt: skip
    sources = p.add_subparsers(dest="source", metavar="SOURCE", required=True)
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
    for parser in (syn, folder, ld, gs):
        _common(parser)
        parser.set_defaults(func=run)


def _size(text: str):
    from ..synthetic.portraits import MIN_SIZE

    parts = text.lower().split("x")
    if len(parts) not in (1, 2) or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"--size must be N or HxW, got {text!r}")
    sides = [int(p) for p in parts]
    if not all(MIN_SIZE <= v <= 16384 for v in sides):
        raise ValueError(f"--size must be between {MIN_SIZE} and 16384 pixels per side, got {text!r}")
    return sides[0] if len(sides) == 1 else (sides[0], sides[1])


def _source(args):
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
    )  # fmt: skip


def _report(summary) -> None:
    err = sys.stderr
    total = "the" if summary.shard_total is None else f"{summary.shard_total}"
    print(f"{summary.already_done} of {total} samples of this shard were done before; "
          f"{summary.processed} processed now: {summary.kept} kept, {summary.rejected} rejected, "
          f"{len(summary.errors)} errors", file=err)  # fmt: skip
    if summary.processed and summary.seconds:
        total = sum(summary.timings.values()) or 1.0
        shares = ", ".join(f"{k} {100 * v / total:.1f}%" for k, v in summary.timings.items())
        print(f"{summary.seconds:.1f} s, {summary.processed / summary.seconds:.2f} images/s (time per stage: "
              f"{shares})", file=err)  # fmt: skip
    for sample_id, message in summary.errors[:20]:
        print(f"  skipped {sample_id}: {message}", file=err)
    if len(summary.errors) > 20:
        print(f"  ... and {len(summary.errors) - 20} more (see errors*.jsonl)", file=err)


def _ray_options(args):
    from ..dataset.ray_engine import RayOptions

    return RayOptions(address=args.ray_address, workers=args.ray_workers, gpus_per_worker=args.gpus_per_worker,
                      cpus_per_worker=args.cpus_per_worker)  # fmt: skip


def _check_engine_flags(args) -> None:
    if args.engine == "ray":
        if args.workers is not None:
            raise ValueError("--workers sets the local engine's threads; with --engine ray use --ray-workers")
        return
    given = [flag for flag, value in (("--ray-address", args.ray_address), ("--ray-workers", args.ray_workers),
                                      ("--gpus-per-worker", args.gpus_per_worker)) if value is not None]
    if args.cpus_per_worker != 1.0:
        given.append("--cpus-per-worker")
    if given:
        raise ValueError(f"{', '.join(given)} only apply with --engine ray")


def _dry_run(args, source, shard) -> int:
    if args.engine == "ray":
        from ..dataset.ray_engine import dry_run, format_resources

        facts = dry_run(source, args.output, options=_ray_options(args), shard=shard, limit=args.limit)
        for line in format_resources(facts["resources"]):
            print(line)
        p = facts["plan"]
        print(f"plan: {p['workers']} Ray worker(s) x ({p['cpus_per_worker']:g} CPUs, {p['gpus_per_worker']:g} GPUs), "
              f"batches of {p['batch_size']} ids; {p['fits_at_once']} such workers fit the cluster at once")
    else:
        from ..dataset.ray_engine import count_todo  # engine-independent; imports no Ray

        facts = count_todo(source, args.output, shard, args.limit)
    print(f"{facts['already_done']} of {facts['shard_total']} samples of this shard are done; {facts['todo']} to do "
          f"now (dry run: nothing built)")  # fmt: skip
    return 0


def _report_workers(summary) -> None:
    workers = getattr(summary, "workers", None)
    if not workers:
        return
    wall = summary.seconds or 1.0
    print("per worker: samples, samples/s over the run, samples/s while busy, restarts", file=sys.stderr)
    for w in workers:
        where = f"{w.get('host', '?')}:{w.get('pid', '?')}" + (f" gpu {','.join(w['gpus'])}" if w.get("gpus") else "")
        busy = w["samples"] / w["busy_seconds"] if w["busy_seconds"] else 0.0
        print(f"  {w['name']} ({where}): {w['samples']}, {w['samples'] / wall:.2f}/s, {busy:.2f}/s, "
              f"{w['deaths']}", file=sys.stderr)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from ..batch import check_count
    from ..dataset import build, parse_shard
    from ..fileio.ownership import OutputFault, stop_on_signals
    from .qc_cmd import config_from_args

    args.output = args.output or args.output_before_source
    try:
        if not args.output:
            raise ValueError("the dataset folder is required: -o DATASET")
        shard = parse_shard(args.shard)
        qc = config_from_args(args)
        _check_engine_flags(args)
        source = _source(args)
        check_count("--limit", args.limit, 0)
        check_count("--workers", args.workers, 1, 1024)
        if args.dry_run:
            return _dry_run(args, source, shard)
        executor = None
        if args.engine == "ray":
            from ..dataset.ray_engine import RayExecutor

            executor = RayExecutor(_ray_options(args))
        with stop_on_signals() as stop:
            summary = build(source, args.output, shard=shard, qc=qc, limit=args.limit, workers=args.workers,
                            progress=not args.no_progress, durable=not args.no_fsync, stop=stop,
                            executor=executor)  # fmt: skip
    except OutputFault as exc:  # the dataset folder cannot be made or marked: a fault, not a usage mistake
        print(f"ldmatte build: {exc}", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"ldmatte build: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a fault before any sample (the folder cannot be made, a read-only disk)
        from ..fileio.ownership import fault_message

        print(f"ldmatte build: {fault_message(exc)}", file=sys.stderr)
        return 1
    _report(summary)
    _report_workers(summary)
    if getattr(summary, "fault", None):
        print(f"ldmatte build: stopped: {summary.fault}; free space or fix the folder and rerun to finish",
              file=sys.stderr)  # fmt: skip
    if getattr(summary, "interrupted", None):
        print(f"stopped by {summary.interrupted}: the samples in flight were finished; rerun to continue",
              file=sys.stderr)  # fmt: skip
        return 130
    if args.review:
        from ..dataset import write_review

        print(f"review page: {write_review(args.output)}", file=sys.stderr)
    return 1 if summary.errors or getattr(summary, "fault", None) else 0
