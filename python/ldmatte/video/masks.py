"""The mask inputs of ``ldmatte video``, read and checked before the first frame is matted.

- :func:`read_mask`: a mask image as a 0 / 255 subject mask. Binary and grey masks
  count above half their range; an RGBA mask its alpha (when not all opaque); a
  colour mask any channel above half. Object-id masks, as video object
  segmentation benchmarks (DAVIS, YouTube-VOS, PUMaVOS) ship them, are palette
  PNGs (or lossless grey images whose values are all small ids): every id above 0
  is the subject, or the ids asked for (``ids``, ``--mask-ids 1,2``).
- :func:`fit_mask`: a mask brought to the frame's size: resized (nearest, so ids and
  edges stay sharp) only when its aspect ratio matches; another shape is refused,
  never stretched.
- :class:`FolderMasks`: per-frame masks from a folder, paired with the frames in
  natural name order (``frame_2`` before ``frame_10``); :meth:`FolderMasks.check`
  compares the count with the frames and reads every mask before the run. A folder
  with fewer masks than frames, each named by its frame number (``00000.png``,
  ``00014.png``, as DAVIS, YouTube-VOS and PUMaVOS ship them), holds key frames
  (:attr:`FolderMasks.key_frames`, :meth:`FolderMasks.key_masks`): the pipeline carries
  the first and re-anchors the carried mask on each of the others.
- :class:`GuardedSegmenter`: the adapter the pipeline puts around a segmenter:
  a frame on which it raises (or returns no usable mask) keeps the previous
  frame's mask and is recorded as lost; the run goes on.
- :func:`load_segmenter`: ``MODULE:FACTORY`` loaded with one clear line for each
  way it can fail, before the first frame.

Files are read through :mod:`ldmatte.io`'s checks: a named pipe or a device is
refused without being opened (it could block the run for ever).
"""
from __future__ import annotations

import os
from collections.abc import Mapping

import cv2
import numpy as np

__all__ = ["MASK_SUFFIXES", "parse_ids", "read_mask", "fit_mask", "check_coverage", "FolderMasks", "KeyFrameMasks",
           "GuardedSegmenter", "load_segmenter", "to_mask", "SegmenterUnavailable"]  # fmt: skip


class SegmenterUnavailable(RuntimeError):
    """A segmenter that cannot be used here (a package or a checkpoint missing); the message says what to do."""


MASK_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
LABEL_MAX = 31  # a lossless grey mask whose values are all <= this is an id map (0 background, 1, 2, ... objects)
_LOSSLESS = ("PNG", "BMP", "TIFF")
_ASPECT_TOLERANCE = 0.01  # relative: 854x480 and 1920x1080 are the same shape, 4:3 and 16:9 are not


def parse_ids(text) -> tuple[int, ...] | None:
    """``"1,2"`` -> ``(1, 2)``: the object ids that are the subject; None or ``""`` -> None (every id above 0).

    Examples
    --------
    >>> parse_ids("2, 1,2")
    (1, 2)
    >>> parse_ids("0")
    Traceback (most recent call last):
    ...
    ValueError: --mask-ids must be a comma list of object ids from 1 to 65535, got '0'
    """
    if text is None or not str(text).strip():
        return None
    try:
        ids = sorted({int(t) for t in str(text).split(",") if t.strip()})
    except ValueError:
        ids = []
    if not ids or not all(1 <= i <= 65535 for i in ids):
        raise ValueError(f"--mask-ids must be a comma list of object ids from 1 to 65535, got {text!r}")
    return tuple(ids)


def _decode(path: str):
    """(values, kind): kind 'palette' / 'ids' (values are object ids), 'grey', 'alpha', 'colour'."""
    from ..fileio import _image_headers as headers
    from ..fileio.readwrite import MAX_PIXELS, ImageReadError, _read_bytes

    try:
        data = _read_bytes(path, MAX_PIXELS)
        header = headers.parse(data)
    except ImageReadError as exc:
        raise ValueError(str(exc)) from None
    except headers.HeaderError as exc:
        raise ValueError(f"{path}: {exc}") from None
    if header.format == "PNG" and header.mode == "palette":
        try:
            import io

            from PIL import Image
        except ImportError:
            raise ValueError(f"{path}: a palette (object-id) mask needs pillow (pip install 'ldmatte[video]')") \
                from None
        try:
            with Image.open(io.BytesIO(header.data)) as im:
                return np.asarray(im.convert("P") if im.mode != "P" else im).copy(), "palette"
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: corrupt PNG ({exc})") from None
    im = cv2.imdecode(np.frombuffer(header.data, np.uint8), cv2.IMREAD_UNCHANGED)
    if im is None:
        raise ValueError(f"{path}: corrupt {header.format}: the image data does not decode")
    if im.ndim == 3 and im.shape[2] == 4 and im[..., 3].min() < im[..., 3].max():
        return im[..., 3], "alpha"
    if im.ndim == 3:
        return im[..., :3].max(axis=2), "colour"
    if header.format in _LOSSLESS and 0 < im.max() <= LABEL_MAX:
        return im, "ids"
    return im, "grey"


