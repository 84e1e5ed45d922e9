"""Refining image files into an output folder: kill-safe, resumable, interruptible (``ldmatte refine``, ``demo``).

Every input ``<rel>.png`` gives ``OUTDIR/<rel>.png`` (the refined RGBA, or the
refined alpha for a grayscale input) and ``OUTDIR/<rel stem>.json`` (its
report), written in that order and atomically: the JSON marks a finished image,
so a rerun skips it (unless the input's size or modification time changed), and
a killed run leaves at most temp files, removed by the next run.
``OUTDIR/refine-summary.json`` and the contact sheet ``OUTDIR/index.html``
(thumbnails in ``OUTDIR/_sheet/``) are rewritten at the end, also after an
interruption or a fault (then of what is done).

The output folder is claimed (:meth:`ldmatte.files.OutputFolder.claim`): a
non-empty folder that ``refine`` did not make is refused unless the caller
overwrites, so no file the tool did not write is replaced.

Examples
--------
>>> import os, tempfile, numpy as np
>>> from ldmatte import synth
>>> from ldmatte.io import write_png_atomic
>>> from ldmatte.batch import FileRefiner, plan_refine, refine_files
>>> src, out = tempfile.mkdtemp(), os.path.join(tempfile.mkdtemp(), "out")
>>> write_png_atomic(os.path.join(src, "a.png"), synth.make_sample(1, 96).rgba)
>>> jobs, failures = plan_refine([src], out)
>>> run = refine_files(jobs, FileRefiner(out, {}), progress=False)
>>> run.refined, run.skipped, run.failures, sorted(os.listdir(out))[:2]
(1, 0, [], ['_sheet', 'a.json'])
"""
from __future__ import annotations

import os
import threading
import time

from . import file_jobs
from .file_jobs import FileJob, FileRun, done_record, input_stamp, plan_file_jobs, run_file_jobs

__all__ = ["SUMMARY", "SHEET", "THUMBS", "KIND", "RefineJob", "RefineRun", "FileRefiner", "plan_refine",
           "refine_files", "write_summary", "summary_lines"]  # fmt: skip

KIND = "refine"  # the kind of output folder (its marker)
SUMMARY = "refine-summary.json"
SHEET = "index.html"
THUMBS = "_sheet"
_RESERVED = {SUMMARY, SHEET, THUMBS}


class RefineJob(FileJob):
    """One image to refine: ``path`` the input file, ``output`` its PNG relative to the output folder (``/``)."""


def plan_refine(inputs, outdir, *, recursive: bool = False, follow_symlinks: bool = False):
    """The work of a run: ``(jobs, failures)``: :class:`RefineJob` and :class:`~ldmatte.batch.Failure` lists.

    Inputs are collected once each (device + inode; directory links entered
    only with ``follow_symlinks``, see :func:`ldmatte.files.collect_images`).
    Inputs that cannot be used and outputs that two inputs would share are
    failures, not errors. Raises :class:`ldmatte.fileio.ownership.UsageError` when inputs
    and the output folder overlap (either way round).
    """
    return plan_file_jobs(inputs, outdir, _RESERVED, recursive=recursive, follow_symlinks=follow_symlinks,
                          job=RefineJob)  # fmt: skip


