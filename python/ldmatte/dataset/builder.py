"""Build a matting dataset: source -> refinement -> quality control -> files + manifest line.

Kill-safe and resumable (see :mod:`ldmatte.dataset.manifest`): on start the
torn last manifest line is dropped, files are brought in line with the
manifest and temp files of dead writers are deleted; then only the samples of
this shard without a line are produced. The samples run through the batch
engine (:mod:`ldmatte.batch`): refinement, quality control and PNG writing on
its workers while the source produces the next samples; lines are appended in
id order, each after its files.

Files are safe: the folder is claimed as a dataset folder
(:meth:`ldmatte.files.OutputFolder.claim`, which records the shard count: a
build with another count is refused), a source folder and the dataset folder
never overlap, and a build deletes only what it can prove it wrote: its own
temp files, and copies of samples its manifest lists. Images it does not list
are left alone.
"""
from __future__ import annotations

import dataclasses
import itertools
import os
import time

from .layout import STATUSES, move_sample, paths, remove_unlisted, write_sample
from .manifest import (MANIFEST, append_line, lock, read_lines, read_manifest, repair_tail, shard_manifest,
                       shard_of, write_atomic, write_jsonl_atomic)  # fmt: skip
from .qc import QCConfig, evaluate

__all__ = ["BuildSummary", "build", "prepare", "claim_dataset", "source_settings", "write_derived", "KIND"]

SETTINGS = "dataset.json"
KIND = "build"  # the kind of output folder (its marker)


@dataclasses.dataclass
class BuildSummary:
    """What a build run did.

    ``shard_total`` is None when a ``limit`` ended the run before the source
    was counted to its end (a source of unknown length, or a sharded run);
    ``interrupted`` names the signal that stopped it early, ``fault`` the
    one-line write fault (disk full, read-only) that did.
    """

    shard_total: int | None  # samples of this shard in the source
    already_done: int
    kept: int = 0
    rejected: int = 0
    errors: list = dataclasses.field(default_factory=list)  # (id, message)
    seconds: float = 0.0
    timings: dict = dataclasses.field(default_factory=dict)  # seconds per stage, summed over samples
    interrupted: str | None = None
    fault: str | None = None

    @property
    def processed(self) -> int:
        return self.kept + self.rejected


def _owner(shard):
    return (lambda i: True) if shard[1] == 1 else (lambda i: shard_of(i, shard[1]) == shard[0])


# Counts that grow when a dataset is extended with more samples of the same source: not part of its identity.
_GROWING = ("n", "records", "files", "metadata_records")


def source_settings(source, refine_kwargs: dict | None = None) -> dict:
    """What every sample of a dataset depends on: the source, its settings and the refinement's.

    ``source.settings()`` when the source has it, else ``source.describe()``
    without the counts that grow when a dataset is extended (``-n 48`` then
    ``-n 100`` adds samples of the same source). JSON-normalised (tuples become
    lists), as the folder's marker records it.
    """
    import json

    own = getattr(source, "settings", None)
    d = dict(own()) if callable(own) else {k: v for k, v in source.describe().items() if k not in _GROWING}
    if refine_kwargs:
        d["refine"] = dict(refine_kwargs)
    return json.loads(json.dumps(d, sort_keys=True, default=str))


def _has_samples(root: str) -> bool:
    from ..fileio.readwrite import is_temp_name
    from .manifest import manifest_files

    if any(read_lines(p) for p in manifest_files(root) if os.path.isfile(p)):
        return True
    for status in STATUSES:
        for rel in paths(status, "x").values():
            folder = os.path.join(root, os.path.dirname(rel))
            if os.path.isdir(folder) and any(not is_temp_name(n) for n in os.listdir(folder)):
                return True
    return False


def _check_source(root: str, recorded: dict, wanted: dict) -> bool:
    """Refuse a build whose source differs from the dataset's; True when the (sample-less) record must change."""
    from ..fileio.ownership import UsageError

    if recorded == wanted:
        return False
    if not _has_samples(root):  # a build that failed before its first sample: nothing depends on the record
        return True
    keys = sorted(set(recorded) | set(wanted))
    diffs = [f"{k} {recorded.get(k, '-')!s} -> {wanted.get(k, '-')!s}" for k in keys
             if recorded.get(k) != wanted.get(k)]  # fmt: skip
    raise UsageError(f"dataset folder {root} holds samples of another source or settings ({'; '.join(diffs)}): a "
                     "dataset keeps the source and settings it was made with; build into another folder")  # fmt: skip


