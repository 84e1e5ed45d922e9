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
    from .refine_cmd import add_refine_options

    add_refine_options(parser)


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
    from ._build_sources import add_source_parsers

    for parser in add_source_parsers(sources):
        _common(parser)
        parser.set_defaults(func=run)


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
    from ._build_sources import refine_settings, source_from_args
    from .qc_cmd import config_from_args

    args.output = args.output or args.output_before_source
    try:
        if not args.output:
            raise ValueError("the dataset folder is required: -o DATASET")
        shard = parse_shard(args.shard)
        qc = config_from_args(args)
        _check_engine_flags(args)
        source = source_from_args(args)
        check_count("--limit", args.limit, 0)
        check_count("--workers", args.workers, 1, 1024)
        if args.dry_run:
            return _dry_run(args, source, shard)
        executor = None
        if args.engine == "ray":
            from ..dataset.ray_engine import RayExecutor

            executor = RayExecutor(_ray_options(args))
        with stop_on_signals() as stop:
            summary = build(source, args.output, shard=shard, qc=qc, refine_kwargs=refine_settings(args),
                            limit=args.limit, workers=args.workers,
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
