"""A synthetic moving portrait with ground truth, for tests and benchmarks.

The project's procedural portraits (:mod:`ldmatte.synth`, ground truth only,
no artifacts) move over a textured background that pans the other way: the
subject translates on a smooth loop, rotates by a few degrees about the bottom
centre and breathes in scale, so both the silhouette and the hair change from
frame to frame. Each frame is the exact composite ``alpha F + (1 - alpha) B``.
"""
from __future__ import annotations

import dataclasses
import os
from fractions import Fraction

import cv2
import numpy as np

from ..synthetic import portraits as synth

__all__ = ["VideoClip", "MotionSettings", "make_video", "write_video"]


@dataclasses.dataclass(frozen=True)
class MotionSettings:
    """How the subject and the background move (amplitudes relative to the frame size)."""

    shift: float = 0.05  # peak subject translation, fraction of the width
    rotation_deg: float = 3.0  # peak rotation about the bottom centre
    scale: float = 0.03  # peak relative scale change
    period: int = 48  # frames per loop of the subject's motion
    background_speed: float = 0.006  # background pan per frame, fraction of the width


@dataclasses.dataclass
class VideoClip:
    """Frames and their ground truth: ``frames`` (T, H, W, 3), ``alphas`` (T, H, W), ``foregrounds`` (T, H, W, 3)."""

    frames: np.ndarray
    alphas: np.ndarray
    foregrounds: np.ndarray
    seed: int

    @property
    def first_mask(self) -> np.ndarray:
        """The first frame's ground-truth mask (alpha > 0.5) as 0 / 255 uint8."""
        return np.where(self.alphas[0] > 127, 255, 0).astype(np.uint8)


def _size(size) -> tuple[int, int]:
    hw = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if len(hw) != 2 or min(hw) < 16:
        raise ValueError(f"size must be an int or (height, width), each at least 16, got {size!r}")
    return int(hw[0]), int(hw[1])


def _portrait(seed: int, h: int, w: int):
    # ldmatte.synth needs at least MIN_SIZE pixels a side: draw larger and shrink for tiny clips.
    k = max(1.0, synth.MIN_SIZE / min(h, w))
    sample = synth.make_sample(seed, (int(round(h * k)), int(round(w * k))), "none")
    alpha, rgb = sample.alpha_gt.astype(np.float32) / 255, sample.rgb_gt.astype(np.float32)
    if k > 1:
        alpha = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_AREA)
        rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
    return alpha, rgb