def _half(values: np.ndarray) -> int:
    return 32767 if values.dtype == np.uint16 else 127


def read_mask(path, ids=None, with_kind: bool = False):
    """A mask image as an (H, W) 0 / 255 uint8 subject mask.

    Palette PNGs and small-valued lossless grey images hold object ids: the subject is every id above 0, or
    the ``ids`` given. Other masks count above half their range (RGBA: the alpha; colour: any channel).
    With ``with_kind`` returns ``(mask, kind)``, kind one of ``palette``, ``ids``, ``grey``, ``alpha``,
    ``colour``. Raises ValueError naming the file (not a regular file, not an image, ``ids`` asked of a mask
    that holds none).

    Examples
    --------
    >>> import os, tempfile, numpy as np, cv2
    >>> path = os.path.join(tempfile.mkdtemp(), "ids.png")
    >>> _ = cv2.imwrite(path, np.array([[0, 1, 2]], np.uint8))  # a grey id map
    >>> read_mask(path).tolist(), read_mask(path, ids=(2,)).tolist()
    ([[0, 255, 255]], [[0, 0, 255]])
    """
    path = os.fspath(path)
    values, kind = _decode(path)
    if ids is not None:
        if kind not in ("palette", "ids"):
            raise ValueError(f"{path}: --mask-ids picks object ids, but this is a {kind} mask, not an id mask "
                             "(a palette PNG or a grey PNG of small ids)")  # fmt: skip
        subject = np.isin(values, ids)
    elif kind in ("palette", "ids"):
        subject = values > 0
    else:
        subject = values > _half(values)
    mask = np.where(subject, 255, 0).astype(np.uint8)
    return (mask, kind) if with_kind else mask


def _ids_present(path) -> str:
    values, kind = _decode(os.fspath(path))
    if kind not in ("palette", "ids"):
        return ""
    found = [int(v) for v in np.unique(values) if v > 0][:10]
    return f" (its object ids: {', '.join(map(str, found)) or 'none'})"


def check_coverage(mask: np.ndarray, name: str, path=None) -> None:
    """Refuse a mask with no subject pixel or no background pixel: nothing to matte either way.

    Examples
    --------
    >>> import numpy as np
    >>> check_coverage(np.zeros((2, 2), np.uint8), "first-frame mask")
    Traceback (most recent call last):
    ...
    ValueError: first-frame mask: the mask selects no pixel: nothing would be matted (is it an id mask? see --mask-ids)
    """
    if not mask.any():
        ids = _ids_present(path) if path is not None else ""
        raise ValueError(f"{name}: the mask selects no pixel{ids}: nothing would be matted (is it an id mask? "
                         "see --mask-ids)")  # fmt: skip
    if mask.all():
        raise ValueError(f"{name}: the mask covers the whole frame: nothing is background (an inverted mask?)")


def fit_mask(mask: np.ndarray, shape, name: str = "mask") -> tuple[np.ndarray, str | None]:
    """``(mask at shape (H, W), note or None)``: resized (nearest) only when the aspect ratio matches.

    Examples
    --------
    >>> import numpy as np
    >>> m, note = fit_mask(np.zeros((2, 4), np.uint8), (4, 8))
    >>> m.shape, note
    ((4, 8), "mask: 4x2 resized (nearest) to the frames' 8x4")
    >>> fit_mask(np.zeros((4, 4), np.uint8), (4, 8))
    Traceback (most recent call last):
    ...
    ValueError: mask: 4x4 for frames of 8x4: another aspect ratio (it would be stretched); give a mask of ...
    """
    h, w = int(shape[0]), int(shape[1])
    mh, mw = mask.shape[:2]
    if (mh, mw) == (h, w):
        return mask, None
    if abs(mw * h - w * mh) > _ASPECT_TOLERANCE * w * mh:
        raise ValueError(f"{name}: {mw}x{mh} for frames of {w}x{h}: another aspect ratio (it would be stretched); "
                         "give a mask of the frames' size")  # fmt: skip
    resized = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)
    return resized, f"{name}: {mw}x{mh} resized (nearest) to the frames' {w}x{h}"


