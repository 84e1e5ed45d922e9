"""Quality control again on an existing dataset (``ldmatte qc``): new verdicts, files moved to match.

Order of work, so that a kill at any moment loses nothing: every verdict is
computed first; then the whole new manifest (all shards merged) replaces
``manifest.jsonl`` atomically; only then are files renamed between ``fg/`` /
``alpha/`` and ``rejected/``. Files that lag behind the manifest after a kill
are moved by the next run (:func:`ldmatte.dataset.builder.prepare`). Nothing is
deleted: a later run with other thresholds puts every sample back.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import time

import cv2

from ..report import RefineReport
from .builder import SETTINGS, prepare, write_derived
from .layout import move_sample, paths
from .manifest import MANIFEST, lock, manifest_files, write_atomic, write_jsonl_atomic
from .qc import QCConfig, evaluate

__all__ = ["QCSummary", "requalify"]


@dataclasses.dataclass
class QCSummary:
    """Outcome of :func:`requalify`."""

    kept: int = 0
    rejected: int = 0
    newly_rejected: list = dataclasses.field(default_factory=list)
    newly_kept: list = dataclasses.field(default_factory=list)
    unreadable: list = dataclasses.field(default_factory=list)  # ids whose files are gone (dropped: rebuilt later)


def _judge(root: str, entry: dict, qc: QCConfig, tolerances: dict | None = None) -> dict | None:
    from ..fileio.readwrite import ImageReadError, imread

    try:  # through the checked reader: a named pipe in place of a matte is refused, never opened
        alpha = imread(os.path.join(root, entry["files"]["alpha"]), cv2.IMREAD_GRAYSCALE)
    except ImageReadError:
        return None
    report = RefineReport.from_dict(entry["report"]) if entry.get("report") else None
    verdict = evaluate(alpha, report, qc, **(tolerances or {}))
    status = "kept" if verdict.keep else "rejected"
    return dict(entry, status=status, files=paths(status, entry["id"]), qc=verdict.to_dict(),
                qc_checked=time.strftime("%Y-%m-%dT%H:%M:%S"))  # fmt: skip


def requalify(dataset, qc: QCConfig | None = None, *, dry_run: bool = False, progress: bool = True) -> QCSummary:
    """Re-run quality control on every finished sample of a dataset folder.

    Parameters
    ----------
    dataset : path
        A folder written by :func:`ldmatte.dataset.build`.
    qc : QCConfig, optional
        Thresholds (default :class:`QCConfig`).
    dry_run : bool
        Compute and return the changes, write and move nothing.
    progress : bool
        Progress bar on stderr.

    Returns
    -------
    QCSummary
    """
    from tqdm import tqdm

    root, qc = os.fspath(dataset), qc or QCConfig()
    if not os.path.exists(os.path.join(root, MANIFEST)) and len(manifest_files(root)) == 1:
        raise FileNotFoundError(f"{root} has no manifest: not a dataset folder")
    summary = QCSummary()
    with lock(root, exclusive=True):
        entries = prepare(root) if not dry_run else _read_only_entries(root)
        new, tolerances = [], _refine_tolerances(root)
        for entry in tqdm(list(entries.values()), unit="img", desc="qc", file=sys.stderr, disable=not progress):
            judged = _judge(root, entry, qc, tolerances)
            if judged is None:
                summary.unreadable.append(entry["id"])
                continue
            new.append(judged)
            setattr(summary, judged["status"], getattr(summary, judged["status"]) + 1)
            if judged["status"] != entry["status"]:
                (summary.newly_kept if judged["status"] == "kept" else summary.newly_rejected).append(entry["id"])
        if dry_run:
            return summary
        write_jsonl_atomic(os.path.join(root, MANIFEST), new)  # the new truth; files follow it
        for path in manifest_files(root)[1:]:
            os.remove(path)  # merged into manifest.jsonl, which takes precedence meanwhile
        for entry in new:
            move_sample(root, entry["id"], entry["status"])
        _update_settings(root, qc)
        write_derived(root)
    return summary


def _read_only_entries(root: str) -> dict:
    from .manifest import read_manifest

    return read_manifest(root)


def _refine_tolerances(root: str) -> dict:
    """The tolerances the dataset was refined with, for the haze measure (those not recorded: the defaults)."""
    try:
        with open(os.path.join(root, SETTINGS), encoding="utf-8") as f:
            refine = json.load(f).get("refine", {})
        tolerances = {k: refine.get(k) for k in ("fg_tol", "bg_tol")}
    except (OSError, ValueError, AttributeError):
        return {}
    return {k: v for k, v in tolerances.items() if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 254}


def _update_settings(root: str, qc: QCConfig) -> None:
    path = os.path.join(root, SETTINGS)
    try:
        with open(path, encoding="utf-8") as f:
            settings = json.load(f)
    except (OSError, ValueError):
        settings = {}
    settings["qc"] = qc.to_dict()
    write_atomic(path, (json.dumps(settings, indent=2) + "\n").encode())
