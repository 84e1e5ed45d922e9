"""The video matting pipeline: frames -> masks -> trimaps -> alpha -> temporally stable alpha -> outputs.

Frames stream through once, in order, in chunks of the matting backend's batch
size (a GPU model mattes a chunk at once). For each frame the optical flow
back to the previous frame is computed once and shared by mask propagation
and stabilisation. A first-frame mask is carried as a binary segmentation
(:class:`~ldmatte.video.carried.CarriedSegmenter`: flow, then colour), which
the matte never feeds back (a mask corrected by its own matte erodes or grows
with the band, frame after frame).

No frame stops the run: an empty mask gives an all-0 alpha (the subject is
gone), a trimap with no known foreground or background, or a matting error,
gives the mask itself as the alpha; ``video.json`` lists those frames
(``frame_notes``: frame, ``lost`` or ``guessed``, the reason).

A frame whose alpha (and RGBA) PNG is already in the output folder is not
matted again: its alpha is read back, and everything else (flow, segmentation,
trimap, the background plate) is replayed exactly as in the first run, so a
resumed run writes the same frames, bit for bit, as an uninterrupted one.

Every stage works on a copy of each frame of at most ``max_pixels`` pixels;
only the alpha is brought to full size (:mod:`ldmatte.video.upsample`) and
written, on a second thread (:mod:`ldmatte.video.writer`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
from collections.abc import Callable

import cv2
import numpy as np

from ..fileio.readwrite import write_json_atomic, write_png_atomic
from .backends import CLOSED_FORM, load_matting
from .background import BackgroundPlate, BackgroundSettings, plate_trimap
from .carried import CarriedSegmenter
from .flow import FlowTracker
from .masks import FolderMasks, GuardedSegmenter, fit_mask, to_mask
from .outputs import VideoOutput, claim_output, parse_formats
from .prefetch import Prefetcher
from .prepare import FramePreparation, PreparedFrame
from .reader import FrameReader, VideoReadError, count_frames, probe
from .segmentation import PropagationSettings
from .stabilise import StabiliseSettings, TemporalStabiliser
from .trimaps import default_band_width, extend_band
from .upsample import MAX_PIXELS, WorkingResolution
from .writer import BackgroundWriter

__all__ = ["VideoMattingSettings", "FrameResult", "VideoMattingResult", "matte_video", "STAGES"]

STAGES = ("decode", "flow", "segment", "trimap", "matting", "stabilise", "upsample", "write")


@dataclasses.dataclass(frozen=True)
class VideoMattingSettings:
    """Everything that decides the output of :func:`matte_video` (one parameter object).

    ``model``: ``"closed-form"`` or a training run / checkpoint folder; ``device``: ``auto``, ``cpu``, ``cuda``;
    ``band_width``: unknown band width in pixels (None: 3 % of the shorter side); ``formats``: any of
    ``png``, ``webm``, ``mov``, ``preview`` (alpha PNGs are always written: they are what a rerun resumes from);
    ``detail_reach``: the unknown band also covers
    the known background up to this many band widths from the mask where the previous frame's alpha, moved
    along the subject's motion, shows detail (hair strands too thin to survive in a binary mask; 0 turns it
    off; see :func:`~ldmatte.video.trimaps.extend_band`); ``background``: the clean background remembered
    from earlier frames corrects each trimap within that same reach (``history=0`` turns it off; see
    :mod:`ldmatte.video.background`); ``estimate_foreground``: RGBA colour from
    pymatting's foreground estimation instead of the source colour; ``max_frames``: stop after this many;
    ``max_pixels``: every stage runs on a copy of each frame scaled down to at most this many pixels, and the
    alpha is brought back to full size with a guided filter against the full frame (0 or None: full size; see
    :mod:`ldmatte.video.upsample`); ``band_width`` stays in full-size pixels; ``prefetch``: the next frame
    is decoded, segmented and given its plain trimap on a second thread while this one is matted
    (:mod:`ldmatte.video.prefetch`; the output is the same either way).
    """

    model: str = CLOSED_FORM
    device: str = "auto"
    band_width: int | None = None
    formats: tuple = ("png",)
    detail_reach: float = 3.0
    estimate_foreground: bool = False
    batch_size: int = 4
    max_frames: int | None = None
    max_pixels: int | None = MAX_PIXELS
    reader: str = "auto"
    fps: float | None = None  # the frame rate of a folder of frames (None: 25); a video file has its own
    segmentation: str = ""  # how the masks are made (recorded: a rerun must use the same)
    propagation: PropagationSettings = dataclasses.field(default_factory=PropagationSettings)
    stabilise: StabiliseSettings = dataclasses.field(default_factory=StabiliseSettings)
    background: BackgroundSettings = dataclasses.field(default_factory=BackgroundSettings)
    prefetch: bool = True  # prepare the next frame on a second thread (the same output; False: one thread)

    def record(self) -> dict:
        """The settings that change the frames (recorded in the output folder's marker)."""
        return {"model": self.model, "band_width": self.band_width, "detail_reach": self.detail_reach,
                "max_pixels": self.max_pixels, "estimate_foreground": self.estimate_foreground,
                "segmentation": self.segmentation,
                "propagation": dataclasses.asdict(self.propagation), "stabilise": dataclasses.asdict(self.stabilise),
                "background": dataclasses.asdict(self.background)}


@dataclasses.dataclass
class FrameResult:
    """One frame as it went through the pipeline (handed to ``on_frame``); ``raw_alpha`` is before
    stabilisation; ``skipped`` frames were read back from an earlier run (mask, trimap and raw alpha None).
    ``frame`` and ``alpha`` are full size; ``mask``, ``trimap`` and ``raw_alpha`` at the working size."""

    index: int
    frame: np.ndarray
    mask: np.ndarray | None
    trimap: np.ndarray | None
    raw_alpha: np.ndarray | None
    alpha: np.ndarray
    skipped: bool


@dataclasses.dataclass
class VideoMattingResult:
    """What a run did: frame counts, the files written, seconds per stage, messages for the user."""

    frames: int = 0
    matted: int = 0
    skipped: int = 0
    files: list = dataclasses.field(default_factory=list)
    seconds: dict = dataclasses.field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    messages: list = dataclasses.field(default_factory=list)
    interrupted: bool = False
    info: dict = dataclasses.field(default_factory=dict)
    frame_notes: list = dataclasses.field(default_factory=list)  # {"frame", "kind": lost | guessed, "reason"}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def frame_name(index: int) -> str:
    return f"{index:06d}.png"


def _read_png(path: str, flags: int) -> np.ndarray | None:
    im = cv2.imread(path, flags)
    if im is None:
        return None
    if im.ndim == 3:
        im = cv2.cvtColor(im, cv2.COLOR_BGRA2RGBA if im.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return im


class _Clock:
    def __init__(self, seconds: dict):
        self.seconds = seconds

    def __call__(self, stage: str):
        clock = self

        class _T:
            def __enter__(self):
                self.t = time.perf_counter()

            def __exit__(self, *exc):
                clock.seconds[stage] += time.perf_counter() - self.t

        return _T()


def _rgba(frame: np.ndarray, alpha: np.ndarray, estimate: bool) -> np.ndarray:
    colour = frame
    if estimate:
        from pymatting import estimate_foreground_ml

        fg = estimate_foreground_ml(frame.astype(np.float64) / 255, alpha.astype(np.float64) / 255)
        colour = np.clip(np.round(fg * 255), 0, 255).astype(np.uint8)
    return np.dstack([colour, alpha])


def matte_video(source, output, segmenter, settings: VideoMattingSettings | None = None, *, matting=None,
                progress: bool = False, stop=None, on_frame: Callable[[FrameResult], None] | None = None,
                claim: bool = True, overwrite: bool = False, extra_inputs=(),
                reseed=None) -> VideoMattingResult:  # fmt: skip
    """Matte a video into ``output``: ``alpha/000000.png...``, ``rgba/`` (format png), ``alpha.webm``,
    ``alpha.mov``, ``preview.mp4`` and ``video.json`` (the run's summary).

    ``segmenter``: a :class:`~ldmatte.video.segmentation.Segmenter`, or a first-frame mask (array) to
    carry with :class:`~ldmatte.video.carried.CarriedSegmenter`. ``matting``: a backend object
    (``predict(images, trimaps)``) instead of ``settings.model``. ``stop``: an object with ``is_set()`` checked
    between chunks (Ctrl-C).
    ``on_frame``: called with each :class:`FrameResult`. With ``claim`` the output folder is claimed
    (:meth:`ldmatte.files.OutputFolder.claim`, kind ``video``) after checking it overlaps neither the input
    nor ``extra_inputs`` (mask files and folders). ``reseed``: a prior of the subject (frame -> mask, e.g.
    :meth:`~ldmatte.video.person_prior.PersonPrior.mask`) that re-finds a lost subject carried from a first-frame
    mask (see :class:`~ldmatte.video.carried.CarriedSegmenter`).

    Examples
    --------
    >>> import os, tempfile
    >>> from ldmatte.video.synthetic import make_video, write_video
    >>> from ldmatte.video.pipeline import matte_video
    >>> work = tempfile.mkdtemp()
    >>> clip = make_video(n_frames=3, size=48, seed=0)
    >>> write_video(os.path.join(work, "in.mkv"), clip.frames, fps=10)
    >>> res = matte_video(os.path.join(work, "in.mkv"), os.path.join(work, "out"), clip.first_mask)
    >>> res.frames, res.matted, sorted(os.listdir(os.path.join(work, "out", "alpha")))
    (3, 3, ['000000.png', '000001.png', '000002.png'])
    """
    s = settings or VideoMattingSettings()
    source, output = os.fspath(source), os.fspath(output)
    info = probe(source, s.reader, s.fps)
    formats, messages = parse_formats(",".join(s.formats))
    if not hasattr(segmenter, "segment"):  # a first-frame mask: the frames' size, never stretched
        segmenter, note = fit_mask(to_mask(segmenter, name="first-frame mask"), (info.height, info.width),
                                   name="first-frame mask")
        messages += [note] if note else []
    elif isinstance(segmenter, FolderMasks):  # a mask per frame or key frames, all readable, before anything is written
        segmenter.check(count_frames(source, s.reader), (info.height, info.width), source=source)
    keys = segmenter.key_masks() if isinstance(segmenter, FolderMasks) and segmenter.key_frames else None
    if claim:  # key-frame masks stamped one by one: a changed one redoes the frames from its own on
        messages += claim_output(output, source, extra_inputs, s.record(), overwrite=overwrite, model=s.model,
                                 key_frames=keys.files if keys is not None else None)  # fmt: skip
    else:
        os.makedirs(output, exist_ok=True)
    result = VideoMattingResult(messages=list(messages), info=info.to_dict())
    clock = _Clock(result.seconds)
    alpha_dir, rgba_dir = os.path.join(output, "alpha"), os.path.join(output, "rgba")
    os.makedirs(alpha_dir, exist_ok=True)
    if "png" in formats:
        os.makedirs(rgba_dir, exist_ok=True)
    work = WorkingResolution(info.height, info.width, s.max_pixels)
    band = work.length(s.band_width) if s.band_width is not None else default_band_width(*work.shape)
    tracker = FlowTracker(s.propagation.flow)
    if keys is not None:  # masks of key frames: the first is carried, re-anchored on each of the others
        result.messages += segmenter.notes
        segmenter, result.info["key_frames"] = keys[0], sorted(keys)
    if not hasattr(segmenter, "segment"):
        carry = dataclasses.replace(s.propagation.carry, flow=s.propagation.flow)
        segmenter = CarriedSegmenter(segmenter, carry, tracker=tracker, key_masks=keys, reseed=reseed)
    propagator = segmenter if isinstance(segmenter, CarriedSegmenter) else None
    if propagator is not None and propagator.tracker is not tracker:
        tracker = propagator.tracker  # the caller's propagator: share its tracker, step it here
        propagator._own_tracker = False
    if propagator is None:  # a user's segmenter (or mask folder) failing on a frame loses that frame's mask only
        segmenter = GuardedSegmenter(segmenter)
    stabiliser = TemporalStabiliser(s.stabilise)
    plate = BackgroundPlate(s.background) if s.background.history > 0 else None
    reach = int(round(max(1.0, s.detail_reach) * band))  # how far from the mask the band may reach out
    detail: np.ndarray | None = None  # the last alpha (float), moved frame by frame onto the newest frame
    backend = matting
    videos: list[VideoOutput] = []
    earlier_notes = _earlier_notes(output)
    total = info.frame_count if s.max_frames is None else min(info.frame_count or s.max_frames, s.max_frames)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total or None, unit="frame", file=sys.stderr, desc="video", dynamic_ncols=True)

    def done(index: int) -> np.ndarray | None:
        alpha_path = os.path.join(alpha_dir, frame_name(index))
        if not os.path.exists(alpha_path):
            return None
        if "png" in formats and not os.path.exists(os.path.join(rgba_dir, frame_name(index))):
            return None
        alpha = _read_png(alpha_path, cv2.IMREAD_GRAYSCALE)
        return alpha if alpha is not None and alpha.shape == (info.height, info.width) else None

    writer = BackgroundWriter()  # PNGs and videos are written on a second thread, in order
    limits = contextlib.ExitStack()
    limits.enter_context(_one_blas_thread())
    try:
        for fmt in formats:
            if fmt != "png":
                audio = source if fmt == "preview" and info.has_audio else None
                try:
                    # The preview, for looking only, at the working size (at 1080p a quarter of the encoding).
                    h, w = work.shape if fmt == "preview" else (info.height, info.width)
                    videos.append(VideoOutput(fmt, output, info.fps, w, h, audio_source=audio))
                except Exception as exc:  # an encoder that refuses these settings: the rest still runs
                    result.messages.append(f"{fmt}: skipped ({exc})")
        frames_iter = FrameReader(source, s.reader, info)
        if backend is not None:
            chunk_size = max(1, int(getattr(backend, "batch_size", 1)))
        else:
            chunk_size = 1 if s.model == CLOSED_FORM else max(1, s.batch_size)
        prep_seconds = dict.fromkeys(STAGES, 0.0)  # the preparing thread's own clock (merged at the end)
        prepare = FramePreparation(frames_iter, work, tracker, segmenter, propagator, band=band,
                                   reach=reach if plate is not None else None, done=done,
                                   max_frames=s.max_frames, clock=_Clock(prep_seconds))  # fmt: skip
        # The next frame is prepared on a second thread while this one is matted (see video.prefetch).
        prefetch = Prefetcher(prepare, ahead=s.prefetch)
        try:
            while True:
                if stop is not None and stop.is_set():
                    result.interrupted = True
                    break
                chunk: list[PreparedFrame] = []
                while len(chunk) < chunk_size:
                    item = prefetch.take()
                    if item is None:
                        break
                    if item.note is not None:
                        _note(result, item.index, *item.note)
                    if item.previous is not None:
                        result.frame_notes.extend(n for n in earlier_notes.get(item.index, ())
                                                  if n not in result.frame_notes)  # fmt: skip
                    if plate is not None:
                        plate.step(item.bg_motion)
                    if detail is not None and item.motion is not None:
                        with clock("trimap"):
                            detail = item.motion.warp(detail)
                    # Also for frames already written: the replay must match the first run (plate, hint).
                    with clock("trimap"):
                        fb = item.band
                        if detail is not None and s.detail_reach > 0 and detail.shape == item.mask.shape:
                            item.trimap = extend_band(item.trimap, item.mask, detail, reach=fb - fb // 2,
                                                      limit=int(round(s.detail_reach * fb)),
                                                      distance=item.distance)
                        if plate is not None:
                            _plate_trimap(item, plate, int(round(max(1.0, s.detail_reach) * fb)), s.background)
                    chunk.append(item)
                if not chunk:
                    break
                todo = [c for c in chunk if c.previous is None and not _without_matting(c, result)]
                if todo:
                    if backend is None:
                        backend = load_matting(s.model, s.device, s.batch_size)
                    with clock("matting"):
                        _matte(backend, todo, result)
                for c in chunk:
                    _finish(c, s, stabiliser, videos, formats, alpha_dir, rgba_dir, clock, result, work, writer)
                    if plate is not None:
                        with clock("trimap"):
                            plate.add(c.index, c.frame, (c.alpha == 0) & (c.mask == 0))
                    if on_frame is not None:
                        on_frame(FrameResult(c.index, c.full, c.mask, c.trimap, c.raw_alpha, c.full_alpha,
                                             c.previous is not None))  # fmt: skip
                    if bar is not None:
                        bar.update(1)
                detail = chunk[-1].alpha.astype(np.float32) / 255
        finally:
            prefetch.close()  # nothing touches the reader or the segmenter after this
            for k, v in prep_seconds.items():
                result.seconds[k] += v
        with clock("write"):
            writer.close()  # every frame on disk and in the encoders
        if result.frames == 0:
            raise VideoReadError(frames_iter.error or f"{source}: no frames could be decoded")
        result.messages += frames_iter.messages()
        result.info["decoding"] = frames_iter.record()
        if isinstance(segmenter, GuardedSegmenter):
            result.messages += segmenter.messages()
            result.info["masks"] = segmenter.record()
        if result.interrupted:
            for v in videos:
                v.abort()
            result.messages.append("interrupted: videos not written; the frames written so far are kept, "
                                   "run again to continue")  # fmt: skip
        else:
            with clock("write"):
                for v in videos:
                    result.files.append(v.close())
                    if v.audio_note:
                        result.messages.append(f"{v.fmt}: {v.audio_note}")
        videos = []
    finally:
        limits.close()
        writer.close(raise_error=False)  # no-op after a normal end; after an error, nothing is left writing
        for v in videos:
            v.abort()
        if bar is not None:
            bar.close()
    result.info["band_width"] = band
    result.frame_notes.sort(key=lambda n: n["frame"])
    if result.frame_notes:
        kinds = [n["kind"] for n in result.frame_notes]
        result.messages.append(f"{kinds.count('lost')} frame(s) with the subject lost, {kinds.count('guessed')} "
                               "guessed (see frame_notes in video.json)")  # fmt: skip
    result.info["working_size"] = [work.shape[1], work.shape[0]]
    result.info["matting"] = getattr(backend, "name", s.model) if backend is not None else s.model
    write_json_atomic(os.path.join(output, "video.json"), result.to_dict())
    return result


def _one_blas_thread():
    """BLAS (numpy's and scipy's OpenBLAS) held to one thread while a video is matted.

    The pipeline already keeps both cores busy (a frame matted, the next one prepared, the one before written);
    OpenBLAS's own threads, woken by a small product, spin waiting for more and took 15 % of the CPU time of a
    1080p frame on two cores. Without threadpoolctl: nothing changes.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _note(result: VideoMattingResult, index: int, kind: str, reason: str) -> None:
    result.frame_notes.append({"frame": int(index), "kind": kind, "reason": reason})


def _earlier_notes(output: str) -> dict:
    """The frame notes of an earlier run into ``output`` (its frames are read back, not redone), by frame."""
    import json

    try:
        with open(os.path.join(output, "video.json"), encoding="utf-8") as f:
            notes = json.load(f).get("frame_notes", [])
        by_frame: dict = {}
        for n in notes:
            by_frame.setdefault(int(n["frame"]), []).append({"frame": int(n["frame"]), "kind": str(n["kind"]),
                                                             "reason": str(n["reason"])})  # fmt: skip
        return by_frame
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def _without_matting(c: PreparedFrame, result: VideoMattingResult) -> bool:
    """Give ``c`` its alpha without matting when matting cannot work; True when done.

    An empty mask: all 0 (the subject is gone). A trimap with no known foreground or no known background
    (a mask too small or too thin for the band, or one that fills the frame): the mask itself.
    """
    fg, bg = (c.trimap == 255).any(), (c.trimap == 0).any()
    if not (c.mask > 127).any():
        c.raw_alpha = np.zeros(c.mask.shape, np.uint8)
        return True
    if fg and bg:
        return False
    c.raw_alpha = c.mask.copy()
    _note(result, c.index, "guessed", "the trimap has no known " + ("background" if fg else "foreground")
          + ": the mask is the alpha")  # fmt: skip
    return True


def _matte(backend, todo: list, result: VideoMattingResult) -> None:
    """Matte a chunk; when the backend fails, each frame alone, and a frame that still fails gets its mask."""
    try:
        raw = backend.predict(np.stack([c.frame for c in todo]), np.stack([c.trimap for c in todo]))
        for c, a in zip(todo, raw):
            c.raw_alpha = np.asarray(a, np.uint8)
        return
    except Exception as exc:  # noqa: BLE001 - no matting error may end a run; each frame is retried alone
        if len(todo) == 1:
            todo[0].raw_alpha = todo[0].mask.copy()
            _note(result, todo[0].index, "guessed", f"matting failed ({exc}): the mask is the alpha")
            return
    for c in todo:
        _matte(backend, [c], result)


def _plate_trimap(item: PreparedFrame, plate: BackgroundPlate, reach: int, settings: BackgroundSettings) -> None:
    """Correct ``item.trimap`` with the background plate, near the subject (within ``reach`` of the mask)."""
    near = item.distance <= reach
    ys, xs = np.flatnonzero(near.any(axis=1)), np.flatnonzero(near.any(axis=0))
    if len(xs) == 0:
        return
    h, w = near.shape
    y0, y1, x0, x1 = max(0, ys[0] - 1), min(h, ys[-1] + 2), max(0, xs[0] - 1), min(w, xs[-1] + 2)
    # plate_trimap reads the plate outside the mask and one pixel into it (its 3 x 3 erosion): the region
    # behind the subject, never seen, need not be searched for in every older frame.
    need = cv2.dilate(np.where(item.mask[y0:y1, x0:x1] > 127, 0, 255).astype(np.uint8), np.ones((3, 3), np.uint8),
                      borderType=cv2.BORDER_REPLICATE) > 0  # fmt: skip
    colour, valid = plate.plate(item.index, (y0, y1, x0, x1), crop=True, need=need)
    if valid.any():
        # Only the box: outside it the plate is unknown and nothing changes (its one-pixel margin lies outside
        # ``near``, where no pixel is in the band, so the crop's border cannot change the result either).
        box = (slice(y0, y1), slice(x0, x1))
        view = item.trimap[box]
        sub, _noise = plate_trimap(view, item.frame[box], colour, valid, item.mask[box], near[box], settings)
        if sub is not view:
            item.trimap = item.trimap.copy()
            item.trimap[box] = sub


def _finish(c: PreparedFrame, s: VideoMattingSettings, stabiliser, videos, formats, alpha_dir, rgba_dir, clock, result,
            work: WorkingResolution, writer: BackgroundWriter):  # fmt: skip
    """Stabilise one matted frame (or take back an earlier run's alpha), bring it to full size, write it."""
    if c.previous is not None:  # full size, as written
        c.full_alpha, c.alpha = c.previous, work.shrink(c.previous)
        stabiliser.remember(c.alpha, c.frame)
    else:
        with clock("stabilise"):
            c.alpha = stabiliser(c.raw_alpha, c.trimap, c.frame, c.motion)
        with clock("upsample"):
            c.full_alpha = work.enlarge(c.alpha, c.full, c.frame)
            if work.active:  # carry on with what a rerun would read back: a resumed run equals an uninterrupted one
                c.alpha = work.shrink(c.full_alpha)
                stabiliser.remember(c.alpha, c.frame)
    full, alpha, name, previous, small = c.full, c.full_alpha, frame_name(c.index), c.previous, c.frame

    def write() -> None:
        rgba = None
        if previous is None:
            write_png_atomic(os.path.join(alpha_dir, name), alpha, durable=False)
            if "png" in formats:
                rgba = _rgba(full, alpha, s.estimate_foreground)
                write_png_atomic(os.path.join(rgba_dir, name), rgba, durable=False)
        if videos:
            if rgba is None and "png" in formats:
                rgba = _read_png(os.path.join(rgba_dir, name), cv2.IMREAD_UNCHANGED)
            if rgba is None or rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.shape[:2] != alpha.shape:
                rgba = _rgba(full, alpha, s.estimate_foreground)
            for v in videos:
                v.write(*((small, work.shrink(rgba)) if v.fmt == "preview" else (full, rgba)))

    with clock("write"):  # the time spent waiting for the writer
        writer.submit(write)
    if previous is None:
        result.matted += 1
    else:
        result.skipped += 1
    result.frames += 1