class FolderMasks:
    """Per-frame masks from a folder: the i-th image in natural name order is frame i's mask.

    ``ids``: the object ids that are the subject in id masks (None: every id above 0). Call :meth:`check`
    with the frame count and size before the run: it refuses a count that differs and reads every mask.

    Examples
    --------
    >>> import os, tempfile, numpy as np, cv2
    >>> folder = tempfile.mkdtemp()
    >>> for i in (1, 2, 10):
    ...     m = np.zeros((4, 4), np.uint8); m[1:3, 1:3] = 255 * (i > 1)
    ...     _ = cv2.imwrite(os.path.join(folder, f"m_{i}.png"), m)
    >>> masks = FolderMasks(folder)
    >>> [os.path.basename(f) for f in masks.files]
    ['m_1.png', 'm_2.png', 'm_10.png']
    >>> masks.check(3, (4, 4))
    ['1 of 3 masks select no pixel (frames 0): those frames are matted as all background']
    >>> masks.check(4, (4, 4))
    Traceback (most recent call last):
    ...
    ValueError: ...: 3 masks for 4 frames: give one mask per frame (paired in natural name order, ...), or key-frame ...

    Fewer masks than frames, each named by its frame number, are key frames:

    >>> keys = tempfile.mkdtemp()
    >>> for i in (0, 14):
    ...     m = np.zeros((4, 4), np.uint8); m[1:3, 1:3] = 255
    ...     _ = cv2.imwrite(os.path.join(keys, f"{i:05d}.png"), m)
    >>> k = FolderMasks(keys)
    >>> k.check(20, (4, 4))
    ['key frames: 2 masks for 20 frames (frames 0, 14): the first is carried, re-anchored on each of the others']
    >>> sorted(k.key_frames), k.key_masks()[14].shape
    ([0, 14], (4, 4))
    """

    def __init__(self, folder, ids=None):
        from ..fileio.ownership import collect_images
        from .reader import natural_key

        self.folder, self.ids = os.fspath(folder), ids
        if not os.path.isdir(self.folder):
            raise ValueError(f"{self.folder}: not a folder of masks")
        files, problems = collect_images([self.folder], suffixes=MASK_SUFFIXES)
        if problems:
            raise ValueError(f"{problems[0].path}: {problems[0].reason}")
        self.files = [f.path for f in sorted(files, key=lambda f: natural_key(f.rel))]
        self.notes: list[str] = []  # what check() found that the run should report (empty masks, resizing)
        self.key_frames: dict[int, str] | None = None  # frame index -> mask file, when the masks are key frames
        self._shape: tuple[int, int] | None = None
        if not self.files:
            raise ValueError(f"{self.folder}: no mask images ({', '.join(MASK_SUFFIXES)})")

    def __len__(self) -> int:
        return len(self.files)

    def check(self, frames: int, shape, source=None) -> list[str]:
        """Refuse (ValueError) a count other than ``frames``, a mask that cannot be read or has another aspect
        ratio, and a folder whose masks all select nothing; return notes (empty or full masks, resizing).

        Fewer masks than frames, all named by frame number, are key frames (:meth:`_check_keys`); ``source``
        (the video or frame folder) pairs them with the frames of a folder whose frames are named by number.
        """
        if getattr(self, "_checked", None) == (frames, tuple(shape), source):  # the command checked them already
            return self.notes
        first, last = os.path.basename(self.files[0]), os.path.basename(self.files[-1])
        self.key_frames, self._shape = None, (int(shape[0]), int(shape[1]))
        if len(self.files) != frames:
            numbered = all(os.path.splitext(os.path.basename(f))[0].isdigit() for f in self.files)
            if not numbered or len(self.files) > frames:
                raise ValueError(f"{self.folder}: {len(self.files)} masks for {frames} frames: give one mask per "
                                 f"frame (paired in natural name order, {first} ... {last}), or key-frame masks "
                                 "named by frame number (00000.png, 00014.png, ...; frame 0 among them)")  # fmt: skip
            self.notes, self._checked = self._check_keys(frames, source), (frames, tuple(shape), source)
            return self.notes
        empty, full, resized = [], [], 0
        for i, path in enumerate(self.files):
            mask, note = fit_mask(read_mask(path, self.ids), shape, name=path)
            resized += note is not None
            if not mask.any():
                empty.append(i)
            elif mask.all():
                full.append(i)
        if len(empty) == len(self.files):
            check_coverage(np.zeros((1, 1), np.uint8), f"{self.folder}: every mask", self.files[0])
        notes = []
        for what, which in (("select no pixel", empty), ("cover the whole frame", full)):
            if which:
                listed = ", ".join(map(str, which[:8])) + (", ..." if len(which) > 8 else "")
                kind = "all background" if which is empty else "all subject"
                notes.append(f"{len(which)} of {len(self.files)} masks {what} (frames {listed}): those frames are "
                             f"matted as {kind}")  # fmt: skip
        if resized:
            h, w = shape
            notes.append(f"{resized} of {len(self.files)} masks resized (nearest) to the frames' {w}x{h}")
        self.notes, self._checked = notes, (frames, tuple(shape), source)
        return notes

    def _check_keys(self, frames: int, source) -> list[str]:
        """Key frames: each mask's name is the number of its frame (0-based index in the video; in a folder of
        frames named by number, the frame of that name). Refuses a number with no frame, two masks for one
        frame, a first frame without a mask, a mask that cannot be read or has another aspect ratio, a first
        mask that selects nothing or everything, a later one that covers the whole frame."""
        by_name = _numbered_frames(source)
        keys: dict[int, str] = {}
        for path in self.files:
            name = os.path.basename(path)
            number = int(os.path.splitext(name)[0])
            index = number if by_name is None else by_name.get(number)
            if index is None or not 0 <= index < frames:
                where = f"{frames} frames (0 to {frames - 1})" if by_name is None else \
                    f"frames named {min(by_name)} to {max(by_name)}, none {number}"
                raise ValueError(f"{path}: a key-frame mask for frame {number}, but the video has {where}")
            if index in keys:
                raise ValueError(f"{self.folder}: {os.path.basename(keys[index])} and {name} are both the mask "
                                 f"of frame {number}: keep one")  # fmt: skip
            keys[index] = path
        if 0 not in keys:
            raise ValueError(f"{self.folder}: key-frame masks start at frame {min(keys)}: the first frame needs one "
                             "(the others re-anchor the mask carried from it)")  # fmt: skip
        empty, resized = [], 0
        for index, path in sorted(keys.items()):
            mask, note = fit_mask(read_mask(path, self.ids), self._shape, name=path)
            resized += note is not None
            if index == 0:
                check_coverage(mask, f"{path} (the first key frame)", path)
            elif mask.all():
                check_coverage(mask, f"{path} (key frame {index})", path)
            elif not mask.any():
                empty.append(index)
        self.key_frames = keys
        listed = ", ".join(map(str, sorted(keys)[:12])) + (", ..." if len(keys) > 12 else "")
        notes = [f"key frames: {len(keys)} masks for {frames} frames (frames {listed}): the first is carried, "
                 "re-anchored on each of the others"]  # fmt: skip
        if empty:
            notes.append(f"key-frame masks of frames {', '.join(map(str, empty))} select no pixel: the subject is "
                         "taken as gone there")  # fmt: skip
        if resized:
            h, w = self._shape
            notes.append(f"{resized} of {len(keys)} key-frame masks resized (nearest) to the frames' {w}x{h}")
        return notes

    def key_masks(self) -> KeyFrameMasks:
        """The key frames' masks (frame index -> 0 / 255 mask at the frames' size, read when asked for);
        after :meth:`check` found key frames."""
        if not self.key_frames:
            raise ValueError(f"{self.folder}: no key frames (check() first; a mask per frame is no key frame)")
        return KeyFrameMasks(self.key_frames, self._shape, self.ids)

    def segment(self, frame: np.ndarray, index: int) -> np.ndarray:
        if self.key_frames:
            raise ValueError(f"{self.folder}: masks of key frames only: carry them (CarriedSegmenter's key_masks)")
        if index >= len(self.files):
            raise ValueError(f"{self.folder}: no mask for frame {index} (the folder holds {len(self.files)})")
        path = self.files[index]
        return fit_mask(read_mask(path, self.ids), np.asarray(frame).shape[:2], name=path)[0]


