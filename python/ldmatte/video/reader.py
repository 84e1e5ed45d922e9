"""Reading videos as RGB uint8 frames, through PyAV (preferred) or OpenCV, or a folder of frame images.

PyAV gives exact frame rates, audio presence and every codec FFmpeg decodes;
OpenCV's ``VideoCapture`` is the fallback when PyAV is not installed (the
``video`` extra) or cannot open a file OpenCV can. A folder of JPEG / PNG
frames (as DAVIS and other segmentation benchmarks ship their clips) is read in
natural name order (``frame_2`` before ``frame_10``) at a frame rate the caller
gives (25 by default).

:class:`FrameReader` is what a run iterates: every frame at the first frame's
size (a stream whose size changes mid-file has its other frames resized to it,
and the count is noted), and at the end whether the input was read whole: a
truncated file that decodes 1 of 12 frames says so instead of passing for a
1-frame video.
"""
from __future__ import annotations

import dataclasses
import os
import re
from fractions import Fraction

__all__ = ["VideoInfo", "VideoReadError", "FrameReader", "probe", "iter_frames", "frame_files", "count_frames",
           "natural_key"]  # fmt: skip

BACKENDS = ("auto", "pyav", "opencv")
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
FOLDER_FPS = Fraction(25)  # the frame rate of a folder of frames when none is given


def natural_key(name: str) -> tuple:
    """Sort key putting ``frame_2`` before ``frame_10``: digit runs compare as numbers, the rest case-folded.

    Examples
    --------
    >>> sorted(["frame_10.png", "frame_2.png", "Frame_1.png"], key=natural_key)
    ['Frame_1.png', 'frame_2.png', 'frame_10.png']
    """
    parts = re.split(r"(\d+)", name)
    return tuple((0, int(p), "") if i % 2 else (1, 0, p.casefold()) for i, p in enumerate(parts)), name


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
    exact_count: bool = False  # frame_count from an index or a listing, not estimated from the duration

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
    from ..fileio._filetype import not_regular as _kind

    path = os.fspath(path)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    try:
        st = os.stat(path)
    except OSError:
        raise VideoReadError(f"{path}: no such file") from None
    if os.path.isdir(path):
        return path
    if _kind(st):  # a named pipe or a device is never opened: the decoder would wait on it
        raise VideoReadError(f"{path}: {_kind(st)}")
    return path


def frame_files(folder) -> list[str]:
    """The frame images of a folder (JPEG, PNG, ...; hidden names skipped), in natural name order.

    Raises VideoReadError when it holds none, or holds one that is not a regular file (a named pipe would
    block the run).

    Examples
    --------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> for n in ("f10.jpg", "f2.jpg", "notes.txt"):
    ...     open(os.path.join(d, n), "wb").close()
    >>> [os.path.basename(f) for f in frame_files(d)]
    ['f2.jpg', 'f10.jpg']
    """
    from ..fileio.ownership import collect_images

    folder = os.fspath(folder)
    files, problems = collect_images([folder], suffixes=FRAME_SUFFIXES)
    if problems:
        raise VideoReadError(f"{problems[0].path}: {problems[0].reason}")
    if not files:
        raise VideoReadError(f"{folder}: no frame images ({', '.join(FRAME_SUFFIXES)}) in this folder")
    return [f.path for f in sorted(files, key=lambda f: natural_key(f.rel))]


def _read_frame(path: str):
    """One frame image as (H, W, 3) uint8 RGB (grey repeated, alpha dropped); VideoReadError names the file."""
    import numpy as np

    from ..fileio.readwrite import ImageReadError, read_image

    try:
        im, _info = read_image(path)
    except ImageReadError as exc:
        raise VideoReadError(str(exc)) from None
    if im.ndim == 2:
        return np.repeat(im[..., None], 3, axis=2)
    return np.ascontiguousarray(im[..., :3])