class FileRefiner:
    """Refines one :class:`RefineJob` into ``outdir``: the output PNG, thumbnails, then its JSON record.

    Parameters
    ----------
    outdir : path
    settings : dict
        Keywords of :func:`ldmatte.refine`.
    device : "cpu" or "cuda"
        Already resolved (see ``ldmatte._backend``). On "cuda" one image at a time is on the GPU; reading and
        writing still overlap.
    max_pixels, thumb_width : int, optional
    extra : callable, optional
        ``extra(rel, before, after) -> {"name": {"before", "after"}}``: metrics shown on the contact sheet.
    """

    def __init__(self, outdir, settings: dict, device: str = "cpu", max_pixels=None, thumb_width=None, extra=None):
        from ..fileio import readwrite as io
        from ..review import contact_sheet

        self.outdir, self.settings, self.device = os.fspath(outdir), dict(settings), device
        self.max_pixels = io.MAX_PIXELS if max_pixels is None else max_pixels
        self.thumb_width = thumb_width or contact_sheet.THUMB_WIDTH
        self.extra = extra
        self._gpu_lock = threading.Lock()

    def _refine(self, rgba):
        import ldmatte

        if self.device == "cpu":
            return ldmatte.refine(rgba, **self.settings, return_report=True, backend="cpu")
        import torch

        with self._gpu_lock:
            out, report = ldmatte.refine(torch.from_numpy(rgba).cuda(), **self.settings, return_report=True)
            return out.cpu().numpy(), report

    def done_record(self, job: RefineJob):
        """The record of a finished image, or None when it must be (re)done (missing, or the input changed)."""
        return done_record(self.outdir, job)

    def process(self, job: RefineJob) -> dict:
        """Refine one file; return its record (raises on failure)."""
        from ..fileio import readwrite as io
        from ..review import contact_sheet

        t0 = time.perf_counter()
        stamp = input_stamp(job.path)  # before reading: a file replaced meanwhile is redone by the next run
        rgba, info = io.read_rgba(job.path, self.max_pixels)
        t1 = time.perf_counter()
        out, report = self._refine(rgba)
        t2 = time.perf_counter()
        dst = os.path.join(self.outdir, *job.output.split("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        io.write_png_atomic(dst, out[..., 3] if info.alpha_only else out)
        t3 = time.perf_counter()
        stem = f"{THUMBS}/{os.path.splitext(job.output)[0]}"
        thumbs = contact_sheet.write_thumbnails(self.outdir, stem, rgba, out, self.thumb_width)
        rec = dict(input=os.path.abspath(job.path), input_stamp=stamp, output=job.output, image=info.to_dict(),
                   device=self.device, settings=self.settings, report=report.to_dict(), thumbnails=thumbs)  # fmt: skip
        if self.extra:
            rec["metrics"] = self.extra(job.output, rgba, out)
        t4 = time.perf_counter()
        spans = dict(read_s=t1 - t0, refine_s=t2 - t1, write_s=t3 - t2, sheet_s=t4 - t3, total_s=t4 - t0)
        rec["timings"] = {k: round(v, 6) for k, v in spans.items()}
        io.write_json_atomic(os.path.splitext(dst)[0] + ".json", rec)  # last: marks the image as done
        return rec


class RefineRun(FileRun):
    """What :func:`refine_files` did.

    ``records`` of every finished image (done now or before), ``failures``
    (:class:`Failure`), counts ``refined`` now and ``skipped`` (done before),
    ``stopped`` (why the run ended early, or None), ``interrupted`` (a signal),
    ``fault`` (a disk-full or read-only fault that stopped it).
    """

    @property
    def refined(self) -> int:
        """Images refined by this run (``done``)."""
        return self.done


def refine_files(jobs, refiner: FileRefiner, *, overwrite: bool = False, workers: int | None = None,
                 progress: bool = True, stop=None, executor=None, failures=()) -> RefineRun:  # fmt: skip
    """Refine ``jobs`` (finished ones skipped unless ``overwrite``) with the batch engine.

    ``workers`` threads (default: CPU cores, at most 8) or another ``executor``;
    ``stop`` a :class:`ldmatte.files.StopFlag`; ``failures`` found while
    planning are carried into the result. Stale temp files of killed runs are
    removed from the output folder first.
    """
    return run_file_jobs(jobs, refiner.outdir, refiner.process, refiner.done_record, overwrite=overwrite,
                         workers=workers, progress=progress, stop=stop, executor=executor, failures=failures,
                         desc="refine", result=RefineRun)  # fmt: skip


def summary_lines(run: RefineRun, settings: dict) -> list[str]:
    """The lines at the top of the contact sheet."""
    settings_line = "settings: " + ", ".join(f"{k}={v}" for k, v in settings.items())
    hazy = no_clear_background(run.records)
    lines = [settings_line]
    if hazy:
        lines.append(hazy_line(hazy))
    return file_jobs.summary_lines(run, "refined", lines)


def no_clear_background(records) -> list[dict]:
    """The images without a clear background: ``[{"output", "haze_floor", "haze_floor_max"}]`` by output."""
    hazy = [r for r in records if r.get("report", {}).get("no_clear_background")]
    return sorted(({"output": r["output"], "haze_floor": r["report"].get("haze_floor", 0.0),
                    "haze_floor_max": r["report"].get("haze_floor_max", 0)} for r in hazy),
                  key=lambda h: h["output"])  # fmt: skip


def hazy_line(hazy: list[dict], limit: int = 5) -> str:
    """One line naming the images without a clear background and the haze floor removed from each."""
    names = ", ".join(f"{h['output']} (floor {h['haze_floor']:g})" if h["haze_floor"] else f"{h['output']} (no floor)"
                      for h in hazy[:limit])  # fmt: skip
    more = f" and {len(hazy) - limit} more" if len(hazy) > limit else ""
    return f"no clear background in {len(hazy)} image{'s' if len(hazy) != 1 else ''}: {names}{more}"


def write_summary(outdir, run: RefineRun, settings: dict, title: str = "ldmatte refine", extra_lines=()) -> dict:
    """Write ``refine-summary.json`` and the contact sheet; return the summary dict.

    The dict is built before anything is written, so a caller still has it
    when writing fails (disk full): catch OSError around this call.
    """
    from ..fileio import readwrite as io
    from ..review import contact_sheet

    summary = summary_dict(run, settings)
    io.write_json_atomic(os.path.join(outdir, SUMMARY), summary)
    contact_sheet.write_sheet(os.path.join(outdir, SHEET), run.records, title,
                              [*summary_lines(run, settings), *extra_lines], summary["failures"])  # fmt: skip
    return summary


def summary_dict(run: RefineRun, settings: dict) -> dict:
    """The content of ``refine-summary.json``."""
    other = sorted(r["output"] for r in run.records if r.get("settings") != settings)
    return file_jobs.summary_dict(run, settings, "refined", other_settings=other,
                                  no_clear_background=no_clear_background(run.records))  # fmt: skip


# OpenCV refuses to decode images above 2^30 pixels (CV_IO_MAX_IMAGE_PIXELS): a larger limit cannot work.
MAX_PIXELS_LIMIT = 1 << 30


def check_settings(settings: dict) -> None:
    """Raise ValueError (naming the keyword) when :func:`ldmatte.refine` would refuse these settings."""
    import numpy as np

    import ldmatte

    ldmatte.refine(np.zeros((1, 1, 4), np.uint8), **settings)


def choose_device(requested: str) -> str:
    """"cpu" or "cuda" for a --device choice ("cpu", "cuda", "auto"); UsageError when cuda cannot run.

    Decided by :func:`ldmatte._backend.resolve_device`, the one place that does.
    """
    from .._backend import BackendUnavailableError, resolve_device
    from ..fileio.ownership import UsageError

    try:
        return resolve_device(requested)
    except (BackendUnavailableError, ValueError) as exc:
        raise UsageError(f"--device {requested}: {exc}; use --device cpu") from None


def finish(outdir, run: RefineRun, settings: dict, title: str = "ldmatte refine", extra_lines=()):
    """Write the summary and the sheet; ``(summary dict, fault line or None)``: a write fault is not raised."""
    from ..fileio.ownership import fault_message

    try:
        return write_summary(outdir, run, settings, title, extra_lines), None
    except OSError as exc:
        return summary_dict(run, settings), fault_message(exc)
