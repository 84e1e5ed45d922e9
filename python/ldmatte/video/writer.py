"""Writing a video's frames on a background thread, in order, while the next frames are matted.

At 1080p encoding the PNGs and the preview takes about as long as matting a
frame at the working resolution; PNG compression and the video encoders release
the GIL, so on a second core the writes overlap the next frame's work. Jobs run
in the order given on one thread (the video encoders need the frames in order),
at most ``depth`` frames behind the caller (memory stays bounded). A job that
fails stops the later ones; its error is raised in the caller's thread at the
next :meth:`~BackgroundWriter.submit` or at :meth:`~BackgroundWriter.close`.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable

__all__ = ["BackgroundWriter"]


class BackgroundWriter:
    """Run write jobs (callables without arguments) in order on one background thread.

    Examples
    --------
    >>> done = []
    >>> writer = BackgroundWriter()
    >>> for i in range(3):
    ...     writer.submit(lambda i=i: done.append(i))
    >>> writer.close(); done
    [0, 1, 2]
    >>> writer = BackgroundWriter()
    >>> writer.submit(lambda: 1 / 0)
    >>> writer.close()
    Traceback (most recent call last):
    ...
    ZeroDivisionError: division by zero
    """

    def __init__(self, depth: int = 2):
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth!r}")
        self._jobs: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = threading.Thread(target=self._work, name="ldmatte-video-writer",
                                                                 daemon=True)  # fmt: skip
        self._thread.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if self._error is None:  # after a failure the rest is dropped: the caller stops at its next submit
                try:
                    job()
                except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                    self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def submit(self, job: Callable[[], object]) -> None:
        """Queue ``job`` (waits while ``depth`` jobs are pending); raises the error of an earlier job."""
        if self._thread is None:
            raise RuntimeError("the writer is closed")
        self._raise()
        self._jobs.put(job)

    def close(self, raise_error: bool = True) -> None:
        """Wait for the queued jobs and stop the thread; raise the error of a failed job (``raise_error``)."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None
        if raise_error:
            self._raise()
