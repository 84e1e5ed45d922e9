"""Reading transparent images for refinement and writing results atomically.

:func:`read_rgba` turns an image file into an 8-bit RGBA array or raises
:class:`ImageReadError` (a ValueError) saying why it cannot: an RGB image
without alpha, an empty, truncated or corrupt file, something that is no image,
or an image above the pixel limit; :func:`read_image` reads backgrounds and
mattes the same way without the alpha rule. The format is told by the first
bytes and the size by the header, before any decoder runs (PNG, JPEG, TIFF,
WebP, BMP), so an image too large is refused without the memory it would take.
PNG files are checked chunk by chunk (lengths, CRCs, the closing IEND chunk)
before decoding, because a decoder may accept a file cut after its last
complete row and hand back partial data.

:func:`write_png_atomic` and :func:`write_bytes_atomic` write to a hidden temp
file in the destination folder, fsync it and rename it over the destination, so
a reader (or a rerun after a crash) sees the old file or the new one, never half
of one. :func:`remove_stale_temps` deletes the temp files that a killed process
left behind.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import numbers
import os
import re
import uuid

import cv2
import numpy as np

from . import _image_headers as _headers
from ._filetype import not_regular as _kind  # the name this module's readers use

__all__ = ["ImageReadError", "ImageInfo", "MAX_PIXELS", "check_max_pixels", "DECODER_MAX_PIXELS", "read_rgba",
           "read_image", "write_png_atomic", "write_bytes_atomic", "write_json_atomic", "remove_stale_temps",
           "is_temp_name", "encode_png", "read_rgb", "read_gray", "read_color", "imread"]  # fmt: skip

MAX_PIXELS = 8192 * 8192  # default limit; Layer Diffusion outputs are about 1 megapixel


def _env_size(name: str, default: int) -> int:
    # OpenCV's own limits, which these variables change; the reader refuses what the decoder would.
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


DECODER_MAX_PIXELS = _env_size("OPENCV_IO_MAX_IMAGE_PIXELS", 1 << 30)
DECODER_MAX_WIDTH = _env_size("OPENCV_IO_MAX_IMAGE_WIDTH", 1 << 20)
DECODER_MAX_HEIGHT = _env_size("OPENCV_IO_MAX_IMAGE_HEIGHT", 1 << 20)
_NO_ALPHA = ("RGB image without an alpha channel: nothing to refine (save it as RGBA, or the matte alone as a "
             "grayscale PNG)")  # fmt: skip
_TMP_MARK = ".ldmatte-tmp-"
_TMP_RE = re.compile(r"^\..+" + re.escape(_TMP_MARK) + r"(\d+)-[0-9a-f]{8}$")


class ImageReadError(ValueError):
    """An input image that cannot be refined; ``reason`` says why, ``path`` which file."""

    def __init__(self, path, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclasses.dataclass(frozen=True)
class ImageInfo:
    """What :func:`read_rgba` found in a file and how it converted it.

    ``mode`` is the file's colour type ("RGBA", "gray+alpha", "palette" with
    transparency, "gray" or, for non-PNG files, "other"). ``alpha_only`` is True
    for a grayscale image without alpha, which is taken as an alpha matte.
    ``bit_depth`` is the file's bits per sample; 16-bit files are refined at 8 bits.
    ``notes`` say what was converted or not used (16 bits, an ICC profile, the
    frames of an animated PNG); ``format`` is the file's format told by its
    first bytes ("PNG", "JPEG", "TIFF", "WebP", "BMP").
    """

    height: int
    width: int
    mode: str
    bit_depth: int
    alpha_only: bool
    notes: tuple = ()
    format: str = "PNG"

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["notes"] = list(self.notes)
        return d


def check_max_pixels(max_pixels) -> int | None:
    """``max_pixels`` validated: None (no limit of ours) or an int from 1 to :data:`DECODER_MAX_PIXELS`.

    Raises ValueError otherwise: the decoder cannot read more pixels whatever
    the limit says, so a larger value would only move the failure into it.

    Examples
    --------
    >>> from ldmatte.io import check_max_pixels
    >>> check_max_pixels(4096 * 4096)
    16777216
    >>> check_max_pixels(3_000_000_000)
    Traceback (most recent call last):
    ...
    ValueError: max_pixels must be between 1 and 1,073,741,824 (the most the image decoder reads), got 3,000,000,000
    """
    if max_pixels is None:
        return None
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, numbers.Integral):
        raise ValueError(f"max_pixels must be a positive integer or None, got {max_pixels!r}")
    if not 1 <= max_pixels <= DECODER_MAX_PIXELS:
        raise ValueError(f"max_pixels must be between 1 and {DECODER_MAX_PIXELS:,} (the most the image decoder "
                         f"reads), got {max_pixels:,}")  # fmt: skip
    return int(max_pixels)


def _check_size(path, header, max_pixels) -> None:
    """Refuse, from the header alone, an image above the limit or above what its decoder reads."""
    height, width = header.height, header.width
    size = f"{width:,}x{height:,} = {width * height:,} pixels"
    if max_pixels is not None and height * width > max_pixels:
        raise ImageReadError(path, f"{header.format} image of {size} is above the limit of {max_pixels:,} pixels "
                                   "(raise max_pixels / --max-pixels to allow it)")  # fmt: skip
    side = _headers.PNG_MAX_SIDE if header.format == "PNG" else None
    for what, value, limit in (("wider", width, min(DECODER_MAX_WIDTH, side or DECODER_MAX_WIDTH)),
                               ("taller", height, min(DECODER_MAX_HEIGHT, side or DECODER_MAX_HEIGHT))):  # fmt: skip
        if value > limit:
            raise ImageReadError(path, f"{header.format} image of {width:,}x{height:,} pixels is {what} than "
                                       f"{limit:,} pixels, the most its decoder reads: too large to refine")  # fmt: skip
    if height * width > DECODER_MAX_PIXELS:
        raise ImageReadError(path, f"{header.format} image of {size} is above {DECODER_MAX_PIXELS:,} pixels, the "
                                   "most the image decoder reads: too large to refine")  # fmt: skip


def _read_bytes(path, max_pixels) -> bytes:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ImageReadError(path, "no such file") from None
    except OSError as exc:
        raise ImageReadError(path, f"cannot read: {exc.strerror or exc}") from exc
    why = _kind(st)  # a pipe or a device is never opened: reading it could block or never end
    if why:
        raise ImageReadError(path, why)
    if st.st_size == 0:
        raise ImageReadError(path, "empty file")
    # No image format stores more than 8 bytes per pixel (16-bit RGBA) plus headers:
    # a bigger file cannot be an image under the limit, so it is not read into memory.
    limit = DECODER_MAX_PIXELS if max_pixels is None else max_pixels
    if st.st_size > 8 * limit + (1 << 20):
        raise ImageReadError(path, f"file of {st.st_size:,} bytes is too large for an image under the pixel limit")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with open(fd, "rb") as f:
            if _kind(os.fstat(fd)):  # replaced by a pipe since the stat
                raise ImageReadError(path, _kind(os.fstat(fd)))
            return f.read()
    except OSError as exc:
        raise ImageReadError(path, f"cannot read: {exc.strerror or exc}") from exc


def _to_8bit(im: np.ndarray) -> np.ndarray:
    # Round to nearest: v8 = round(v16 * 255 / 65535), exact in integers.
    return ((im.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _decode(path, max_pixels, need_alpha: bool, flags: int = cv2.IMREAD_UNCHANGED):
    """Header checks, then the decoder: (image in the file's channel order, header)."""
    max_pixels = check_max_pixels(max_pixels)
    data = _read_bytes(path, max_pixels)
    try:
        header = _headers.parse(data)
    except _headers.HeaderError as exc:
        raise ImageReadError(path, str(exc)) from None
    _check_size(path, header, max_pixels)
    if need_alpha and header.channels == 3:  # refused before decoding: nothing would come of it
        raise ImageReadError(path, _NO_ALPHA)
    im = cv2.imdecode(np.frombuffer(header.data, np.uint8), flags)
    if im is None:
        raise ImageReadError(path, f"corrupt {header.format}: the image data does not decode")
    shape = (header.height, header.width)
    if im.shape[:2] != shape and (header.format == "PNG" or im.shape[:2] != shape[::-1]):
        raise ImageReadError(path, f"corrupt {header.format}: decoded {im.shape[1]}x{im.shape[0]}, header says "
                                   f"{header.width}x{header.height}")  # fmt: skip
    if header.transparency and im.ndim == 2:  # a gray PNG's tRNS chunk: the decoder does not make it alpha
        header.notes.append("tRNS transparency of a grayscale PNG not applied: only the gray values are used")
    return im, header


def _info(im: np.ndarray, header, alpha_only: bool, notes) -> "ImageInfo":
    channels = 1 if im.ndim == 2 else im.shape[2]
    mode = header.mode or {1: "gray", 3: "RGB", 4: "RGBA"}.get(channels, "other")
    depth = int(header.bit_depth) if header.bit_depth else im.dtype.itemsize * 8
    return ImageInfo(im.shape[0], im.shape[1], mode, depth, alpha_only, tuple(notes), header.format)


def _to_uint8(path, im: np.ndarray, notes: list) -> np.ndarray:
    if im.dtype == np.uint16:
        notes.append("16-bit input converted to 8 bits by rounding: refined at 8 bits")
        return _to_8bit(im)
    if im.dtype != np.uint8:
        raise ImageReadError(path, f"unsupported sample type {im.dtype} (need 8 or 16 bits per sample)")
    return im


def read_image(path, max_pixels: int | None = MAX_PIXELS):
    """Read an image of any supported format as uint8 gray (H, W), RGB (H, W, 3) or RGBA (H, W, 4).

    The checks of :func:`read_rgba` (format from the first bytes, size from the
    header before decoding, truncation, corruption), without its policy on
    channels: colour without alpha is returned as RGB. For backgrounds,
    alpha mattes and other training inputs.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from ldmatte.io import read_image, write_png_atomic
    >>> path = os.path.join(tempfile.mkdtemp(), "bg.png")
    >>> write_png_atomic(path, np.zeros((2, 3, 3), np.uint8))
    >>> im, info = read_image(path)
    >>> im.shape, info.format, info.mode
    ((2, 3, 3), 'PNG', 'RGB')
    """
    path = os.fspath(path)
    im, header = _decode(path, max_pixels, need_alpha=False)
    notes = list(header.notes)
    im = _to_uint8(path, im, notes)
    channels = 1 if im.ndim == 2 else im.shape[2]
    if channels not in (1, 3, 4):
        raise ImageReadError(path, f"unsupported image with {channels} channels")
    if channels == 3:
        im = cv2.cvtColor(im, cv2.COLOR_BGR2RGB)
    elif channels == 4:
        im = cv2.cvtColor(im, cv2.COLOR_BGRA2RGBA)
    else:
        im = im.reshape(im.shape[:2])
    return im, _info(im, header, False, notes)


def read_rgba(path, max_pixels: int | None = MAX_PIXELS):
    """Read an image as (H, W, 4) uint8 RGBA for refinement.

    The format is told by the file's first bytes, not its name: PNG, JPEG,
    TIFF, WebP and BMP are read, each checked from its header (size, and for
    PNG every chunk) before the decoder runs, so a file claiming more pixels
    than the limit costs no memory.

    Parameters
    ----------
    path : str or os.PathLike
    max_pixels : int or None
        Refuse images with more pixels, from the header, before decoding. None
        leaves only the decoder's own limit (:data:`DECODER_MAX_PIXELS`); values
        above it raise ValueError (see :func:`check_max_pixels`).

    Returns
    -------
    rgba : (H, W, 4) uint8 array, RGBA order, straight (not premultiplied) colour
    info : ImageInfo
        The file's format, mode and depth. A 16-bit file is converted to 8 bits
        by rounding (``round(v * 255 / 65535)``) and refined at 8 bits; its
        ``notes`` say so, and they say what else was not used: an embedded ICC
        profile, the other frames of an animated PNG, the other pages of a
        TIFF, an invalid tRNS chunk. A grayscale file without alpha is taken as
        an alpha matte: ``rgba`` is white with that alpha and
        ``info.alpha_only`` is True. Gray+alpha files keep their gray as colour.

    Raises
    ------
    ImageReadError
        With the reason: no such file, not a regular file (a pipe, a device),
        empty, truncated or corrupt file, not an image or an unsupported
        format, RGB without alpha, unsupported sample type, above the limit or
        above what the decoder reads.
    ValueError
        For an invalid ``max_pixels``.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from ldmatte.io import read_rgba, write_png_atomic
    >>> path = os.path.join(tempfile.mkdtemp(), "a.png")
    >>> write_png_atomic(path, np.full((2, 3, 4), 200, np.uint8))
    >>> rgba, info = read_rgba(path)
    >>> rgba.shape, info.mode, info.alpha_only
    ((2, 3, 4), 'RGBA', False)
    >>> write_png_atomic(path, np.full((2, 3, 3), 200, np.uint8))
    >>> read_rgba(path)
    Traceback (most recent call last):
    ...
    ldmatte.fileio.readwrite.ImageReadError: ...: RGB image without an alpha channel: nothing to refine ...
    """
    path = os.fspath(path)
    im, header = _decode(path, max_pixels, need_alpha=True)
    notes = list(header.notes)
    channels = 1 if im.ndim == 2 else im.shape[2]
    if channels == 3:
        raise ImageReadError(path, _NO_ALPHA)
    if channels not in (1, 4):
        raise ImageReadError(path, f"unsupported image with {channels} channels")
    im = _to_uint8(path, im, notes)
    if channels == 1:
        im = im.reshape(im.shape[:2])
        rgba = np.empty(im.shape + (4,), np.uint8)
        rgba[..., :3] = 255  # white: a matte has no colour, and white shows it as is on any background
        rgba[..., 3] = im
        notes.append("grayscale image without alpha taken as an alpha matte (colour white)")
        return rgba, _info(im, header, True, notes)
    rgba = cv2.cvtColor(im, cv2.COLOR_BGRA2RGBA)
    return rgba, _info(im, header, False, notes)


def _temp_path(path: str) -> str:
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}{_TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}")


