"""Reading transparent images for refinement and writing results atomically.

:func:`read_rgba` turns a PNG into an 8-bit RGBA array or raises
:class:`ImageReadError` (a ValueError) saying why it cannot: an RGB image
without alpha, an empty, truncated or corrupt file, something that is no image,
or an image above the pixel limit. PNG files are checked chunk by chunk
(lengths, CRCs, the closing IEND chunk) before decoding, because a decoder may
accept a file cut after its last complete row and hand back partial data.

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
import os
import re
import uuid
import zlib

import cv2
import numpy as np

__all__ = ["ImageReadError", "ImageInfo", "MAX_PIXELS", "read_rgba", "write_png_atomic", "write_bytes_atomic",
           "write_json_atomic", "remove_stale_temps", "is_temp_name"]  # fmt: skip

MAX_PIXELS = 8192 * 8192  # default limit; Layer Diffusion outputs are about 1 megapixel
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_COLOUR_TYPES = {0: "gray", 2: "RGB", 3: "palette", 4: "gray+alpha", 6: "RGBA"}
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
    """

    height: int
    width: int
    mode: str
    bit_depth: int
    alpha_only: bool
    notes: tuple = ()

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["notes"] = list(self.notes)
        return d


def _png_header(path, data) -> dict:
    """Walk the PNG chunks (length, CRC, IEND); return the IHDR fields or raise ImageReadError."""
    view, pos, header = memoryview(data), len(_PNG_SIG), None
    while True:
        if pos + 8 > len(data):
            raise ImageReadError(path, f"truncated PNG: file ends after {len(data)} bytes without an IEND chunk")
        length = int.from_bytes(view[pos : pos + 4], "big")
        kind = bytes(view[pos + 4 : pos + 8])
        end = pos + 12 + length
        if length > 0x7FFFFFFF or not kind.isalpha():
            raise ImageReadError(path, f"corrupt PNG: invalid chunk header at byte {pos}")
        if end > len(data):
            raise ImageReadError(path, f"truncated PNG: {kind.decode()} chunk at byte {pos} is cut short "
                                       f"(file has {len(data)} bytes, chunk needs {end})")  # fmt: skip
        if zlib.crc32(view[pos + 4 : end - 4]) != int.from_bytes(view[end - 4 : end], "big"):
            raise ImageReadError(path, f"corrupt PNG: CRC mismatch in the {kind.decode()} chunk at byte {pos}")
        if header is None:
            if kind != b"IHDR" or length != 13:
                raise ImageReadError(path, "corrupt PNG: the first chunk is not a valid IHDR")
            f = view[pos + 8 : pos + 21]
            header = dict(width=int.from_bytes(f[0:4], "big"), height=int.from_bytes(f[4:8], "big"),
                          bit_depth=f[8], colour_type=f[9])  # fmt: skip
        if kind == b"IEND":
            return header
        pos = end


def _check_size(path, height: int, width: int, max_pixels) -> None:
    if max_pixels is not None and height * width > max_pixels:
        raise ImageReadError(path, f"image of {width}x{height} = {width * height:,} pixels is above the limit of "
                                   f"{max_pixels:,} pixels (raise max_pixels / --max-pixels to allow it)")  # fmt: skip


def _read_bytes(path, max_pixels) -> bytes:
    if not os.path.exists(path):
        raise ImageReadError(path, "no such file")
    if not os.path.isfile(path):
        raise ImageReadError(path, "not a regular file")
    size = os.path.getsize(path)
    if size == 0:
        raise ImageReadError(path, "empty file")
    # No image format stores more than 8 bytes per pixel (16-bit RGBA) plus headers:
    # a bigger file cannot be an image under the limit, so it is not read into memory.
    if max_pixels is not None and size > 8 * max_pixels + (1 << 20):
        raise ImageReadError(path, f"file of {size:,} bytes is too large for an image under the pixel limit")
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise ImageReadError(path, f"cannot read: {exc.strerror or exc}") from exc