def _recheck_source(root: str, wanted: dict) -> None:
    """Under the build's lock: the marker still records this source (a concurrent build did not re-mark the
    folder between the claim and the lock)."""
    from ..fileio.ownership import UsageError, _read_marker

    recorded = (_read_marker(root) or {}).get("settings", {}).get("source")
    if recorded is not None and recorded != wanted:
        raise UsageError(f"dataset folder {root} was taken by a build of another source meanwhile; build into "
                         "another folder")  # fmt: skip


def claim_dataset(root: str, shard=(0, 1), source: dict | None = None):
    """Claim ``root`` as a dataset folder of this shard count (refused: another count, or a folder not ours).

    A dataset made before folders were marked (it has ``dataset.json``) is
    adopted, unless its shard manifests show another shard count. ``source``
    (:func:`source_settings`) is recorded in the marker as the shard count is:
    a build with another source or other settings is refused while the
    dataset holds samples.
    """
    import glob
    import re

    from ..fileio.ownership import MARKER, OutputFolder, UsageError, _read_marker

    n = shard[1]
    legacy = not os.path.exists(os.path.join(root, MARKER)) and os.path.isfile(os.path.join(root, SETTINGS))
    if legacy:
        counts = {int(m.group(1)) for p in glob.glob(os.path.join(glob.escape(root), "manifest.shard-*-of-*.jsonl"))
                  if (m := re.search(r"-of-(\d+)\.jsonl$", p))}  # fmt: skip
        if counts - {n}:
            raise UsageError(f"dataset folder {root} was built with --shard i/{min(counts - {n})}; this run asks "
                             f"for i/{n}: use the same count, or another output folder")  # fmt: skip
    settings = {"shard_count": n}
    if source is not None:
        marker = _read_marker(root) if os.path.isdir(root) else None
        if marker is not None and marker["kind"] == KIND and "source" in marker["settings"]:
            if _check_source(root, marker["settings"]["source"], source):
                from ..fileio.readwrite import write_json_atomic

                with lock(root, exclusive=True):  # refused while another build runs here
                    marker["settings"]["source"] = source
                    write_json_atomic(os.path.join(root, MARKER), marker)
        settings["source"] = source
    return OutputFolder.claim(root, KIND, overwrite=legacy, settings=settings, option=None)


def prepare(root: str, shard=(0, 1), source=None) -> dict:
    """Make a dataset folder consistent after any interruption; return its entries by id.

    Drops this shard's torn last manifest line, finishes interrupted moves
    between kept and rejected, removes lines whose files are gone (they are
    redone) and, with a ``source`` that can tell (``source.changed(entry)``),
    lines whose source changed since (their files go too: the manifest proves
    they are ours); deletes temp files of writers that no longer run. Touches
    only ids that belong to ``shard``; never deletes an image no line lists.
    """
    for status in STATUSES:
        for rel in paths(status, "x").values():
            os.makedirs(os.path.join(root, os.path.dirname(rel)), exist_ok=True)
    own = os.path.join(root, shard_manifest(shard))
    repair_tail(own)
    entries = read_manifest(root)
    owns = _owner(shard)
    broken = {i for i, e in entries.items() if owns(i) and not move_sample(root, i, e["status"])}
    changed = getattr(source, "changed", None)
    redo = {i for i, e in entries.items() if owns(i) and i not in broken and changed is not None and changed(e)}
    if broken or redo:
        lines = read_lines(own)
        dropped = [e for e in lines if e["id"] in broken | redo]
        write_jsonl_atomic(own, [e for e in lines if e["id"] not in broken | redo])
        for e in dropped:
            if e["id"] in redo:
                for rel in e.get("files", {}).values():
                    with _suppress_missing():
                        os.remove(os.path.join(root, rel))
        entries = read_manifest(root)
    remove_unlisted(root, entries, owns)
    return entries


