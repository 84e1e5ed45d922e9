"""Per-file jobs: what every command that turns image files into files of an output folder shares.

``refine`` (:mod:`ldmatte.batch.refine_files`) and ``key``
(:mod:`ldmatte.keying.key_files`) both map each input ``<rel>.<ext>`` to
``OUTDIR/<rel stem>.png`` plus a JSON record ``OUTDIR/<rel stem>.json`` that
marks the image as done. This module holds that common part:

- :func:`plan_file_jobs`: inputs -> :class:`FileJob` (input path, output PNG
  relative to the folder), refusing outputs that are reserved for the run's own
  files or that two inputs would share;
- :func:`input_stamp` and :func:`done_record`: a finished image is skipped on a
  rerun unless its input's size or modification time (or the settings) changed;
- :func:`run_file_jobs`: stale temps removed, finished jobs skipped, the rest run
  on the batch engine, the result a :class:`FileRun`;
- :func:`summary_dict`, :func:`summary_lines` and :func:`write_summary_files`:
  the run's summary JSON and the head lines of its contact sheet.

Examples
--------
>>> import os, tempfile
>>> from ldmatte.batch.file_jobs import plan_file_jobs
>>> src, out = tempfile.mkdtemp(), os.path.join(tempfile.mkdtemp(), "out")
>>> for name in ("a.png", "index.png"):
...     open(os.path.join(src, name), "wb").close()
>>> jobs, failures = plan_file_jobs([src], out, reserved={"index.json"})
>>> [j.output for j in jobs], [f.reason for f in failures]
(['a.png'], ["output name 'index.png' is reserved for the run's own files"])
"""
from __future__ import annotations

import dataclasses
import json
import os
import time

from .engine import Failure, ThreadExecutor, default_workers, run_items

__all__ = ["FileJob", "FileRun", "plan_file_jobs", "input_stamp", "done_record", "run_file_jobs", "summary_dict",
           "summary_lines", "write_summary_files"]  # fmt: skip


@dataclasses.dataclass(frozen=True)
class FileJob:
    """One image: ``path`` the input file, ``output`` its PNG relative to the output folder (``/``)."""

    path: str
    output: str


def plan_file_jobs(inputs, outdir, reserved, *, recursive: bool = False, follow_symlinks: bool = False,
                   suffixes=None, job=FileJob):  # fmt: skip
    """The work of a run: ``(jobs, failures)``, jobs made by ``job(path, output)``, failures of :class:`Failure`.

    Inputs are collected once each (device + inode; directory links entered
    only with ``follow_symlinks``, see :func:`ldmatte.files.collect_images`;
    ``suffixes`` as there, None for its default). An output whose first part,
    or whose JSON record, is in ``reserved`` (names of the run's own files),
    and an output that two inputs would share, are failures, not errors.
    Raises :class:`ldmatte.fileio.ownership.UsageError` when inputs and the output folder
    overlap (either way round).
    """
    from ..fileio.ownership import check_disjoint, collect_images

    check_disjoint(inputs, [outdir])
    extra = {} if suffixes is None else {"suffixes": suffixes}
    files, problems = collect_images(inputs, recursive=recursive, follow_symlinks=follow_symlinks, **extra)
    failures = [Failure(p.path, p.reason) for p in problems]
    jobs, taken = [], {}
    for f in files:
        rel = os.path.splitext(f.rel)[0] + ".png"
        key = os.path.normcase(rel)
        if key.split("/")[0] in reserved or os.path.splitext(key)[0] + ".json" in reserved:
            failures.append(Failure(f.path, f"output name {rel!r} is reserved for the run's own files"))
        elif key in taken:
            failures.append(Failure(f.path, f"output {rel!r} is already the output of {taken[key]}"))
        else:
            taken[key] = f.path
            jobs.append(job(f.path, rel))
    return jobs, failures


