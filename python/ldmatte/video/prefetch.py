"""Preparing the next frame on a second thread while the current one is matted.

Everything the pipeline does to a frame before its trimap meets the previous
frame's alpha (decoding, scaling, optical flow, segmentation, distances) does
not depend on any alpha, so frame ``t + 1`` can be prepared while frame ``t``
is matted, brought to full size and written. OpenCV, the sparse factorisation
of closed-form matting, numba kernels and numpy's loops release the GIL, so on
two cores the two threads overlap; the order of every stateful step is the
order of the frames, so the output is the same, bit for bit, as one thread's.

:class:`Prefetcher` runs ``prepare(index)`` one call ahead on one thread; its
errors are raised in the caller's thread when the result is taken.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["Prefetcher"]


class Prefetcher:
    """``prepare(0)``, ``prepare(1)``, ... computed one ahead of :meth:`take` on a background thread.

    ``prepare`` returns None at the end (then nothing more is asked of it). ``ahead=False`` computes each call
    in :meth:`take` (no thread; the same results).

    Examples
    --------
    >>> p = Prefetcher(lambda i: i * i if i < 3 else None)
    >>> [p.take(), p.take(), p.take(), p.take()]
    [0, 1, 4, None]
    >>> p.close()
    >>> p = Prefetcher(lambda i: 1 / 0)
    >>> p.take()
    Traceback (most recent call last):
    ...
    ZeroDivisionError: division by zero
    >>> p.close()
    """

    def __init__(self, prepare: Callable[[int], object], ahead: bool = True):
        self._prepare = prepare
        self._ahead = ahead
        self._next = 0
        self._ended = False
        self._thread: threading.Thread | None = None
        self._result: object = None
        self._error: BaseException | None = None
        if ahead:
            self._start()

    def _start(self) -> None:
        index = self._next

        def run() -> None:
            try:
                self._result = self._prepare(index)
            except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread by take()
                self._error = exc

        self._result, self._error = None, None
        self._thread = threading.Thread(target=run, name="ldmatte-video-prepare", daemon=True)
        self._thread.start()

    def take(self):
        """The next prepared result (None at the end); the call after it starts at once on the thread."""
        if self._ended:
            return None
        if not self._ahead:
            result = self._prepare(self._next)
        else:
            self._wait()
            error, result = self._error, self._result
            self._result = self._error = None
            if error is not None:
                self._ended = True
                raise error
        self._next += 1
        if result is None:
            self._ended = True
        elif self._ahead:
            self._start()
        return result

    def _wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        """Wait for a call still running (one frame's preparation) and ask for no more."""
        self._ended = True
        self._wait()
        self._result = self._error = None
