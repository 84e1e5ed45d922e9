"""``ldmatte demo``: synthetic Layer-Diffusion-like portraits, refined, with a contact sheet and error figures.

Needs no input: it draws N procedural portraits with realistic artifacts
(:func:`ldmatte.synth.make_sample`), writes them to ``OUTDIR/inputs/``, refines
them through the same code as ``ldmatte refine`` (outputs, reports and
``index.html`` in OUTDIR) and, since the ground truth is known, prints SAD and
MSE of the raw and the refined alpha.
"""
from __future__ import annotations

import os
import sys
import time

ORDER = 5
MARKER = "ldmatte-demo.json"


def register(sub) -> None:
    from .refine_cmd import add_refine_options, add_run_options

    p = sub.add_parser(
        "demo", help="refine synthetic portraits and write a before/after contact sheet (no input needed)",
        description="Make N synthetic Layer-Diffusion-like portraits (ground truth known), refine them like "
        "'ldmatte refine', write OUTDIR/index.html and print SAD/MSE before and after.",
    )  # fmt: skip
    p.add_argument("-o", "--output", default="ldmatte-demo", metavar="OUTDIR", help="folder (default %(default)s)")
    p.add_argument("-n", type=int, default=6, help="number of portraits (default %(default)s)")
    p.add_argument("--size", type=int, default=1024, help="side in pixels (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first portrait (default %(default)s)")
    add_run_options(p)
    add_refine_options(p)
    p.set_defaults(func=run)


def _prepare(outdir: str, n: int, size: int, seed: int) -> None:
    """Check that OUTDIR is new, empty or an earlier demo; mark it as a demo folder."""
    from ..io import write_json_atomic

    if n < 1:
        raise ValueError(f"-n must be at least 1, got {n}")
    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise ValueError(f"{outdir} exists and is not a folder")
    if os.path.isdir(outdir) and os.listdir(outdir) and not os.path.isfile(os.path.join(outdir, MARKER)):
        raise ValueError(f"{outdir} is not empty and not an earlier demo folder; choose another with -o")
    os.makedirs(os.path.join(outdir, "inputs"), exist_ok=True)
    write_json_atomic(os.path.join(outdir, MARKER), dict(n=n, size=size, seed=seed))


def _metrics(gt: dict):
    """extra(rel, before, after) for the refine runner: SAD and MSE (x 10^3) of both alphas."""
    from .. import metrics

    def extra(rel, before, after):
        g = gt[os.path.splitext(os.path.basename(rel))[0]]
        return {"SAD": dict(before=metrics.sad(before[..., 3], g), after=metrics.sad(after[..., 3], g)),
                "MSE ×10³": dict(before=1e3 * metrics.mse(before[..., 3], g),
                                  after=1e3 * metrics.mse(after[..., 3], g))}  # fmt: skip

    return extra


def _table(records) -> list[str]:
    lines = [f"{'image':<16} {'SAD raw':>9} {'refined':>9} {'MSE*1e3 raw':>12} {'refined':>9}"]
    sums = [0.0] * 4
    for r in sorted(records, key=lambda r: r["output"]):
        s, m = r["metrics"]["SAD"], r["metrics"]["MSE ×10³"]
        vals = (s["before"], s["after"], m["before"], m["after"])
        sums = [a + b for a, b in zip(sums, vals)]
        lines.append(f"{r['output']:<16} {vals[0]:>9.2f} {vals[1]:>9.2f} {vals[2]:>12.3f} {vals[3]:>9.3f}")
    if records:
        k = len(records)
        cut = lambda before, after: 100 * (1 - after / before) if before else 0.0  # noqa: E731
        lines.append(f"{'mean':<16} {sums[0] / k:>9.2f} {sums[1] / k:>9.2f} {sums[2] / k:>12.3f} {sums[3] / k:>9.3f}")
        lines.append(f"refinement cut SAD by {cut(sums[0], sums[1]):.1f} % and MSE by {cut(sums[2], sums[3]):.1f} %")
    return lines


def run(args) -> int:
    from .. import io, synth
    from .refine_cmd import Runner, UsageError, execute, finish, refine_kwargs, resolve_device

    kwargs = refine_kwargs(args)
    try:
        import ldmatte
        import numpy as np

        ldmatte.refine(np.zeros((1, 1, 4), np.uint8), **kwargs)  # the library checks the options
        device = resolve_device(args.device)
        if args.size < synth.MIN_SIZE:
            raise ValueError(f"--size must be at least {synth.MIN_SIZE} (a smaller portrait loses its details)")
        _prepare(args.output, args.n, args.size, args.seed)
    except (UsageError, ValueError, TypeError, OSError) as exc:
        print(f"ldmatte demo: {exc}", file=sys.stderr)
        return 2
    start, jobs, gt = time.perf_counter(), [], {}
    for i in range(args.n):
        name = f"portrait-{i + 1:02d}"
        sample = synth.make_sample(args.seed + i, args.size, artifacts="realistic")
        src = os.path.join(args.output, "inputs", name + ".png")
        io.write_png_atomic(src, sample.rgba)
        gt[name] = sample.alpha_gt
        jobs.append((src, name + ".png"))
    runner = Runner(args.output, kwargs, device, extra=_metrics(gt))
    progress = not args.quiet and sys.stderr.isatty()
    # The inputs were just drawn again: always refine (a finished output may be of other seeds or sizes).
    records, failures, refined, _ = execute(runner, jobs, overwrite=True, n_jobs=args.jobs, progress=progress)
    table = _table(records)
    title = f"ldmatte demo: {args.n} synthetic portraits, {args.size} px, seeds {args.seed}..{args.seed + args.n - 1}"
    finish(args.output, records, failures, refined, 0, kwargs, time.perf_counter() - start, title, table[-1:])
    for f in failures:
        print(f"failed: {f['input']}: {f['reason']}", file=sys.stderr)
    if not args.quiet:
        print("\n".join(table))
        print(f"open {os.path.join(os.path.abspath(args.output), 'index.html')} in a browser")
    return 1 if failures else 0
