"""What ``ldmatte video`` writes: PNG sequences, a video with alpha and a checkerboard preview with the audio.

PNG frames go through :func:`ldmatte.io.write_png_atomic` (a frame is whole
or absent, so a rerun can trust the frames it finds). Videos are encoded with
PyAV into a temp file beside the target and renamed when complete; a failed
or interrupted run leaves no half video under the final name.

:func:`claim_output` takes the output folder for a run. Its marker records the
settings that decide the frames and a content stamp (SHA-256) of every input
that decides them (the video or frame folder, the masks, the model's weights):
a rerun resumes only frames made from the same inputs. When an input changed at
the same path, the frames are redone (as ``refine`` redoes an image whose input
changed); other settings are refused unless ``overwrite``, which redoes them too.
Key-frame masks are stamped one by one: frame k's mask decides only frames k and
later, so a changed (added, removed) one redoes the frames from the first it touches.
A folder of ours that holds no frame yet (a run that failed early) is reused
whatever it was made with.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
from fractions import Fraction

import cv2
import numpy as np

from ..fileio.readwrite import _temp_path
from ..review.panels import checkerboard

__all__ = ["FORMATS", "VIDEO_FORMATS", "encoder_for", "parse_formats", "VideoOutput", "premultiplied_preview",
           "content_stamp", "input_stamps", "claim_output"]  # fmt: skip

FORMATS = ("png", "webm", "mov", "preview")
# format -> (file name, container, candidate encoders, pixel format, encoder options)
VIDEO_FORMATS = {
    "webm": ("alpha.webm", "webm", ("libvpx-vp9",), "yuva420p", {"crf": "18", "b": "0", "row-mt": "1"}),
    "mov": ("alpha.mov", "mov", ("prores_ks",), "yuva444p10le", {"profile": "4444"}),
    "preview": ("preview.mp4", "mp4", ("libx264", "h264", "mpeg4"), "yuv420p", {}),
}
_ENCODER_OPTIONS = {"libx264": {"crf": "20", "preset": "veryfast"}, "mpeg4": {"qscale": "3"}}
# Audio codecs each container takes as they are; others are re-encoded to the first codec listed.
_AUDIO = {"webm": (("libopus", "libvorbis"), {"opus", "vorbis"}),
          "mov": (("aac",), {"aac", "mp3", "alac", "pcm_s16le", "pcm_s24le"}),
          "mp4": (("aac",), {"aac", "mp3", "alac", "opus"})}  # fmt: skip


def _has_encoder(name: str) -> bool:
    try:
        import av

        av.codec.Codec(name, "w")
    except Exception:  # unknown codec, or PyAV missing
        return False
    return True


def encoder_for(fmt: str) -> str | None:
    """The encoder this FFmpeg build offers for a video format, or None.

    Examples
    --------
    >>> encoder_for("png") is None
    True
    """
    if fmt not in VIDEO_FORMATS:
        return None
    return next((name for name in VIDEO_FORMATS[fmt][2] if _has_encoder(name)), None)


def parse_formats(text: str) -> tuple[list[str], list[str]]:
    """``"png,webm,preview"`` -> (formats that can be written, one message per format that cannot).

    Examples
    --------
    >>> parse_formats("png")
    (['png'], [])
    >>> parse_formats("png,gif")
    Traceback (most recent call last):
    ...
    ValueError: unknown output format 'gif'; choose from png, webm, mov, preview
    """
    wanted = [f.strip().lower() for f in str(text).split(",") if f.strip()]
    for f in wanted:
        if f not in FORMATS:
            raise ValueError(f"unknown output format {f!r}; choose from {', '.join(FORMATS)}")
    if not wanted:
        raise ValueError(f"no output format given; choose from {', '.join(FORMATS)}")
    usable, messages = [], []
    for f in dict.fromkeys(wanted):
        if f in VIDEO_FORMATS and encoder_for(f) is None:
            messages.append(f"{f}: skipped, this FFmpeg build has no {' / '.join(VIDEO_FORMATS[f][2])} encoder "
                            "(or PyAV is not installed)")  # fmt: skip
            continue
        usable.append(f)
    return usable, messages


def premultiplied_preview(frame: np.ndarray, rgba: np.ndarray, cell: int = 16) -> np.ndarray:
    """The source frame beside the matted subject over a checkerboard, (H, 2W, 3) uint8.

    Examples
    --------
    >>> import numpy as np
    >>> rgba = np.zeros((8, 8, 4), np.uint8); rgba[..., 3] = 255
    >>> premultiplied_preview(np.zeros((8, 8, 3), np.uint8), rgba).shape
    (8, 16, 3)
    """
    h, w = rgba.shape[:2]
    a = cv2.merge([rgba[..., 3]] * 3)
    # OpenCV's saturating arithmetic: the same rounded values as the float formula, several times faster at 1080p.
    num = cv2.multiply(np.ascontiguousarray(rgba[..., :3]), a, dtype=cv2.CV_32F)
    num += cv2.multiply(_board(h, w, cell), 255 - a, dtype=cv2.CV_32F)
    return np.concatenate([frame, cv2.multiply(num, 1 / 255, dtype=cv2.CV_8U)], axis=1)


@functools.lru_cache(maxsize=2)
def _board(h: int, w: int, cell: int) -> np.ndarray:
    """The preview's checkerboard, made once per video size."""
    board = checkerboard(h, w, cell)
    board.flags.writeable = False
    return board