def _suppress_missing():
    import contextlib

    return contextlib.suppress(FileNotFoundError)


def _tolerances(refine_kwargs: dict) -> dict:
    """The refinement's tolerances for quality control's haze measure (missing: the defaults)."""
    return {k: refine_kwargs.get(k) for k in ("fg_tol", "bg_tol")}


def _finish(item, root: str, qc: QCConfig, refine_kwargs: dict, durable: bool) -> tuple[dict, dict]:
    """Refine (unless the source did), judge and write one sample; return its manifest entry and timings."""
    from .. import refine

    t0 = time.perf_counter()
    refined, report = item.refined, item.report
    if refined is None:
        refined, report = refine(item.rgba, return_report=True, **refine_kwargs)
    t1 = time.perf_counter()
    verdict = evaluate(refined[..., 3], report, qc, **_tolerances(refine_kwargs))
    t2 = time.perf_counter()
    status = "kept" if verdict.keep else "rejected"
    files = write_sample(root, status, item.id, refined, durable)
    t3 = time.perf_counter()
    entry = {"id": item.id, "status": status, "files": files, **item.meta,
             "height": int(refined.shape[0]), "width": int(refined.shape[1]),
             "report": None if report is None else report.to_dict(), "qc": verdict.to_dict(),
             "created": time.strftime("%Y-%m-%dT%H:%M:%S")}  # fmt: skip
    return entry, {"refine": t1 - t0, "qc": t2 - t1, "write": t3 - t2}


def _progress(total: int | None, desc: str, enabled: bool):
    from ..batch import progress_bar

    return progress_bar(total, desc, enabled)


def build(source, out_dir, *, shard=(0, 1), qc: QCConfig | None = None, refine_kwargs: dict | None = None,
          limit: int | None = None, workers: int | None = None, progress: bool = True, durable: bool = True,
          stop=None, executor=None) -> BuildSummary:  # fmt: skip
    """Build (or resume) a dataset in ``out_dir`` from a source.

    Parameters
    ----------
    source : SyntheticSource, FolderSource or LayerDiffusionSource
    out_dir : path
        Created and claimed as a dataset folder (refused: a non-empty folder
        that is not a dataset, another shard count, a folder overlapping the
        source's inputs: :class:`ldmatte.fileio.ownership.UsageError`).
    shard : (i, n)
        Process only the ids with ``shard_of(id, n) == i``.
    qc : QCConfig, optional
    refine_kwargs : dict, optional
        Arguments of :func:`ldmatte.refine` (sources that refine themselves ignore them).
    limit : int, optional
        Process at most this many new samples (the source's ids are read
        lazily: a huge source with a small limit runs in constant memory).
    workers : int, optional
        Threads for refinement, quality control and writing (default: CPU count, at most 4).
    progress : bool
        Show a progress bar (images/s and ETA) on stderr.
    durable : bool
        fsync every file and line (turn off only for throw-away data).
    stop : StopFlag, optional
        When set (Ctrl-C), no new sample starts; those in flight finish and are listed.
    executor : optional
        Another executor of the batch engine (see :mod:`ldmatte.batch.engine`). One with a
        ``run_build`` method (:class:`ldmatte.dataset.ray_engine.RayExecutor`) runs the source on
        its workers too and hands back the manifest rows; this function still claims, locks and
        repairs the folder and writes every manifest line.

    Returns
    -------
    BuildSummary
    """
    from ..batch import check_count
    from ..fileio.ownership import check_disjoint

    root = os.fspath(out_dir)
    check_count("workers", workers, 1, 1024)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be a whole number >= 0, got {limit!r}")
    inputs = getattr(source, "inputs", ())
    if inputs:
        check_disjoint(inputs, [root])
    qc = qc or QCConfig()
    refine_kwargs = dict(refine_kwargs or {})
    settings = source_settings(source, refine_kwargs)
    claim_dataset(root, shard, settings)
    with lock(root, shard):
        _recheck_source(root, settings)
        entries = prepare(root, shard, source)
        _write_settings(root, source, qc, refine_kwargs)
        run_build = getattr(executor, "run_build", None)
        if run_build is not None:  # an executor whose workers also produce the samples (Ray: generation per GPU)
            summary = run_build(source, entries, root, shard, qc, refine_kwargs, limit, progress, durable, stop)
        else:
            summary = _run(source, entries, root, shard, qc, refine_kwargs, limit, workers, progress, durable, stop,
                           executor)  # fmt: skip
        try:
            write_derived(root, shard, summary.errors)
        except OSError as exc:
            from ..fileio.ownership import fault_message

            summary.fault = summary.fault or fault_message(exc)
    return summary