def _numbered_frames(source) -> dict[int, int] | None:
    """{frame number: index} of a folder of frames all named by number (``00000.jpg``, ``00005.jpg``, ...:
    a key-frame mask names the frame of its number); None for a video file or other names."""
    if source is None or not os.path.isdir(os.fspath(source)):
        return None
    from .reader import frame_files

    stems = [os.path.splitext(os.path.basename(f))[0] for f in frame_files(source)]
    if not stems or not all(s.isdigit() for s in stems) or len({int(s) for s in stems}) != len(stems):
        return None
    return {int(s): i for i, s in enumerate(stems)}


class KeyFrameMasks(Mapping):
    """Frame index -> key-frame mask (0 / 255 uint8 at ``shape``), read from its file when asked for.

    What :class:`~ldmatte.video.carried.CarriedSegmenter` takes as ``key_masks`` (any mapping of arrays does).

    Examples
    --------
    >>> import os, tempfile, numpy as np, cv2
    >>> path = os.path.join(tempfile.mkdtemp(), "00003.png")
    >>> _ = cv2.imwrite(path, np.eye(2, dtype=np.uint8) * 255)
    >>> keys = KeyFrameMasks({3: path}, (4, 4))
    >>> list(keys), keys[3].shape, 3 in keys, 4 in keys
    ([3], (4, 4), True, False)
    """

    def __init__(self, files: dict, shape, ids=None):
        self.files, self.shape, self.ids = dict(sorted(files.items())), (int(shape[0]), int(shape[1])), ids

    def __getitem__(self, index: int) -> np.ndarray:
        path = self.files[index]
        return fit_mask(read_mask(path, self.ids), self.shape, name=path)[0]

    def __contains__(self, index) -> bool:  # asked every frame: no file read (Mapping's would read one)
        return index in self.files

    def __iter__(self):
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)