def _probe_folder(path: str, fps) -> VideoInfo:
    files = frame_files(path)
    first = _read_frame(files[0])
    rate = Fraction(fps).limit_denominator(1001) if fps is not None else FOLDER_FPS
    return VideoInfo(path, int(first.shape[1]), int(first.shape[0]), rate, len(files), False, "images", True)


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
                             count, bool(container.streams.audio), "pyav", bool(stream.frames))  # fmt: skip
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


def probe(path, backend: str = "auto", fps=None) -> VideoInfo:
    """Size, frame rate, frame count and audio presence of a video, or of a folder of frames.

    A folder's size is its first frame's (in natural name order), its frame rate ``fps`` (default 25); a
    video file has its own rate, and ``fps`` is refused for it.

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
    if fps is not None:
        if not (isinstance(fps, (int, float, Fraction)) and 0 < fps < 10_000 and fps == fps):
            raise ValueError(f"fps must be a number in (0, 10000), got {fps!r}")
        if not os.path.isdir(path):
            raise ValueError(f"{path}: a video file has its own frame rate; fps is for a folder of frames")
    if os.path.isdir(path):
        return _probe_folder(path, fps)
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
    yield from _frames(probe(path, backend))


def _frames(info: VideoInfo):
    if info.backend == "images":
        for name in frame_files(info.path):
            yield _read_frame(name)
    elif info.backend == "pyav":
        yield from _frames_av(_av(), info.path)
    else:
        yield from _frames_cv(info.path)


def count_frames(path, backend: str = "auto") -> int:
    """The number of frames, counted: a folder's images, a video's packets (demuxed, not decoded).

    Exact where :func:`probe` may estimate from the duration (Matroska, MPEG-TS); for pairing frames with
    per-frame masks before the first frame is matted.

    Examples
    --------
    >>> import os, tempfile
    >>> from ldmatte.video.synthetic import make_video, write_video
    >>> path = os.path.join(tempfile.mkdtemp(), "clip.mkv")
    >>> write_video(path, make_video(n_frames=3, size=32, seed=0).frames, fps=12)
    >>> count_frames(path)
    3
    """
    info = probe(path, backend)
    if info.backend == "images" or info.exact_count:
        return info.frame_count
    if info.backend == "pyav":
        av = _av()
        try:
            with av.open(info.path) as container:
                stream = container.streams.video[0]
                return sum(1 for packet in container.demux(stream) if packet.size)
        except (av.error.FFmpegError, OSError) as exc:
            raise VideoReadError(f"{info.path}: cannot count its frames ({exc})") from None
    return info.frame_count


class FrameReader:
    """The frames of a video or a frame folder for a run: each at the first frame's size, counted.

    Iterate it (``next(reader, None)``). A frame of another size (a stream that changes resolution
    mid-file, a folder of mixed sizes) is resized to the first frame's size, as FFmpeg does when it
    encodes such a stream, and counted in ``resized``. A decoding error ends a video's frames (the frames
    before it are used) and is kept in ``error``; in a frame folder an unreadable image is replaced by the
    previous frame (the frames after it still pair with their masks) and listed in ``unreadable``. Once
    the frames ran out, :attr:`complete` says whether the input was read whole: every frame decoded, and as
    many as the input's index or duration promise.

    Examples
    --------
    >>> import numpy as np
    >>> frames = [np.zeros((4, 6, 3), np.uint8), np.zeros((2, 3, 3), np.uint8)]
    >>> r = FrameReader.from_frames(frames, expected=3, exact=True)
    >>> [f.shape for f in r]
    [(4, 6, 3), (4, 6, 3)]
    >>> r.complete
    False
    >>> for line in r.messages():
    ...     print(line)
    decoded 2 of 3 frames: the input is truncated or damaged
    1 frame of 3x2 resized to the first frame's 6x4
    """

    def __init__(self, path, backend: str = "auto", info: VideoInfo | None = None):
        self.info = info or probe(path, backend)
        images = self.info.backend == "images"
        self._files = iter(frame_files(self.info.path)) if images else None
        self._frames = None if images else _frames(self.info)
        self.expected, self.exact = self.info.frame_count, self.info.exact_count
        self.size: tuple | None = (self.info.height, self.info.width)
        self.decoded = 0
        self.resized: dict[str, int] = {}  # "WxH" -> frames of that size resized
        self.unreadable: list[str] = []  # frame images replaced by the previous frame (the reason of each)
        self.error: str | None = None
        self.ended = False
        self._previous = None
        # A folder's listing is exact; a container's count (index or duration) may miss by a frame that the
        # decoder drops by design (an edit list, a leading B-frame): only a larger shortfall is truncation.
        self._slack = 0 if images else 1 + self.expected // 200

    @classmethod
    def from_frames(cls, frames, expected: int = 0, exact: bool = False) -> "FrameReader":
        """A reader over ready frames (a list or generator), sized by the first one; for tests and callers."""
        self = cls.__new__(cls)
        self.info, self._frames, self.expected, self.exact = None, iter(frames), int(expected), bool(exact)
        self.size, self.decoded, self.resized, self.error, self.ended = None, 0, {}, None, False
        self._files, self.unreadable, self._previous = None, [], None
        self._slack = 0 if exact else 1 + self.expected // 200
        return self

    def _next(self):
        if self._files is None:
            return next(self._frames)
        path = next(self._files)
        try:
            return _read_frame(path)
        except VideoReadError as exc:
            if self._previous is None:
                raise
            self.unreadable.append(str(exc))
            return self._previous

    def __iter__(self):
        return self

    def __next__(self):
        import cv2

        if self.ended:
            raise StopIteration
        try:
            frame = self._next()
        except StopIteration:
            self.ended = True
            raise
        except VideoReadError as exc:
            self.ended, self.error = True, str(exc)
            raise StopIteration from None
        if self.size is None:
            self.size = frame.shape[:2]
        if frame.shape[:2] != tuple(self.size):
            key = f"{frame.shape[1]}x{frame.shape[0]}"
            self.resized[key] = self.resized.get(key, 0) + 1
            h, w = self.size
            shrink = frame.shape[0] * frame.shape[1] > h * w
            frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        self.decoded += 1
        self._previous = frame
        return frame

    @property
    def complete(self) -> bool | None:
        """None while frames remain (or the run stopped early); else True when the input was read whole.

        A video's count (from its index or its duration) may be off by a frame or so: a shortfall within
        1 + 0.5 % of it is not taken for truncation; a frame folder's count is exact.
        """
        if not self.ended:
            return None
        return not (self._short() or self.unreadable)

    def _short(self) -> bool:
        return self.error is not None or self.decoded < self.expected - self._slack

    def messages(self) -> list[str]:
        """One line per thing the user should know: a truncated input, unreadable frame images, resized frames."""
        out = []
        if self.ended and self._short():
            why = f" ({self.error})" if self.error else ": the input is truncated or damaged"
            of = f" of {self.expected}" if self.expected else ""
            out.append(f"decoded {self.decoded}{of} frames{why}")
        if self.unreadable:
            n, more = len(self.unreadable), "; ..." if len(self.unreadable) > 1 else ""
            out.append(f"{n} frame image{'s' if n > 1 else ''} unreadable ({self.unreadable[0]}{more}): the previous "
                       "frame was used in place of each")  # fmt: skip
        h, w = self.size or (0, 0)
        for size, n in self.resized.items():
            out.append(f"{n} frame{'s' if n > 1 else ''} of {size} resized to the first frame's {w}x{h}")
        return out

    def record(self) -> dict:
        """What reading did, for the run's summary (``video.json``)."""
        return {"decoded": self.decoded, "expected": self.expected, "exact_count": self.exact,
                "complete": self.complete, "error": self.error, "resized": dict(self.resized),
                "unreadable": list(self.unreadable)}