class VideoOutput:
    """One encoded output (``webm``, ``mov`` or ``preview``): frames in, a complete file on :meth:`close`.

    ``audio_source``: a video whose first audio stream is carried over (copied
    when the container takes its codec, else re-encoded); None for no audio.
    """

    def __init__(self, fmt: str, folder: str, fps: Fraction, width: int, height: int, audio_source=None):
        import av

        self._av = av
        name, container, _encoders, pix_fmt, options = VIDEO_FORMATS[fmt]
        encoder = encoder_for(fmt)
        if encoder is None:
            raise RuntimeError(f"no encoder for {fmt}")
        self.fmt, self.encoder = fmt, encoder
        self.path = os.path.join(folder, name)
        self._tmp = _temp_path(self.path) + os.path.splitext(name)[1]
        self._rate = Fraction(fps).limit_denominator(1001) if fps else Fraction(25)
        out_w = 2 * width if fmt == "preview" else width
        # 4:2:0 needs even sizes: the frame is padded by one replicated row / column when odd.
        self._even = pix_fmt.startswith(("yuv420", "yuva420"))
        self.width, self.height = (out_w + out_w % 2, height + height % 2) if self._even else (out_w, height)
        self._out = av.open(self._tmp, "w", format=container)
        opts = dict(options)
        opts.update(_ENCODER_OPTIONS.get(encoder, {}))
        self._stream = self._out.add_stream(encoder, rate=self._rate, options=opts)
        self._stream.width, self._stream.height = self.width, self.height
        self._stream.pix_fmt = pix_fmt if encoder != "mpeg4" else "yuv420p"
        self._audio = None
        self.audio_note = ""
        if audio_source is not None:
            self._audio = self._open_audio(audio_source, container)
        self._count = 0

    def _open_audio(self, source, container):
        av = self._av
        src = av.open(os.fspath(source))
        if not src.streams.audio:
            src.close()
            return None
        ain = src.streams.audio[0]
        encoders, copyable = _AUDIO[container]
        if ain.codec_context.name in copyable and hasattr(self._out, "add_stream_from_template"):  # PyAV >= 14
            aout = self._out.add_stream_from_template(ain)
            self.audio_note = f"audio copied ({ain.codec_context.name})"
            return src, ain, aout, True
        enc = next((e for e in encoders if _has_encoder(e)), None)
        if enc is None:
            src.close()
            self.audio_note = f"audio left out: no {'/'.join(encoders)} encoder"
            return None
        rate = ain.codec_context.sample_rate or 48000
        if enc == "libopus" and rate not in (8000, 12000, 16000, 24000, 48000):
            rate = 48000
        aout = self._out.add_stream(enc, rate=rate)
        with contextlib.suppress(Exception):
            aout.layout = ain.codec_context.layout.name
        self.audio_note = f"audio re-encoded ({ain.codec_context.name} -> {enc})"
        return src, ain, aout, False

    def write(self, frame_rgb: np.ndarray, rgba: np.ndarray) -> None:
        """Add one frame: the source frame (RGB) and its matted RGBA."""
        if self.fmt == "preview":
            image, fmt = premultiplied_preview(frame_rgb, rgba), "rgb24"
        else:
            image, fmt = rgba, "rgba"
        pad_h, pad_w = self.height - image.shape[0], self.width - image.shape[1]
        if pad_h or pad_w:
            image = cv2.copyMakeBorder(image, 0, pad_h, 0, pad_w, cv2.BORDER_REPLICATE)
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=fmt)
        frame.pts = self._count
        frame.time_base = 1 / self._rate
        self._out.mux(self._stream.encode(frame))
        self._count += 1

    def _carry_audio(self) -> None:
        src, ain, aout, copy = self._audio
        limit = self._count / self._rate  # seconds of video written: audio beyond it is dropped
        try:
            if copy:
                for packet in src.demux(ain):
                    if packet.dts is None:
                        continue
                    if packet.pts is not None and packet.pts * ain.time_base > limit:
                        break
                    packet.stream = aout
                    self._out.mux(packet)
            else:
                for frame in src.decode(ain):
                    if frame.pts is not None and frame.pts * ain.time_base > limit:
                        break
                    frame.pts = None
                    self._out.mux(aout.encode(frame))
                self._out.mux(aout.encode())
        finally:
            src.close()

    def close(self) -> str:
        """Flush, add the audio, and move the file into place; returns its path."""
        try:
            self._out.mux(self._stream.encode())
            if self._audio is not None:
                self._carry_audio()
            self._out.close()
        except BaseException:
            self.abort()
            raise
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the partial file."""
        with contextlib.suppress(Exception):
            self._out.close()
        if self._audio is not None:
            with contextlib.suppress(Exception):
                self._audio[0].close()
        with contextlib.suppress(OSError):
            os.remove(self._tmp)


# --- the output folder: claimed, stamped, redone when an input changed ---------------------------------------------

_FRAME = re.compile(r"^\d{6,}\.png$")
_RUN_FILES = ("video.json", *(v[0] for v in VIDEO_FORMATS.values()))


def content_stamp(paths) -> str:
    """SHA-256 of the contents of ``paths`` (files, in the order given; a folder: its files in name order).

    Only regular files are read (a named pipe is never opened).

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "m.png")
    >>> _ = open(p, "wb").write(b"abc"); before = content_stamp([p])
    >>> _ = open(p, "wb").write(b"abd"); len(before), content_stamp([p]) == before
    (64, False)
    """
    from ..fileio._filetype import not_regular as _kind

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = []
    for path in map(os.fspath, paths):
        if os.path.isdir(path):
            files += sorted(os.path.join(path, n) for n in os.listdir(path) if not n.startswith("."))
        else:
            files.append(path)
    digest = hashlib.sha256()
    for path in files:
        st = os.stat(path)
        if _kind(st):
            continue
        digest.update(f"{os.path.basename(path)}\0{st.st_size}\0".encode())
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def input_stamps(source, inputs=(), model: str | None = None, key_frames=None) -> dict:
    """``{"source": stamp, "inputs": stamp, "model": stamp, "key_frames": {frame: stamp}}`` of what decides a
    run's frames.

    ``source``: the video or frame folder; ``inputs``: mask files and folders, a checkpoint; ``model``: a
    training run or checkpoint folder (its ``config.json`` and ``model.safetensors``), None or
    ``"closed-form"`` for none; ``key_frames``: {frame index: mask file} of key-frame masks, each stamped alone.
    """
    from .reader import frame_files

    source = os.fspath(source)
    stamps = {"source": content_stamp(frame_files(source) if os.path.isdir(source) else [source])}
    if inputs:
        stamps["inputs"] = content_stamp([os.fspath(p) for p in inputs])
    if model and model != "closed-form" and os.path.isdir(model):
        from ..matting.predictor import checkpoint_folder

        folder = checkpoint_folder(model)
        stamps["model"] = content_stamp([os.path.join(folder, n) for n in ("config.json", "model.safetensors")])
    if key_frames:
        stamps["key_frames"] = {str(k): content_stamp([p]) for k, p in sorted(key_frames.items())}
    return stamps


def _first_changed_key(recorded, wanted) -> int | None:
    """The first frame whose key-frame mask differs between two stamps (added, removed or changed); None if none."""
    recorded, wanted = recorded or {}, wanted or {}
    differ = [int(k) for k in set(recorded) | set(wanted) if recorded.get(k) != wanted.get(k)]
    return min(differ) if differ else None


def _frames_written(output: str) -> int:
    alpha = os.path.join(output, "alpha")
    return sum(1 for n in os.listdir(alpha) if _FRAME.match(n)) if os.path.isdir(alpha) else 0


def _drop_frames(output: str, start: int = 0) -> None:
    """Remove what a run of ``ldmatte video`` wrote into ``output`` (its frame PNGs, videos, summary); with
    ``start`` only the frames from it on and the videos (the summary keeps the notes of the frames kept)."""
    for sub in ("alpha", "rgba"):
        folder = os.path.join(output, sub)
        if os.path.isdir(folder):
            for name in os.listdir(folder):
                if _FRAME.match(name) and int(name[:-4]) >= start:
                    os.remove(os.path.join(folder, name))
    for name in _RUN_FILES:
        if start and name == "video.json":
            continue
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(output, name))


def claim_output(output, source, inputs=(), settings: dict | None = None, *, overwrite: bool = False,
                 model: str | None = None, key_frames=None) -> list[str]:  # fmt: skip
    """Take ``output`` for a run of ``ldmatte video``; returns notes for the user (frames redone).

    Checks that the output overlaps neither ``source`` nor ``inputs``, stamps them (:func:`input_stamps`)
    and claims the folder (:meth:`ldmatte.files.OutputFolder.claim`, kind ``video``) with ``settings``
    and the stamps. Frames of an earlier run are kept when both match; made from inputs that changed
    since, they are removed (the run redoes them); made with other settings, the run is refused unless
    ``overwrite`` (then redone) or the folder holds no frame yet. ``key_frames`` ({frame index: mask file},
    files that may also be among ``inputs``) are stamped one by one: when the first that changed is frame k,
    only the frames from k on are removed.

    Raises
    ------
    ldmatte.fileio.ownership.UsageError
        Overlap, a folder not ours, other settings without ``overwrite``.
    ldmatte.files.OutputFault
        A folder that cannot be made or marked (read-only, disk full).
    """
    from ..fileio.ownership import MARKER, OutputFault, OutputFolder, UsageError, _read_marker, check_disjoint
    from ..fileio.readwrite import write_json_atomic

    output, source = os.fspath(output), os.fspath(source)
    inputs = [os.fspath(p) for p in inputs]
    check_disjoint([source, *inputs], [output])
    keyed = {int(k): os.fspath(p) for k, p in (key_frames or {}).items()}
    stamped = [p for p in inputs if p not in set(keyed.values())]  # a key frame's mask is stamped alone
    wanted = {"source": os.path.abspath(source), **(settings or {}),
              "stamps": input_stamps(source, stamped, model, keyed)}  # fmt: skip
    notes = []
    marker = _read_marker(output) if os.path.isdir(output) else None
    if marker is not None and marker["kind"] == "video":
        recorded = marker["settings"]
        other = [k for k, v in wanted.items() if k != "stamps" and k in recorded and recorded[k] != v]
        try:
            frames = _frames_written(output)
            was = recorded.get("stamps", {})
            changed = [k for k, v in wanted["stamps"].items() if k != "key_frames" and was.get(k, v) != v]
            if ("key_frames" in was) != ("key_frames" in wanted["stamps"]):  # key frames <-> a mask per frame
                changed.append("masks")
            key_from = _first_changed_key(was.get("key_frames"), wanted["stamps"].get("key_frames"))
            redo = bool(other) and (overwrite or not frames)
            if other and not redo:
                key = other[0]
                raise UsageError(f"output folder {output} was made with {key}={recorded[key]!r}; this run asks "
                                 f"for {key}={wanted[key]!r}: use the same value, add --overwrite to redo its "
                                 "frames, or choose another output folder")  # fmt: skip
            if redo or changed:
                if frames:
                    why = f"other {', '.join(other)}" if other else f"the {' and '.join(changed)} changed"
                    notes.append(f"{output}: {why} since its {frames} frames were made: all frames are redone")
                _drop_frames(output)
                marker["settings"] = wanted
                write_json_atomic(os.path.join(output, MARKER), marker)
            elif key_from is not None:  # frames before the first changed key frame do not depend on it
                kept = sum(1 for n in os.listdir(os.path.join(output, "alpha")) if _FRAME.match(n)
                           and int(n[:-4]) < key_from) if frames else 0  # fmt: skip
                if frames > kept:
                    notes.append(f"{output}: the key-frame masks changed from frame {key_from} on since its "
                                 f"{frames} frames were made: frames {key_from} on are redone ({kept} kept)")
                _drop_frames(output, start=key_from)
                marker["settings"] = wanted
                write_json_atomic(os.path.join(output, MARKER), marker)
        except OSError as exc:
            raise OutputFault(exc, output) from exc
    OutputFolder.claim(output, "video", overwrite=overwrite, settings=wanted)
    return notes
