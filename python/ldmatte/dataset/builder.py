"""Build a matting dataset: source -> refinement -> quality control -> files + manifest line.

Kill-safe and resumable (see :mod:`ldmatte.dataset.manifest`): on start the
torn last manifest line is dropped, files are brought in line with the
manifest and files without a line are deleted; then only the samples of this
shard without a line are produced. Refinement, quality control and PNG writing
run in worker threads while the source produces the next samples; lines are
appended in id order, each after its files.
"""
from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import os
import sys
import time

from .layout import STATUSES, move_sample, paths, remove_unlisted, write_sample
from .manifest import (append_line, lock, read_lines, read_manifest, repair_tail, shard_manifest, shard_of,
                       write_atomic, write_jsonl_atomic)  # fmt: skip
from .qc import QCConfig, evaluate

__all__ = ["BuildSummary", "build", "prepare", "write_derived"]

SETTINGS = "dataset.json"


@dataclasses.dataclass
class BuildSummary:
    """What a build run did."""

    shard_total: int  # samples of this shard in the source
    already_done: int
    kept: int = 0
    rejected: int = 0
    errors: list = dataclasses.field(default_factory=list)  # (id, message)
    seconds: float = 0.0
    timings: dict = dataclasses.field(default_factory=dict)  # seconds per stage, summed over samples

    @property
    def processed(self) -> int:
        return self.kept + self.rejected


def prepare(root: str, shard=(0, 1)) -> dict:
    """Make a dataset folder consistent after any interruption; return its entries by id.

    Drops this shard's torn last manifest line, finishes interrupted moves
    between kept and rejected, removes lines whose files are gone (they are
    redone) and deletes temp files and files without a line. Touches only ids
    that belong to ``shard``.
    """
    for status in STATUSES:
        for rel in paths(status, "x").values():
            os.makedirs(os.path.join(root, os.path.dirname(rel)), exist_ok=True)
    own = os.path.join(root, shard_manifest(shard))
    repair_tail(own)
    entries = read_manifest(root)
    owns = (lambda i: True) if shard[1] == 1 else (lambda i: shard_of(i, shard[1]) == shard[0])
    broken = {i for i, e in entries.items() if owns(i) and not move_sample(root, i, e["status"])}
    if broken:
        lines = read_lines(own)
        write_jsonl_atomic(own, [e for e in lines if e["id"] not in broken])
        entries = read_manifest(root)
    remove_unlisted(root, entries, owns)
    return entries


def _finish(item, root: str, qc: QCConfig, refine_kwargs: dict, durable: bool) -> tuple[dict, dict]:
    """Refine (unless the source did), judge and write one sample; return its manifest entry and timings."""
    from ..refine import refine

    t0 = time.perf_counter()
    refined, report = item.refined, item.report
    if refined is None:
        refined, report = refine(item.rgba, return_report=True, **refine_kwargs)
    t1 = time.perf_counter()
    verdict = evaluate(refined[..., 3], report, qc)
    t2 = time.perf_counter()
    status = "kept" if verdict.keep else "rejected"
    files = write_sample(root, status, item.id, refined, durable)
    t3 = time.perf_counter()
    entry = {"id": item.id, "status": status, "files": files, **item.meta,
             "height": int(refined.shape[0]), "width": int(refined.shape[1]),
             "report": None if report is None else report.to_dict(), "qc": verdict.to_dict(),
             "created": time.strftime("%Y-%m-%dT%H:%M:%S")}  # fmt: skip
    return entry, {"refine": t1 - t0, "qc": t2 - t1, "write": t3 - t2}


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="img", desc=desc, file=sys.stderr, disable=not enabled, dynamic_ncols=True)