class _Count:
    """Ids of the shard seen and already done, counted while the source's ids stream by."""

    def __init__(self):
        self.mine = self.done = 0
        self.exhausted = False


def _todo(ids, owns, entries, count: _Count):
    for sample_id in ids:
        if not owns(sample_id):
            continue
        count.mine += 1
        if sample_id in entries:
            count.done += 1
        else:
            yield sample_id
    count.exhausted = True


def _membership(ids):
    """A fast ``id in ids`` when there is one (a lazy id range has it; a list is turned into a set)."""
    if isinstance(ids, (list, tuple)):
        return set(ids).__contains__
    if isinstance(ids, (set, frozenset, dict)) or hasattr(ids, "__contains__") and hasattr(ids, "__len__"):
        return ids.__contains__
    return None


def _run(source, entries, root, shard, qc, refine_kwargs, limit, workers, progress, durable, stop, executor):
    from ..batch import ThreadExecutor, run_items

    owns = _owner(shard)
    ids = source.ids()
    contains = _membership(ids)
    count = _Count()
    todo = _todo(ids, owns, entries, count)
    if limit is not None:
        todo = itertools.islice(todo, limit)
    total = None
    if contains is not None:
        done = sum(1 for i in entries if owns(i) and contains(i))
        if shard[1] == 1 and hasattr(ids, "__len__"):
            total = len(ids) - done
    else:
        done = None
    if limit is not None:
        total = limit if total is None else min(limit, total)
    summary = BuildSummary(None, 0)
    manifest = os.path.join(root, shard_manifest(shard))
    produce_time = [0.0]

    def produced():  # pulled by the engine's workers, one at a time
        it = iter(source.produce(todo))
        while True:
            t = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                return
            finally:
                produce_time[0] += time.perf_counter() - t
            yield item

    def work(item):
        from ..batch import ItemError

        if item.error is not None:
            raise ItemError(item.error)
        return _finish(item, root, qc, refine_kwargs, durable)

    def on_result(_item, result):
        entry, times = result
        append_line(manifest, entry, durable)  # after its files: the line is the commit
        setattr(summary, entry["status"], getattr(summary, entry["status"]) + 1)
        for k, v in times.items():
            summary.timings[k] = summary.timings.get(k, 0.0) + v

    if executor is None:  # the workers refine, judge and write; this thread appends and fsyncs the lines meanwhile
        executor = ThreadExecutor(max(1, int(workers or min(4, os.cpu_count() or 1))), caller_works=False,
                                  kernel_threads=1)
    summary.timings["produce"] = 0.0
    report = run_items(produced(), work, name=lambda item: item.id, on_result=on_result, executor=executor,
                       ordered=True, total=total, desc=f"build {source.name}", progress=progress, stop=stop,
                       postfix=lambda so_far: dict(kept=summary.kept, rejected=summary.rejected,
                                                   errors=len(so_far.failures)))  # fmt: skip
    summary.timings["produce"] = produce_time[0]
    # Inputs the source could not list (a broken link, a named pipe, no permission) are errors too, named by path.
    unlisted = [(os.path.basename(p.path), p.reason) for p in getattr(source, "problems", ())]
    summary.errors = unlisted + [(f.input, f.reason) for f in report.failures]
    summary.seconds = report.seconds
    summary.interrupted = (getattr(stop, "signal_name", None) or "stop") if report.interrupted else None
    summary.fault = report.fault
    if count.exhausted:
        summary.shard_total = count.mine
        summary.already_done = count.done
    else:
        summary.shard_total = len(ids) if shard[1] == 1 and hasattr(ids, "__len__") else None
        summary.already_done = done if done is not None else count.done
    return summary


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