class GuardedSegmenter:
    """A segmenter that cannot stop the run: a frame it fails on keeps the previous frame's mask.

    Wraps any object with ``segment(frame, index)``. When it raises, or returns something that is no
    (H, W) mask of the frame's shape (or of its aspect ratio: resized, nearest), the frame is recorded in
    ``lost`` (index, reason) and gets the last good mask (an empty one before any). Other attributes are
    the wrapped segmenter's.

    Examples
    --------
    >>> import numpy as np
    >>> class Flaky:
    ...     def segment(self, frame, index):
    ...         if index == 1:
    ...             raise RuntimeError("lost track")
    ...         return np.eye(2, dtype=bool)
    >>> g = GuardedSegmenter(Flaky())
    >>> frame = np.zeros((2, 2, 3), np.uint8)
    >>> [g.segment(frame, i).tolist() for i in range(3)]
    [[[255, 0], [0, 255]], [[255, 0], [0, 255]], [[255, 0], [0, 255]]]
    >>> g.lost
    [(1, 'RuntimeError: lost track')]
    >>> g.messages()
    ["masks of 1 frame lost (frame 1: RuntimeError: lost track): the previous frame's mask was used"]
    """

    def __init__(self, segmenter):
        self.segmenter = segmenter
        self.lost: list[tuple[int, str]] = []
        self.empty: list[int] = []  # frames whose mask selects nothing (told: an id mask read as grey looks so)
        self.full: list[int] = []  # frames whose mask covers the whole frame
        self._last: np.ndarray | None = None

    def __getattr__(self, name):
        if name == "segmenter":  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.segmenter, name)

    def segment(self, frame: np.ndarray, index: int) -> np.ndarray:

        shape = np.asarray(frame).shape[:2]
        try:
            out = np.asarray(self.segmenter.segment(frame, index))
            if out.ndim == 3 and out.shape[2] == 1:
                out = out[..., 0]
            if out.ndim != 2:
                raise ValueError(f"returned an array of shape {out.shape}, not an (H, W) mask")
            out = fit_mask(to_mask(out, name="the mask"), shape, name="the mask")[0]
        except Exception as exc:  # noqa: BLE001 - any failure of user code loses this frame's mask only
            self.lost.append((index, " ".join(f"{type(exc).__name__}: {exc}".split())))
            if self._last is None or self._last.shape != shape:
                return np.zeros(shape, np.uint8)
            return self._last
        if not out.any():
            self.empty.append(index)
        elif out.all():
            self.full.append(index)
        self._last = out
        return out

    def messages(self) -> list[str]:
        """The mask folder's notes (:meth:`FolderMasks.check`), then one line for the frames lost."""
        if isinstance(self.segmenter, FolderMasks):  # its empty and full masks were told by its check
            notes = list(self.segmenter.notes)
        else:
            notes = [f"the segmenter's mask {what} on {len(which)} frame{'s' if len(which) > 1 else ''} (frames "
                     f"{', '.join(map(str, which[:8]))}{', ...' if len(which) > 8 else ''}): matted as {kind}"
                     for what, which, kind in (("selects no pixel", self.empty, "all background"),
                                               ("covers the whole frame", self.full, "all subject")) if which]
        if not self.lost:
            return notes
        shown = "; ".join(f"frame {i}: {why}" for i, why in self.lost[:3]) + ("; ..." if len(self.lost) > 3 else "")
        n = len(self.lost)
        return notes + [f"masks of {n} frame{'s' if n > 1 else ''} lost ({shown}): the previous frame's mask was used"]

    def record(self) -> dict:
        return {"lost": [{"frame": i, "reason": why} for i, why in self.lost], "empty": list(self.empty),
                "full": list(self.full)}


