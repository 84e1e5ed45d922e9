"""What ``ldmatte video`` writes: PNG sequences, a video with alpha and a checkerboard preview with the audio.

PNG frames go through :func:`ldmatte.io.write_png_atomic` (a frame is whole
or absent, so a rerun can trust the frames it finds). Videos are encoded with
PyAV into a temp file beside the target and renamed when complete; a failed
or interrupted run leaves no half video under the final name.
"""
from __future__ import annotations

import contextlib
import os
from fractions import Fraction

import cv2
import numpy as np

from ..fileio.readwrite import _temp_path
from ..review.panels import checkerboard

__all__ = ["FORMATS", "VIDEO_FORMATS", "encoder_for", "parse_formats", "VideoOutput", "premultiplied_preview"]

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
    a = rgba[..., 3:].astype(np.float32) / 255
    board = checkerboard(h, w, cell).astype(np.float32)
    if board.ndim == 2:
        board = board[..., None]
    comp = np.clip(np.round(a * rgba[..., :3] + (1 - a) * board), 0, 255).astype(np.uint8)
    return np.concatenate([frame, comp], axis=1)


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