def _to_8bit(im: np.ndarray) -> np.ndarray:
    # Round to nearest: v8 = round(v16 * 255 / 65535), exact in integers.
    return ((im.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def read_rgba(path, max_pixels: int | None = MAX_PIXELS):
    """Read an image as (H, W, 4) uint8 RGBA for refinement.

    Parameters
    ----------
    path : str or os.PathLike
    max_pixels : int or None
        Refuse images with more pixels (checked from the PNG header, before
        decoding; after decoding for other formats). None disables the limit.

    Returns
    -------
    rgba : (H, W, 4) uint8 array, RGBA order, straight (not premultiplied) colour
    info : ImageInfo
        The file's mode and depth. A 16-bit file is converted to 8 bits by
        rounding (``round(v * 255 / 65535)``) and refined at 8 bits; its
        ``notes`` say so. A grayscale file without alpha is taken as an alpha
        matte: ``rgba`` is white with that alpha and ``info.alpha_only`` is True.
        Gray+alpha files keep their gray as colour.

    Raises
    ------
    ImageReadError
        With the reason: no such file, empty, truncated or corrupt PNG, not an
        image, RGB without alpha, unsupported sample type, above the limit.

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
    ldmatte.io.ImageReadError: ...: RGB image without an alpha channel: nothing to refine ...
    """
    path = os.fspath(path)
    if max_pixels is not None and (isinstance(max_pixels, bool) or int(max_pixels) < 1):
        raise ValueError(f"max_pixels must be a positive integer or None, got {max_pixels!r}")
    data = _read_bytes(path, max_pixels)
    header = None
    if data.startswith(_PNG_SIG):
        header = _png_header(path, data)
        _check_size(path, header["height"], header["width"], max_pixels)
    im = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if im is None:
        raise ImageReadError(path, "corrupt PNG: the image data does not decode" if header else "not an image "
                             "(unknown format or undecodable data)")  # fmt: skip
    if header is None:
        _check_size(path, im.shape[0], im.shape[1], max_pixels)
    elif im.shape[:2] != (header["height"], header["width"]):
        raise ImageReadError(path, f"corrupt PNG: decoded {im.shape[1]}x{im.shape[0]}, header says "
                                   f"{header['width']}x{header['height']}")  # fmt: skip
    return _convert(path, im, header)


def _convert(path, im: np.ndarray, header):
    mode = _COLOUR_TYPES.get(header["colour_type"], "other") if header else "other"
    depth = int(header["bit_depth"]) if header else im.dtype.itemsize * 8
    channels = 1 if im.ndim == 2 else im.shape[2]
    if channels == 3:
        raise ImageReadError(path, "RGB image without an alpha channel: nothing to refine (save it as RGBA, "
                                   "or the matte alone as a grayscale PNG)")  # fmt: skip
    if channels not in (1, 4):
        raise ImageReadError(path, f"unsupported image with {channels} channels")
    notes = []
    if im.dtype == np.uint16:
        im = _to_8bit(im)
        notes.append("16-bit input converted to 8 bits by rounding: refined at 8 bits")
    elif im.dtype != np.uint8:
        raise ImageReadError(path, f"unsupported sample type {im.dtype} (need 8 or 16 bits per sample)")
    if channels == 1:
        im = im.reshape(im.shape[:2])
        rgba = np.empty(im.shape + (4,), np.uint8)
        rgba[..., :3] = 255  # white: a matte has no colour, and white shows it as is on any background
        rgba[..., 3] = im
        notes.append("grayscale image without alpha taken as an alpha matte (colour white)")
        return rgba, ImageInfo(im.shape[0], im.shape[1], mode, depth, True, tuple(notes))
    rgba = cv2.cvtColor(im, cv2.COLOR_BGRA2RGBA)
    return rgba, ImageInfo(im.shape[0], im.shape[1], mode, depth, False, tuple(notes))


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
        raise RuntimeError(f"PNG encoding failed for {os.fspath(path)}")
    write_bytes_atomic(path, buf.tobytes(), durable)


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
