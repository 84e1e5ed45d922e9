"""Reading videos as RGB uint8 frames, through PyAV (preferred) or OpenCV.

PyAV gives exact frame rates, audio presence and every codec FFmpeg decodes;
OpenCV's ``VideoCapture`` is the fallback when PyAV is not installed (the
``video`` extra) or cannot open a file OpenCV can.
"""
from __future__ import annotations

import dataclasses
import os
from fractions import Fraction

__all__ = ["VideoInfo", "VideoReadError", "probe", "iter_frames"]

BACKENDS = ("auto", "pyav", "opencv")


class VideoReadError(ValueError):
    """A video that cannot be opened or decoded; the message names the file."""


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What a video holds: size, frame rate, frame count (estimate; 0 if unknown), audio presence."""

    path: str
    width: int
    height: int
    fps: Fraction
    frame_count: int
    has_audio: bool
    backend: str

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["fps"] = float(self.fps)
        return d


def _av():
    try:
        import av
    except ImportError:
        return None
    return av


def _check(path, backend: str) -> str:
    path = os.fspath(path)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if not os.path.exists(path):
        raise VideoReadError(f"{path}: no such file")
    if not os.path.isfile(path):
        raise VideoReadError(f"{path}: not a regular file")
    return path


def _probe_av(av, path: str) -> VideoInfo:
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise VideoReadError(f"{path}: no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or Fraction(25)
            count = int(stream.frames or 0)
            if not count and stream.duration and stream.time_base:
                count = int(round(float(stream.duration * stream.time_base) * float(rate)))
            if not count and container.duration:  # Matroska: only the container's duration (microseconds)
                count = int(round(container.duration / 1_000_000 * float(rate)))
            return VideoInfo(path, int(stream.codec_context.width), int(stream.codec_context.height), Fraction(rate),
                             count, bool(container.streams.audio), "pyav")  # fmt: skip
    except VideoReadError:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise VideoReadError(f"{path}: cannot open as a video ({exc})") from None


def _probe_cv(path: str) -> VideoInfo:
    import cv2

    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise VideoReadError(f"{path}: cannot open as a video")
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if w <= 0 or h <= 0:
            raise VideoReadError(f"{path}: no video stream")
        fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        count = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
        return VideoInfo(path, w, h, Fraction(fps).limit_denominator(1001), count, False, "opencv")
    finally:
        cap.release()


def probe(path, backend: str = "auto") -> VideoInfo:
    """Size, frame rate, frame count and audio presence of a video.

    Examples
    --------
    >>> import os, tempfile
    >>> from ldmatte.video.synthetic import make_video, write_video
    >>> clip = make_video(n_frames=3, size=(48, 64), seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "clip.mkv")
    >>> write_video(path, clip.frames, fps=12)
    >>> info = probe(path)
    >>> (info.width, info.height, float(info.fps), info.frame_count, info.has_audio)
    (64, 48, 12.0, 3, False)
    """
    path = _check(path, backend)
    av = _av() if backend in ("auto", "pyav") else None
    if backend == "pyav" and av is None:
        raise VideoReadError("PyAV is not installed (pip install 'ldmatte[video]')")
    if av is not None:
        try:
            return _probe_av(av, path)
        except VideoReadError:
            if backend == "pyav":
                raise
    return _probe_cv(path)


def _frames_av(av, path: str):
    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24")
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoReadError(f"{path}: decoding failed ({exc})") from None


def _frames_cv(path: str):
    import cv2

    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise VideoReadError(f"{path}: cannot open as a video")
        while True:
            ok, bgr = cap.read()
            if not ok:
                return
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


def iter_frames(path, backend: str = "auto"):
    """Yield the frames of a video as (H, W, 3) uint8 RGB arrays, in display order.

    ``backend`` is ``"pyav"``, ``"opencv"`` or ``"auto"`` (PyAV when installed
    and able to open the file, else OpenCV).

    Examples
    --------
    >>> import os, tempfile
    >>> from ldmatte.video.synthetic import make_video, write_video
    >>> clip = make_video(n_frames=2, size=(48, 64), seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "clip.mkv")
    >>> write_video(path, clip.frames, fps=12)
    >>> [f.shape for f in iter_frames(path)]
    [(48, 64, 3), (48, 64, 3)]
    """
    info = probe(path, backend)
    if info.backend == "pyav":
        yield from _frames_av(_av(), info.path)
    else:
        yield from _frames_cv(info.path)