def build(source, out_dir, *, shard=(0, 1), qc: QCConfig | None = None, refine_kwargs: dict | None = None,
          limit: int | None = None, workers: int | None = None, progress: bool = True,
          durable: bool = True) -> BuildSummary:  # fmt: skip
    """Build (or resume) a dataset in ``out_dir`` from a source.

    Parameters
    ----------
    source : SyntheticSource, FolderSource or LayerDiffusionSource
    out_dir : path
    shard : (i, n)
        Process only the ids with ``shard_of(id, n) == i``.
    qc : QCConfig, optional
    refine_kwargs : dict, optional
        Arguments of :func:`ldmatte.refine` (sources that refine themselves ignore them).
    limit : int, optional
        Process at most this many new samples.
    workers : int, optional
        Threads for refinement, quality control and writing (default: CPU count, at most 4).
    progress : bool
        Show a progress bar (images/s and ETA) on stderr.
    durable : bool
        fsync every file and line (turn off only for throw-away data).

    Returns
    -------
    BuildSummary
    """
    root = os.fspath(out_dir)
    os.makedirs(root, exist_ok=True)
    qc = qc or QCConfig()
    refine_kwargs = dict(refine_kwargs or {})
    with lock(root, shard):
        entries = prepare(root, shard)
        mine = [i for i in source.ids() if shard[1] == 1 or shard_of(i, shard[1]) == shard[0]]
        todo = [i for i in mine if i not in entries]
        summary = BuildSummary(len(mine), len(mine) - len(todo))
        todo = todo[: None if limit is None else max(0, int(limit))]
        _write_settings(root, source, qc, refine_kwargs)
        _run(source, todo, root, shard, qc, refine_kwargs, workers, progress, durable, summary)
        write_derived(root, shard, summary.errors)
    return summary


def _run(source, todo, root, shard, qc, refine_kwargs, workers, progress, durable, summary) -> None:
    manifest = os.path.join(root, shard_manifest(shard))
    workers = max(1, int(workers or min(4, os.cpu_count() or 1)))
    pending: collections.deque = collections.deque()
    start = time.perf_counter()

    def drain(bar, keep: int) -> None:
        while len(pending) > keep:
            sample_id, future = pending.popleft()
            try:
                entry, times = future.result()
            except Exception as exc:  # a sample that breaks refinement or writing is reported, not fatal
                summary.errors.append((sample_id, f"{type(exc).__name__}: {exc}"))
                bar.update(1)
                continue
            append_line(manifest, entry, durable)  # after its files: the line is the commit
            setattr(summary, entry["status"], getattr(summary, entry["status"]) + 1)
            for k, v in times.items():
                summary.timings[k] = summary.timings.get(k, 0.0) + v
            bar.update(1)
            bar.set_postfix(kept=summary.kept, rejected=summary.rejected, errors=len(summary.errors), refresh=False)

    with _progress(len(todo), f"build {source.name}", progress) as bar, \
            concurrent.futures.ThreadPoolExecutor(workers, initializer=_one_kernel_thread) as pool:  # fmt: skip
        t = time.perf_counter()
        for item in source.produce(todo):
            summary.timings["produce"] = summary.timings.get("produce", 0.0) + time.perf_counter() - t
            if item.error is not None:
                drain(bar, 0)  # keep the order of lines and error reports
                summary.errors.append((item.id, item.error))
                bar.update(1)
            else:
                pending.append((item.id, pool.submit(_finish, item, root, qc, refine_kwargs, durable)))
                drain(bar, 2 * workers)
            t = time.perf_counter()
        drain(bar, 0)
    summary.seconds = time.perf_counter() - start


def _one_kernel_thread() -> None:
    # Parallelism comes from the workers: kernels run single-threaded in each (the
    # setting is per thread), which avoids oversubscribing the cores with OpenMP teams.
    import numba

    numba.set_num_threads(1)


def _write_settings(root: str, source, qc: QCConfig, refine_kwargs: dict) -> None:
    import json

    from .._version import __version__

    settings = {"ldmatte": __version__, "source": source.describe(), "qc": qc.to_dict(), "refine": refine_kwargs}
    write_atomic(os.path.join(root, SETTINGS), (json.dumps(settings, indent=2) + "\n").encode())


def errors_file(shard) -> str:
    i, n = shard
    return "errors.jsonl" if n == 1 else f"errors.shard-{i}-of-{n}.jsonl"


def write_derived(root: str, shard=(0, 1), errors=None) -> None:
    """Rewrite the files derived from the manifest: rejected/manifest.jsonl, the errors list, README.md."""
    from .card import write_card

    entries = read_manifest(root)
    write_jsonl_atomic(os.path.join(root, "rejected", "manifest.jsonl"),
                       [e for e in entries.values() if e["status"] == "rejected"])  # fmt: skip
    if errors is not None:
        path = os.path.join(root, errors_file(shard))
        if errors:
            write_jsonl_atomic(path, [{"id": i, "error": msg} for i, msg in errors])
        elif os.path.exists(path):
            os.remove(path)
    write_card(root, entries)