def input_stamp(path: str) -> list:
    """``[size, mtime_ns]`` of a file: a record made from another stamp is out of date."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def done_record(outdir, job, **expected):
    """The JSON record of a finished ``job``, or None when it must be (re)done.

    Finished means: the output PNG exists, its record names the same output,
    holds ``expected`` (e.g. ``settings=...``) and the input's current
    :func:`input_stamp`. A missing or unreadable record is not finished.
    """
    png = os.path.join(os.fspath(outdir), *job.output.split("/"))
    try:
        if os.path.isfile(png):
            with open(os.path.splitext(png)[0] + ".json", encoding="utf-8") as f:
                rec = json.load(f)
            if (isinstance(rec, dict) and rec.get("output") == job.output
                    and all(rec.get(k) == v for k, v in expected.items())
                    and rec.get("input_stamp") == input_stamp(job.path)):  # fmt: skip
                return rec
    except (OSError, ValueError):
        pass
    return None


@dataclasses.dataclass
class FileRun:
    """What a run of file jobs did.

    ``records`` of every finished image (done now or before), ``failures``
    (:class:`Failure`), counts ``done`` now and ``skipped`` (done before),
    ``stopped`` (why the run ended early, or None), ``interrupted`` (a signal),
    ``fault`` (a disk-full or read-only fault that stopped it).
    """

    records: list
    failures: list
    done: int
    skipped: int
    seconds: float = 0.0
    stopped: str | None = None
    interrupted: bool = False
    fault: str | None = None


def run_file_jobs(jobs, outdir, process, finished, *, overwrite: bool = False, workers: int | None = None,
                  progress: bool = True, stop=None, executor=None, failures=(), desc: str = "",
                  result=FileRun) -> FileRun:  # fmt: skip
    """Run ``process(job) -> record`` over ``jobs`` on the batch engine; ``result(...)`` of what it did.

    Stale temp files of killed runs are removed from ``outdir`` first; a job
    whose ``finished(job)`` gives a record is skipped unless ``overwrite``.
    ``workers`` threads (default: CPU cores, at most 8) or another
    ``executor``; ``stop`` a :class:`ldmatte.files.StopFlag`; ``failures``
    found while planning are carried into the result; ``result`` a
    :class:`FileRun` class.
    """
    from ..fileio import readwrite as io

    start = time.perf_counter()
    os.makedirs(outdir, exist_ok=True)
    io.remove_stale_temps(outdir)  # left by a killed run
    records, todo = [], []
    for job in jobs:
        rec = None if overwrite else finished(job)
        (todo.append(job) if rec is None else records.append(rec))
    skipped = len(records)
    if executor is None:
        workers = max(1, min(workers or default_workers(8), len(todo) or 1))
        executor = ThreadExecutor(workers)
    report = run_items(todo, process, name=lambda job: job.path, on_result=lambda _job, rec: records.append(rec),
                       executor=executor, total=len(todo), desc=desc, progress=progress, stop=stop)  # fmt: skip
    return result(records, list(failures) + report.failures, report.done, skipped, time.perf_counter() - start,
                  report.stopped, report.interrupted, report.fault)  # fmt: skip


def summary_dict(run: FileRun, settings: dict, done_name: str, **extra) -> dict:
    """A run's summary: version, ``settings``, seconds, counts (``done_name``, skipped, failed), failures, ``extra``."""
    from .._version import __version__

    failures = sorted((f.to_dict() for f in run.failures), key=lambda f: f["input"])
    summary = dict(ldmatte=__version__, settings=settings, seconds=round(run.seconds, 3),
                   counts={done_name: run.done, "skipped": run.skipped, "failed": len(failures)},
                   failures=failures, **extra)  # fmt: skip
    if run.stopped:
        summary["stopped"] = run.stopped
    return summary


def summary_lines(run: FileRun, done_name: str, settings_lines=()) -> list[str]:
    """The lines at the top of a run's contact sheet: counts, ``settings_lines``, why it stopped."""
    counts = f"{len(run.records)} images: {run.done} {done_name} now, {run.skipped} already done, " \
             f"{len(run.failures)} failed"  # fmt: skip
    lines = [f"{counts} ({run.seconds:.1f} s)", *settings_lines]
    if run.stopped:
        lines.append(run.stopped + "; a rerun finishes the rest")
    return lines


def write_summary_files(outdir, name: str, summary: dict, write_sheet):
    """Write ``summary`` as ``outdir/name``, then call ``write_sheet()``; ``(summary, fault line or None)``.

    A write fault (disk full, read-only) is not raised: it comes back as one line.
    """
    from ..fileio import readwrite as io
    from ..fileio.ownership import fault_message

    try:
        io.write_json_atomic(os.path.join(outdir, name), summary)
        write_sheet()
    except OSError as exc:
        return summary, fault_message(exc)
    return summary, None
