"""The batch engine: work items through an executor, with progress, interruption, a failure list and a summary.

:func:`run_items` drives a batch: it hands ``work`` and the items to an
executor, takes the outcomes as they come back, calls ``on_result`` for each
success (in the calling thread: manifest lines, records), lists each failure
with one line of reason, updates the progress bar and stops taking new items
when the :class:`~ldmatte.files.StopFlag` is set (Ctrl-C, SIGTERM) or when a
write fails for a reason that every later write would share (disk full,
read-only file system, file size limit, quota). Items in flight always finish.

Executor protocol
-----------------
An executor is any object with::

    workers: int                                   # how many items it works on at once
    map(fn, items, *, ordered=False, stop=None) -> Iterator[Outcome]

``map`` calls ``fn(item)`` for each item of the iterable ``items`` (pulled
lazily, never more than a bounded window ahead of what was yielded, so a
source of a billion items runs in constant memory) and yields one
:class:`Outcome` per item taken: ``value`` set on success, ``error`` the
exception otherwise (``fn`` raising is a failure of that item, not of the
batch). With ``ordered`` the outcomes come in item order, otherwise as they
finish. Once ``stop.is_set()`` it takes no new items, yields the outcomes of
those in flight and ends. An exception raised by the iteration of ``items``
itself ends the batch and is re-raised by ``map`` after the items in flight
finished. Closing the iterator early (``break``) waits for the items in flight.

:class:`ThreadExecutor` is the local one: threads of this process, the
calling thread working as slot 0 (it starts on the first item at once, and one
thread fewer is started); each thread runs the Numba kernels on one thread
(the workers are the parallelism). Threads rather than processes because the
kernels release the GIL (``nogil=True``) and so do OpenCV's PNG codecs: no
interpreter start, no kernel load per process, no pickled images. A Ray
executor implements the same two members: ``map`` submits ``fn`` on items as
remote tasks, keeps at most a window of them in flight, yields their outcomes
with ``ray.wait`` and honours ``stop``; ``fn`` and the items must then pickle.
"""
from __future__ import annotations

import dataclasses
import errno
import os
import sys
import threading
import time
from typing import Any, Callable, Iterable, Iterator

__all__ = ["Outcome", "Failure", "BatchReport", "ThreadExecutor", "ItemError", "run_items", "progress_bar",
           "failure_reason", "is_output_fault", "default_workers", "check_count"]  # fmt: skip

# Faults that every later write to the same place would repeat: the batch stops at once.
_OUTPUT_FAULTS = {errno.ENOSPC, errno.EROFS, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What became of one item: ``index`` its position in the input order, ``value`` or ``error``."""

    index: int
    item: Any
    value: Any = None
    error: BaseException | None = None


@dataclasses.dataclass(frozen=True)
class Failure:
    """An item that did not finish: ``input`` names it (a path, a sample id), ``reason`` in one line."""

    input: str
    reason: str

    def to_dict(self) -> dict:
        return {"input": self.input, "reason": self.reason}


@dataclasses.dataclass
class BatchReport:
    """What :func:`run_items` did: ``done`` items finished, ``failures``, and why it ``stopped`` early (or None).

    ``interrupted`` is True when a signal (Ctrl-C, SIGTERM) stopped it; ``fault`` is the one-line fault that
    stopped it (disk full, read-only file system), else None.
    """

    done: int = 0
    failures: list = dataclasses.field(default_factory=list)
    stopped: str | None = None
    interrupted: bool = False
    fault: str | None = None
    seconds: float = 0.0


class ItemError(Exception):
    """An item that cannot be done, with the reason as it should be listed (no exception type in front)."""


def default_workers(limit: int = 8) -> int:
    """CPU cores, at most ``limit``."""
    return max(1, min(os.cpu_count() or 1, limit))


def check_count(name: str, value, low: int = 1, high: int | None = None) -> int | None:
    """Validate an integer option such as ``--workers``; None passes. Raises ValueError with a clear line."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{name} must be {bounds}, got {value}")
    return value


def is_output_fault(exc: BaseException) -> bool:
    """True for write faults that every later write would repeat (disk full, read-only, size limit, quota)."""
    return isinstance(exc, OSError) and exc.errno in _OUTPUT_FAULTS


