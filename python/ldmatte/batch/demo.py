"""The demo run: synthetic Layer-Diffusion-like portraits refined like ``ldmatte refine``, scored against truth.

:func:`run_demo` draws N procedural portraits with realistic artifacts
(:func:`ldmatte.synth.make_sample`), writes them to ``OUTDIR/inputs/``, refines
them with :func:`ldmatte.batch.refine_files` (outputs, reports and
``index.html`` in OUTDIR) and, since the ground truth is known, measures SAD
and MSE of the raw and the refined alpha (:func:`metrics_table`).
"""
from __future__ import annotations

import os
import time

__all__ = ["MARKER", "prepare_folder", "run_demo", "metrics_table"]

MARKER = "ldmatte-demo.json"


def prepare_folder(outdir: str, n: int, size: int, seed: int) -> None:
    """Check that OUTDIR is new, empty or an earlier demo; mark it as a demo folder.

    Raises :class:`ldmatte.fileio.ownership.UsageError` otherwise (nothing is written).
    """
    from ..fileio.ownership import UsageError
    from ..fileio.readwrite import write_json_atomic
    from ..synthetic.portraits import MIN_SIZE

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise UsageError(f"-n must be at least 1, got {n}")
    if isinstance(size, bool) or not isinstance(size, int) or size < MIN_SIZE:
        raise UsageError(f"--size must be at least {MIN_SIZE} (a smaller portrait loses its details), got {size}")
    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise UsageError(f"{outdir} exists and is not a folder")
    if os.path.isdir(outdir) and os.listdir(outdir) and not os.path.isfile(os.path.join(outdir, MARKER)):
        raise UsageError(f"{outdir} is not empty and not an earlier demo folder; choose another with -o")
    os.makedirs(os.path.join(outdir, "inputs"), exist_ok=True)
    write_json_atomic(os.path.join(outdir, MARKER), dict(n=n, size=size, seed=seed))


def _metrics(gt: dict):
    """extra(rel, before, after) for the refiner: SAD and MSE (x 10^3) of both alphas."""
    from .. import metrics

    def extra(rel, before, after):
        g = gt[os.path.splitext(os.path.basename(rel))[0]]
        return {"SAD": dict(before=metrics.sad(before[..., 3], g), after=metrics.sad(after[..., 3], g)),
                "MSE ×10³": dict(before=1e3 * metrics.mse(before[..., 3], g),
                                  after=1e3 * metrics.mse(after[..., 3], g))}  # fmt: skip

    return extra


def metrics_table(records) -> list[str]:
    """Lines of a per-image SAD/MSE table, the mean, and how much refinement cut them."""
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


def run_demo(outdir: str, n: int, size: int, seed: int, settings: dict, *, device: str = "cpu", workers=None,
             progress: bool = True, stop=None):  # fmt: skip
    """Draw, refine and score; ``(RefineRun, table lines, summary dict, fault line or None)``.

    Call :func:`prepare_folder` first. The inputs are drawn again on every run,
    so every image is refined again (a finished output may be of other seeds or sizes).
    """
    from ..fileio import readwrite as io
    from ..synthetic import portraits as synth
    from .refine_files import FileRefiner, RefineJob, finish, refine_files

    start, jobs, gt = time.perf_counter(), [], {}
    for i in range(n):
        if stop is not None and stop.is_set():
            break
        name = f"portrait-{i + 1:02d}"
        sample = synth.make_sample(seed + i, size, artifacts="realistic")
        src = os.path.join(outdir, "inputs", name + ".png")
        io.write_png_atomic(src, sample.rgba)
        gt[name] = sample.alpha_gt
        jobs.append(RefineJob(src, name + ".png"))
    refiner = FileRefiner(outdir, settings, device, extra=_metrics(gt))
    run = refine_files(jobs, refiner, overwrite=True, workers=workers, progress=progress, stop=stop)
    run.seconds = time.perf_counter() - start
    table = metrics_table(run.records)
    title = f"ldmatte demo: {n} synthetic portraits, {size} px, seeds {seed}..{seed + n - 1}"
    summary, fault = finish(outdir, run, settings, title, table[-1:])
    return run, table, summary, fault