def _texture(rng, h: int, w: int) -> np.ndarray:
    """A colourful background with structure at several scales (something optical flow can follow)."""
    # Natural images vary mostly in brightness (colour channels move together): a shared luminance field at
    # three scales plus weaker independent colour.
    out = np.zeros((h, w, 3), np.float32)
    for scale, weight in ((max(h, w) / 4, 45.0), (24.0, 30.0), (6.0, 16.0)):
        gh, gw = max(2, int(h / scale) + 2), max(2, int(w / scale) + 2)
        luma = rng.standard_normal((gh, gw, 1)).astype(np.float32)
        field = luma + 0.5 * rng.standard_normal((gh, gw, 3)).astype(np.float32)
        out += weight * cv2.resize(field, (w, h), interpolation=cv2.INTER_CUBIC)
    out += rng.uniform(70, 170, 3).astype(np.float32)
    # A few hard-edged shapes: edges that move rigidly with the background.
    for _ in range(max(4, h * w // 6000)):
        c = tuple(float(v) for v in rng.uniform(20, 235, 3))
        x, y, r = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(2, max(3, min(h, w) // 10)))
        if rng.random() < 0.5:
            cv2.circle(out, (x, y), r, c, -1, cv2.LINE_AA)
        else:
            cv2.rectangle(out, (x - r, y - r // 2), (x + r, y + r // 2), c, -1, cv2.LINE_AA)
    return np.clip(out, 0, 255)


def make_video(n_frames: int = 48, size=256, seed: int = 0, motion: MotionSettings | None = None) -> VideoClip:
    """A moving synthetic portrait over a panning textured background, with its ground truth.

    Examples
    --------
    >>> from ldmatte.video.synthetic import make_video
    >>> clip = make_video(n_frames=4, size=(64, 48), seed=1)
    >>> clip.frames.shape, clip.alphas.shape, clip.frames.dtype
    ((4, 64, 48, 3), (4, 64, 48), dtype('uint8'))
    >>> bool((clip.alphas[0] != clip.alphas[3]).any())
    True
    """
    if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 1:
        raise ValueError(f"n_frames must be an int >= 1, got {n_frames!r}")
    h, w = _size(size)
    m = motion or MotionSettings()
    alpha0, rgb0 = _portrait(seed, h, w)
    rng = np.random.default_rng([seed, 7])
    margin = int(np.ceil(m.background_speed * w * n_frames)) + 4
    bg_big = _texture(rng, h + 8, w + margin + 8)
    frames = np.empty((n_frames, h, w, 3), np.uint8)
    alphas = np.empty((n_frames, h, w), np.uint8)
    fgs = np.empty((n_frames, h, w, 3), np.uint8)
    for t in range(n_frames):
        phase = 2 * np.pi * t / m.period
        angle = m.rotation_deg * np.sin(phase + 0.7)
        scale = 1 + m.scale * np.sin(0.5 * phase)
        mat = cv2.getRotationMatrix2D((w / 2, h - 1), angle, scale)
        mat[0, 2] += m.shift * w * np.sin(phase)
        mat[1, 2] += 0.3 * m.shift * h * (1 - np.cos(phase))
        # Replicated borders keep the torso (cut by the bottom frame) cut by the frame while it moves.
        a = cv2.warpAffine(alpha0, mat, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        f = cv2.warpAffine(rgb0, mat, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        shift_x = 4 + m.background_speed * w * t
        shift_y = 4 + 2.0 * np.sin(0.8 * phase)
        pan = np.float32([[1, 0, -shift_x], [0, 1, -shift_y]])
        bg = cv2.warpAffine(bg_big, pan, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        a8 = np.clip(np.round(a * 255), 0, 255).astype(np.uint8)
        af = a8.astype(np.float32)[..., None] / 255  # the composite uses the stored (8-bit) ground truth
        frames[t] = np.clip(np.round(af * f + (1 - af) * bg), 0, 255).astype(np.uint8)
        alphas[t] = a8
        fgs[t] = np.clip(np.round(f), 0, 255).astype(np.uint8)
    return VideoClip(frames=frames, alphas=alphas, foregrounds=fgs, seed=int(seed))


def write_video(path, frames, fps=25, audio: bool = False) -> None:
    """Write RGB frames as a video with PyAV: ``.mkv`` lossless (FFV1), ``.mp4`` / ``.mov`` H.264 (near lossless).

    With ``audio`` a quiet 440 Hz tone is added (AAC; Opus in ``.mkv``), so tools that
    carry a source's audio can be tested. Written through a temp name and a rename.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "grey.mkv")
    >>> write_video(path, np.full((2, 16, 16, 3), 128, np.uint8), fps=10)
    >>> os.path.getsize(path) > 0
    True
    """
    import av

    from ..fileio.readwrite import _temp_path

    path = os.fspath(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"frames must be a non-empty (T, H, W, 3) uint8 array, got {frames.shape} {frames.dtype}")
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".mkv", ".mp4", ".mov"):
        raise ValueError(f"write_video writes .mkv, .mp4 or .mov, got {path!r}")
    rate = Fraction(fps).limit_denominator(1001)
    tmp = _temp_path(path) + ext
    h, w = frames.shape[1:3]
    try:
        with av.open(tmp, "w", format={".mkv": "matroska", ".mp4": "mp4", ".mov": "mov"}[ext]) as out:
            if ext == ".mkv":
                vs = out.add_stream("ffv1", rate=rate)
                vs.pix_fmt = "bgr0"
            else:
                vs = out.add_stream("libx264", rate=rate, options={"crf": "8", "preset": "fast"})
                vs.pix_fmt = "yuv444p"
                if w % 2 or h % 2:
                    raise ValueError("H.264 output needs an even width and height; use .mkv")
            vs.width, vs.height = w, h
            astream = None
            if audio:
                astream = out.add_stream("libopus" if ext == ".mkv" else "aac", rate=48000)
                astream.layout = "mono"
            for i, rgb in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
                frame.pts = i
                frame.time_base = 1 / rate
                out.mux(vs.encode(frame))
            out.mux(vs.encode())
            if astream is not None:
                _write_tone(av, out, astream, len(frames) / float(rate))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _write_tone(av, out, stream, seconds: float) -> None:
    sr = 48000
    n = int(round(seconds * sr))
    tone = (0.1 * np.sin(2 * np.pi * 440 * np.arange(n) / sr)).astype(np.float32)
    chunk = 960
    for start in range(0, n, chunk):
        piece = tone[start : start + chunk]
        frame = av.AudioFrame.from_ndarray(piece[None, :], format="flt", layout="mono")
        frame.sample_rate = sr
        frame.pts = start
        frame.time_base = Fraction(1, sr)
        out.mux(stream.encode(frame))
    out.mux(stream.encode())