def failure_reason(exc: BaseException) -> str:
    """The one line listed for a failed item: a reader's reason, a fault's message, else ``Type: message``."""
    from ..fileio.ownership import fault_message
    from ..fileio.readwrite import ImageReadError

    if isinstance(exc, ImageReadError):
        return exc.reason
    if isinstance(exc, ItemError):
        return str(exc)
    if isinstance(exc, OSError):
        return fault_message(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def progress_bar(total: int | None, desc: str, enabled: bool = True):
    """A tqdm bar on stderr counting images (disabled: same object, prints nothing)."""
    from tqdm import tqdm

    return tqdm(total=total, unit="img", desc=desc, file=sys.stderr, disable=not enabled, dynamic_ncols=True)


class _EitherStop:
    """Set when the caller's flag or the engine's own (a fault) is set."""

    def __init__(self, *flags):
        self.flags = [f for f in flags if f is not None]

    def is_set(self) -> bool:
        return any(f.is_set() for f in self.flags)


class ThreadExecutor:
    """Runs items on ``workers`` threads of this process; the calling thread is slot 0.

    Parameters
    ----------
    workers : int
        Threads working at once (the caller's included).
    kernel_threads : int, None or "auto"
        Numba threads of each worker while it works; None leaves the setting
        alone; "auto" (default) is 1 with several workers (the workers are the
        parallelism, each kernel runs on one thread) and None with one (its
        kernels may use the cores). The calling thread's setting is restored
        afterwards.
    window : int, optional
        Items taken but not yet yielded, at most (default ``2 * workers``):
        bounds memory, and with ``ordered`` how far work runs ahead of a slow item.
    caller_works : bool
        The calling thread works as slot 0 (default; one thread fewer to
        start, the first item starts at once). False starts ``workers``
        threads and leaves the caller free for what it does with each outcome
        while they work: the dataset build appends and fsyncs a manifest line
        per sample, which then overlaps the next samples' work.

    Examples
    --------
    >>> from ldmatte.batch import ThreadExecutor
    >>> [o.value for o in ThreadExecutor(3).map(lambda x: x * x, range(5), ordered=True)]
    [0, 1, 4, 9, 16]
    """

    def __init__(self, workers: int = 1, *, kernel_threads="auto", window: int | None = None,
                 caller_works: bool = True):  # fmt: skip
        self.workers = check_count("workers", workers)
        if kernel_threads == "auto":
            kernel_threads = 1 if self.workers > 1 else None
        self.kernel_threads = kernel_threads
        self.window = max(1, window or 2 * self.workers)
        self.caller_works = bool(caller_works)

    def map(self, fn: Callable, items: Iterable, *, ordered: bool = False, stop=None) -> Iterator[Outcome]:
        return _ThreadMap(self, fn, items, ordered, stop).run()


class _ThreadMap:
    """One ``ThreadExecutor.map`` call: shared state of the threads and the generator the caller iterates."""

    def __init__(self, ex: ThreadExecutor, fn, items, ordered: bool, stop):
        self.ex, self.fn, self.ordered, self.stop = ex, fn, ordered, stop
        self.source = iter(items)
        self.source_lock = threading.Lock()  # pulling from the source (a generator) is one thread at a time
        self.cond = threading.Condition()
        self.next_index = 0  # index of the next item pulled
        self.next_yield = 0  # ordered: index of the next outcome to yield
        self.taken = 0  # items taken and not yet yielded (bounded by the window)
        self.ready: dict[int, Outcome] = {}
        self.exhausted = self.closing = False
        self.source_error: BaseException | None = None

    def _stopping(self) -> bool:
        return self.exhausted or self.closing or (self.stop is not None and self.stop.is_set())

    def _take(self, wait: bool):
        """(index, item); None when no more items will be taken; False when the window is full and not ``wait``."""
        with self.cond:
            while True:
                if self._stopping():
                    return None
                if self.taken < self.ex.window:
                    self.taken += 1
                    break
                if not wait:
                    return False
                self.cond.wait(0.1)
        with self.source_lock:
            try:
                item = next(self.source)
                index = self.next_index
                self.next_index += 1
                return index, item
            except StopIteration:
                err = None
            except BaseException as exc:  # the source itself failed: the batch ends
                err = exc
        with self.cond:
            self.taken -= 1
            self.exhausted = True
            if err is not None and self.source_error is None:
                self.source_error = err
            self.cond.notify_all()
        return None

    def _work(self, index: int, item) -> None:
        try:
            out = Outcome(index, item, self.fn(item))
        except Exception as exc:  # noqa: BLE001 - an item that fails is listed; the others go on
            out = Outcome(index, item, None, exc)
        with self.cond:
            self.ready[index] = out
            self.cond.notify_all()

    def _pop_ready(self):
        with self.cond:
            if self.ordered:
                out = self.ready.pop(self.next_yield, None)
                if out is not None:
                    self.next_yield += 1
            else:
                out = self.ready.pop(next(iter(self.ready)), None) if self.ready else None
            if out is not None:
                self.taken -= 1
                self.cond.notify_all()
            return out

    def _set_kernel_threads(self):
        if self.ex.kernel_threads is None:
            return None
        import numba

        before = numba.get_num_threads()
        numba.set_num_threads(max(1, min(self.ex.kernel_threads, numba.config.NUMBA_NUM_THREADS)))
        return before

    def _loop(self) -> None:
        self._set_kernel_threads()  # per thread; a pool thread ends with the batch
        while True:
            got = self._take(wait=True)
            if not got:
                return
            self._work(*got)

    def run(self) -> Iterator[Outcome]:
        first = 1 if self.ex.caller_works else 0
        helpers = [threading.Thread(target=self._loop, name=f"ldmatte-batch-{slot}", daemon=True)
                   for slot in range(first, self.ex.workers)]  # fmt: skip
        before = self._set_kernel_threads() if self.ex.caller_works else None
        try:
            for t in helpers:
                t.start()
            while True:
                out = self._pop_ready()
                if out is not None:
                    yield out
                    continue
                got = self._take(wait=False) if self.ex.caller_works else False
                if got:
                    self._work(*got)
                    continue
                with self.cond:
                    if self._stopping() and self.taken == 0:
                        break
                    if not self.ready:
                        self.cond.wait(0.1)
        finally:
            with self.cond:
                self.closing = True
                self.cond.notify_all()
            for t in helpers:
                t.join()
            if before is not None:
                import numba

                numba.set_num_threads(before)
        if self.source_error is not None:
            raise self.source_error


def run_items(items: Iterable, work: Callable, *, name: Callable = str, on_result: Callable | None = None,
              executor=None, ordered: bool = False, total: int | None = None, desc: str = "batch",
              progress: bool = True, stop=None, postfix: Callable | None = None) -> BatchReport:  # fmt: skip
    """Run ``work(item)`` over ``items`` and return a :class:`BatchReport`.

    Parameters
    ----------
    items : iterable
        Pulled lazily by the executor.
    work : callable
        ``work(item) -> value``; an exception fails that item only (listed as
        ``Failure(name(item), failure_reason(exc))``).
    name : callable
        ``name(item)``: how a failed item is listed.
    on_result : callable, optional
        ``on_result(item, value)`` in the calling thread, for each success (in
        item order with ``ordered``). An exception here fails the item too.
    executor : optional
        See the module docstring; default ``ThreadExecutor(1)``.
    total, desc, progress
        The progress bar (tqdm on stderr): its length (None: unknown), label, and whether it shows.
    stop : StopFlag, optional
        Checked before every new item; items in flight finish.
    postfix : callable, optional
        ``postfix(report so far) -> dict`` shown after the bar's counts.

    Examples
    --------
    >>> from ldmatte.batch import ThreadExecutor, run_items
    >>> report = run_items([1, 0, 2], lambda x: 1 / x, executor=ThreadExecutor(2), progress=False)
    >>> report.done, report.failures
    (2, [Failure(input='0', reason='ZeroDivisionError: division by zero')])
    """
    from ..fileio.ownership import StopFlag, fault_message

    executor = executor or ThreadExecutor(1)
    halt = StopFlag()  # the engine's own: a fault that every later write would repeat
    either = _EitherStop(stop, halt)
    report = BatchReport()
    start = time.perf_counter()
    with progress_bar(total, desc, progress) as bar:
        for out in executor.map(work, items, ordered=ordered, stop=either):
            err = out.error
            if err is None and on_result is not None:
                try:
                    on_result(out.item, out.value)
                except Exception as exc:  # noqa: BLE001 - e.g. the manifest append hit a full disk
                    err = exc
            if err is None:
                report.done += 1
            else:
                report.failures.append(Failure(str(name(out.item)), failure_reason(err)))
                if is_output_fault(err) and not halt.is_set():
                    report.fault = fault_message(err)
                    halt.set("fault")
            bar.update(1)
            if postfix is not None:
                bar.set_postfix(postfix(report), refresh=False)
    if stop is not None and stop.is_set():
        report.interrupted = True
        report.stopped = f"interrupted ({getattr(stop, 'signal_name', None) or 'stop'})"
    elif report.fault is not None:
        report.stopped = f"stopped: {report.fault}"
    report.seconds = time.perf_counter() - start
    return report
