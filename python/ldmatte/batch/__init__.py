"""The one batch engine of ldmatte: what ``refine``, ``demo``, ``build`` and later commands run their items with.

- :mod:`~ldmatte.batch.engine`: :func:`run_items` (items through an executor, progress bar on stderr,
  interruption by a :class:`~ldmatte.files.StopFlag`, the failure list), :class:`ThreadExecutor` (threads of
  this process, the calling thread as slot 0) and the executor protocol another executor (Ray) implements.
- :mod:`~ldmatte.batch.file_jobs`: what commands that turn image files into an output folder share (``refine``,
  ``key``): per-file jobs with relative outputs, the done records that make a rerun resume, the run summary.
- :mod:`~ldmatte.batch.refine_files`: refining image files into an output folder, resumable, with a summary
  and a contact sheet (:func:`plan_refine`, :class:`FileRefiner`, :func:`refine_files`, :func:`write_summary`).

Input collection and the ownership rules (claimed output folders, inputs and
outputs disjoint, each real file once) come from :mod:`ldmatte.files`.
"""
from __future__ import annotations

from .engine import (BatchReport, Failure, ItemError, Outcome, ThreadExecutor, check_count, default_workers,
                     failure_reason, is_output_fault, progress_bar, run_items)  # fmt: skip
from .refine_files import (FileRefiner, RefineJob, RefineRun, plan_refine, refine_files, summary_dict,
                           write_summary)  # fmt: skip

__all__ = ["BatchReport", "Failure", "ItemError", "Outcome", "ThreadExecutor", "check_count", "default_workers",
           "failure_reason", "is_output_fault", "progress_bar", "run_items", "FileRefiner", "RefineJob",
           "RefineRun", "plan_refine", "refine_files", "summary_dict", "write_summary"]  # fmt: skip