def is_temp_name(name: str) -> bool:
    """True for the names of this module's temp files (hidden, ``.<name>.ldmatte-tmp-<pid>-<token>``)."""
    return _TMP_RE.match(name) is not None


def _fsync_dir(folder: str) -> None:
    # The rename is durable only once the folder's entry is on disk; not possible on every OS.
    with contextlib.suppress(OSError):
        fd = os.open(folder or ".", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_bytes_atomic(path, data: bytes, durable: bool = True, temp: str | None = None) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder and a rename.

    With ``durable`` the temp file and the folder are fsynced, so after a crash
    ``path`` holds the old content or the new one, whole. ``temp`` names the temp
    file (a caller that cleans up its own stale temps); by default it is a
    hidden, unique name that :func:`is_temp_name` recognises.
    """
    path = os.fspath(path)
    tmp = _temp_path(path) if temp is None else temp
    try:
        with open(tmp, "xb" if temp is None else "wb") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    if durable:
        _fsync_dir(os.path.dirname(path))


def write_png_atomic(path, image, durable: bool = True) -> None:
    """Write a uint8 gray (H, W), RGB (H, W, 3) or RGBA (H, W, 4) image as a PNG, atomically.

    Channels are in RGB(A) order. See :func:`write_bytes_atomic` for the
    guarantees. OpenCV's default PNG settings are used (a fast strategy).

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from ldmatte.io import write_png_atomic
    >>> folder = tempfile.mkdtemp()
    >>> write_png_atomic(os.path.join(folder, "alpha.png"), np.zeros((4, 4), np.uint8))
    >>> os.listdir(folder)
    ['alpha.png']
    """
    write_bytes_atomic(path, encode_png(image), durable)


def encode_png(image) -> bytes:
    """PNG bytes of a uint8 gray (H, W), RGB (H, W, 3) or RGBA (H, W, 4) image (RGB(A) order in).

    OpenCV's default settings: with no parameters its encoder takes a fast
    strategy, about twice as fast at 1024x1024 as an explicit level 1, at a
    similar size.
    """
    im = np.asarray(image)
    if im.dtype != np.uint8:
        raise TypeError(f"image must be uint8, got {im.dtype}")
    if im.ndim == 3 and im.shape[2] == 1:
        im = im[..., 0]
    if not (im.ndim == 2 or (im.ndim == 3 and im.shape[2] in (3, 4))) or 0 in im.shape[:2]:
        raise ValueError(f"image must be a non-empty (H, W), (H, W, 3) or (H, W, 4) array, got shape {im.shape}")
    if im.ndim == 3:
        im = cv2.cvtColor(im, cv2.COLOR_RGB2BGR if im.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(im))
    if not ok:  # pragma: no cover - OpenCV fails only on invalid input, checked above
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def _read_flat(path, flag: int) -> np.ndarray:
    # The checks of read_rgba (format, size from the header, truncation), then the decoder's own conversion.
    return _decode(os.fspath(path), MAX_PIXELS, need_alpha=False, flags=flag)[0]


def imread(path, flags: int = cv2.IMREAD_UNCHANGED, max_pixels: int | None = MAX_PIXELS) -> np.ndarray:
    """``cv2.imread(path, flags)`` with the checks of :func:`read_image`; raises instead of returning None.

    The array is OpenCV's (BGR / BGRA channel order, 8 or 16 bits with
    ``IMREAD_UNCHANGED``). A named pipe, a device or a socket is refused from
    its ``stat`` before anything opens it (opening a pipe would block until a
    writer comes), as are empty, truncated, corrupt and oversized files: every
    image a command reads goes through here or :func:`read_image` /
    :func:`read_rgba`.

    Raises
    ------
    ImageReadError
        (a ValueError) naming the file and the reason.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from ldmatte.io import imread, write_png_atomic
    >>> d = tempfile.mkdtemp(); path = os.path.join(d, "a.png")
    >>> write_png_atomic(path, np.zeros((2, 3), np.uint8))
    >>> imread(path).shape
    (2, 3)
    >>> os.mkfifo(os.path.join(d, "pipe.png"))
    >>> imread(os.path.join(d, "pipe.png"))
    Traceback (most recent call last):
    ...
    ldmatte.fileio.readwrite.ImageReadError: ...pipe.png: not a regular file (a named pipe)
    """
    return _decode(os.fspath(path), max_pixels, need_alpha=False, flags=flags)[0]


def read_rgb(path) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file we wrote (a dataset's foreground); alpha, if any, dropped.

    Raises :class:`ImageReadError` when the file is missing or does not decode.
    """
    return cv2.cvtColor(_read_flat(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def read_color(path, max_pixels: int | None = MAX_PIXELS):
    """An image as it is meant to be seen: (H, W, 3) uint8 RGB with its EXIF orientation applied, and its info.

    The checks of :func:`read_rgba`; the orientation a camera recorded is
    applied (as viewers and OpenCV's ``imread`` do), an alpha channel is
    dropped, gray is repeated in the three channels and 16 bits are rounded to
    8 (``info.notes`` says each). ``info.mode`` is the file's colour type. For
    photos: the green-screen shots of ``ldmatte key``.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from ldmatte.io import read_color, write_png_atomic
    >>> path = os.path.join(tempfile.mkdtemp(), "shot.png")
    >>> write_png_atomic(path, np.full((2, 3, 4), 200, np.uint8))
    >>> rgb, info = read_color(path)
    >>> rgb.shape, info.mode
    ((2, 3, 3), 'RGBA')
    """
    path = os.fspath(path)
    im, header = _decode(path, max_pixels, need_alpha=False, flags=cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
    notes = list(header.notes)
    if header.channels == 4 or (header.mode or "").endswith("alpha"):
        notes.append("the alpha channel was ignored")
    elif (header.mode or "").startswith("gray"):
        notes.append("grayscale image read as grey RGB")
    rgb = cv2.cvtColor(_to_uint8(path, im, notes), cv2.COLOR_BGR2RGB)
    return rgb, _info(rgb, header, False, notes)


def read_gray(path) -> np.ndarray:
    """(H, W) uint8 of a single-channel image file we wrote (an alpha matte, a trimap).

    Raises :class:`ImageReadError` when the file is missing or does not decode.
    """
    return _read_flat(path, cv2.IMREAD_GRAYSCALE)


def write_json_atomic(path, obj, durable: bool = True) -> None:
    """Write ``obj`` as indented JSON (UTF-8, trailing newline), atomically."""
    write_bytes_atomic(path, (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8"), durable)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process there; assume alive
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        return True
    return True


def remove_stale_temps(folder) -> list[str]:
    """Delete, under ``folder`` (recursively), the temp files of writers that no longer run.

    Only names made by this module count, and only those of dead processes, so a
    concurrent writer keeps its files. Returns the removed paths.
    """
    removed = []
    for root, _dirs, files in os.walk(os.fspath(folder)):
        for name in files:
            m = _TMP_RE.match(name)
            if m and not _pid_alive(int(m.group(1))):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(os.path.join(root, name))
                    removed.append(os.path.join(root, name))
    return removed