def load_segmenter(spec: str, first_mask=None):
    """The segmenter ``MODULE:FACTORY`` names: ``FACTORY(first_mask=...)`` (or ``FACTORY()`` without a mask).

    Raises ValueError with one line when the module does not import, the name is missing or not callable,
    the factory raises, or its result has no ``segment(frame, index)``.

    Examples
    --------
    >>> load_segmenter("os:sep")
    Traceback (most recent call last):
    ...
    ValueError: --segmenter os:sep: os.sep is not a factory (a str, not callable)
    """
    import importlib

    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.split(":")):
        raise ValueError(f"--segmenter must be 'sam2' or MODULE:FACTORY, got {spec!r}")
    module, attr = spec.split(":")
    try:
        factory = getattr(importlib.import_module(module), attr)
    except Exception as exc:  # noqa: BLE001 - importing user code may raise anything
        raise ValueError(f"--segmenter {spec}: cannot load it ({type(exc).__name__}: {exc})") from None
    if not callable(factory):
        raise ValueError(f"--segmenter {spec}: {module}.{attr} is not a factory (a {type(factory).__name__}, "
                         "not callable)")  # fmt: skip
    try:
        seg = factory(first_mask=first_mask) if first_mask is not None else factory()
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"--segmenter {spec}: the factory failed ({type(exc).__name__}: {exc})") from None
    if not callable(getattr(seg, "segment", None)):
        raise ValueError(f"--segmenter {spec}: the factory's result has no segment(frame, index) method")
    return seg


def to_mask(mask, shape=None, name: str = "mask") -> np.ndarray:
    """A segmenter's output as a 0 / 255 uint8 mask: bool as is, uint8 > 127, float > 0.5.

    With ``shape`` (H, W) a mask of another size is resized to it (linear, then thresholded).

    Examples
    --------
    >>> import numpy as np
    >>> to_mask(np.array([[0.2, 0.7]])).tolist()
    [[0, 255]]
    >>> to_mask(np.array([[True, False]]), shape=(2, 4)).tolist()
    [[255, 255, 0, 0], [255, 255, 0, 0]]
    """
    m = np.asarray(mask)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[..., 0]
    if m.ndim != 2 or 0 in m.shape:
        raise ValueError(f"{name} must be a non-empty (H, W) array, got shape {m.shape}")
    if m.dtype == bool:
        unit = m.astype(np.float32)
    elif m.dtype == np.uint8:
        unit = m.astype(np.float32) / 255
    elif np.issubdtype(m.dtype, np.floating) or np.issubdtype(m.dtype, np.integer):
        unit = m.astype(np.float32)
        if np.issubdtype(m.dtype, np.integer):
            unit = (unit > 0).astype(np.float32)
    else:
        raise TypeError(f"{name} must be bool, uint8 or float, got {m.dtype}")
    if shape is not None and unit.shape != tuple(shape):
        unit = cv2.resize(unit, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return np.where(unit > 0.5, 255, 0).astype(np.uint8)
