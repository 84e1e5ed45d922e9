"""Image headers read from the bytes, before any decoder runs: format, size, channels, and what would be lost.

:func:`parse` recognises a file by its first bytes (never by its name: a TIFF
renamed ``.png`` is a TIFF) and reads the size from the header of PNG, JPEG,
TIFF (and BigTIFF), WebP and BMP, so that a file claiming billions of pixels is
refused before a decoder allocates them. Other formats are named and refused.

For PNG the chunks are checked as well (lengths, CRCs, IHDR fields, chunk
order, the closing IEND) and the file handed to the decoder keeps only the
chunks that shape the pixels (IHDR, PLTE, a valid tRNS, IDAT, IEND): libpng
then has nothing to warn about in the others (it prints its warnings to stderr
without naming the file), and what was dropped that matters is said in
``notes`` (an ICC profile, the frames of an animated PNG, an invalid tRNS).
"""
from __future__ import annotations

import dataclasses
import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_MAX_SIDE = 1_000_000  # libpng's default user limit on width and height (PNG_USER_WIDTH_MAX)
_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
PNG_COLOUR_TYPES = {0: "gray", 2: "RGB", 3: "palette", 4: "gray+alpha", 6: "RGBA"}
_PNG_PIXELS = {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}
ICC_NOTE = "embedded ICC colour profile ignored: colours are used as stored, not converted to sRGB"

# Formats recognised only to be named in the refusal.
_OTHER_MAGIC = [(b"GIF87a", "GIF"), (b"GIF89a", "GIF"), (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
                (b"\xffO\xffQ", "JPEG 2000"), (b"v/1\x01", "OpenEXR"), (b"#?RADIANCE", "Radiance HDR"),
                (b"#?RGBE", "Radiance HDR"), (b"8BPS", "Photoshop PSD"), (b"\x00\x00\x01\x00", "ICO"),
                (b"\xff\x0a", "JPEG XL"), (b"\x00\x00\x00\x0cJXL ", "JPEG XL"), (b"qoif", "QOI"),
                (b"DDS ", "DirectDraw Surface"), (b"%PDF", "PDF")]  # fmt: skip
SUPPORTED = "PNG, JPEG, TIFF, WebP and BMP"


class HeaderError(ValueError):
    """The file cannot be decoded safely; the message is the reason in a few words."""


@dataclasses.dataclass
class Header:
    """What the header says. ``channels`` is 1 (gray), 3 (colour), 4 (colour + alpha) or None (decided by the
    decoder); ``data`` the bytes to decode (for PNG possibly without some ancillary chunks)."""

    format: str
    width: int
    height: int
    bit_depth: int | None
    channels: int | None
    mode: str | None
    notes: list
    data: bytes
    transparency: bool = False  # a gray PNG's tRNS chunk, which the decoder does not apply


def sniff(data: bytes) -> str | None:
    """The format named by the first bytes: "PNG", "JPEG", "TIFF", "WebP", "BMP", another name, or None."""
    if data.startswith(PNG_SIGNATURE):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[:2] == b"BM":
        return "BMP"
    for magic, name in _OTHER_MAGIC:
        if data.startswith(magic):
            return name
    if data[4:8] == b"ftyp":
        return "HEIF/AVIF"
    if len(data) > 2 and data[0:1] == b"P" and data[1:2] in b"1234567f" and data[2:3] in b" \t\r\n":
        return "PNM"
    return None


def parse(data: bytes) -> Header:
    """The header of ``data``; raises HeaderError for a truncated, corrupt or unsupported file."""
    fmt = sniff(data)
    parser = {"PNG": _png, "JPEG": _jpeg, "TIFF": _tiff, "WebP": _webp, "BMP": _bmp}.get(fmt)
    if parser is None:
        if fmt is None:
            raise HeaderError(f"not an image (unknown format; ldmatte reads {SUPPORTED})")
        raise HeaderError(f"unsupported image format {fmt} (ldmatte reads {SUPPORTED}): convert it to PNG")
    try:
        return parser(data)
    except (struct.error, IndexError) as exc:  # a field past the end of the file
        raise HeaderError(f"truncated {fmt}: the header ends early") from exc


# --- PNG --------------------------------------------------------------------------------------------------------


def _png(data: bytes) -> Header:
    view, pos, ihdr = memoryview(data), len(PNG_SIGNATURE), None
    keep, dropped, notes = [], False, []
    plte_entries, seen_idat, after_idat, trns_seen, frames, frame_before_idat = None, False, False, False, 0, False
    while True:
        if pos + 8 > len(data):
            raise HeaderError(f"truncated PNG: file ends after {len(data)} bytes without an IEND chunk")
        length = int.from_bytes(view[pos : pos + 4], "big")
        kind = bytes(view[pos + 4 : pos + 8])
        end = pos + 12 + length
        if length > 0x7FFFFFFF or not kind.isalpha():
            raise HeaderError(f"corrupt PNG: invalid chunk header at byte {pos}")
        if end > len(data):
            raise HeaderError(f"truncated PNG: {kind.decode()} chunk at byte {pos} is cut short "
                              f"(file has {len(data)} bytes, chunk needs {end})")  # fmt: skip
        if zlib.crc32(view[pos + 4 : end - 4]) != int.from_bytes(view[end - 4 : end], "big"):
            raise HeaderError(f"corrupt PNG: CRC mismatch in the {kind.decode()} chunk at byte {pos}")
        body = view[pos + 8 : end - 4]
        if ihdr is None:
            if kind != b"IHDR" or length != 13:
                raise HeaderError("corrupt PNG: the first chunk is not a valid IHDR")
            ihdr = _png_ihdr(body)
        elif kind == b"IHDR":
            raise HeaderError(f"corrupt PNG: a second IHDR chunk at byte {pos}")
        ctype = ihdr["colour_type"]
        take = kind in _PNG_PIXELS
        if kind[0:1].isupper() and not take:
            raise HeaderError(f"unsupported PNG: unknown critical chunk {kind.decode()} at byte {pos}")
        if kind == b"IDAT":
            if after_idat:
                raise HeaderError(f"corrupt PNG: IDAT chunks are not consecutive (another at byte {pos})")
            if ctype == 3 and plte_entries is None:
                raise HeaderError("corrupt PNG: a palette image without a PLTE chunk before its data")
            seen_idat = True
        elif seen_idat:
            after_idat = True
        if kind == b"PLTE":
            if seen_idat or plte_entries is not None:
                raise HeaderError(f"corrupt PNG: PLTE chunk out of place at byte {pos}")
            entries = length // 3
            if length % 3 or not 1 <= entries <= 256 or (ctype == 3 and entries > 1 << ihdr["bit_depth"]):
                raise HeaderError(f"corrupt PNG: invalid PLTE chunk of {length} bytes")
            plte_entries = entries
            if ctype != 3:  # only a suggested palette for colour images; invalid in gray ones
                take = False
                if ctype in (0, 4):
                    notes.append("PLTE chunk in a grayscale PNG ignored")
        elif kind == b"tRNS":
            why = _png_trns_problem(ctype, length, plte_entries, seen_idat, trns_seen)
            trns_seen = True
            if why:
                take = False
                notes.append(f"tRNS (transparency) chunk ignored: {why}")
        elif kind == b"acTL" and length >= 8:
            frames = int.from_bytes(body[0:4], "big")
        elif kind == b"fcTL" and not seen_idat:
            frame_before_idat = True
        elif kind == b"iCCP":
            notes.append(ICC_NOTE)
        if take:
            keep.append((pos, end))
        else:
            dropped = True
        if kind == b"IEND":
            break
        pos = end
    if not seen_idat:
        raise HeaderError("corrupt PNG: no image data (IDAT chunk)")
    if frames:
        notes.append(f"animated PNG (APNG) with {frames} frames: only "
                     + ("the first frame is used" if frame_before_idat else
                        "its default image (not one of the frames) is used"))  # fmt: skip
    if dropped:
        data = b"".join([PNG_SIGNATURE, *(view[a:b] for a, b in keep)])
    channels = {0: 1, 2: 3, 3: 3, 4: 4, 6: 4}[ctype]
    if ctype in (0, 2, 3) and any(bytes(view[a + 4 : a + 8]) == b"tRNS" for a, _ in keep):
        channels = None  # transparency from tRNS: the decoder may add an alpha channel
    mode = PNG_COLOUR_TYPES[ctype]
    return Header("PNG", ihdr["width"], ihdr["height"], ihdr["bit_depth"], channels, mode, notes, data,
                  transparency=ctype == 0 and channels is None)  # fmt: skip


def _png_ihdr(f) -> dict:
    width, height, depth, ctype, compression, filtering, interlace = struct.unpack(">IIBBBBB", bytes(f))
    if not (1 <= width <= 0x7FFFFFFF and 1 <= height <= 0x7FFFFFFF):
        raise HeaderError(f"corrupt PNG: invalid size {width}x{height} in IHDR")
    if ctype not in _PNG_DEPTHS or depth not in _PNG_DEPTHS[ctype]:
        raise HeaderError(f"corrupt PNG: invalid colour type {ctype} with bit depth {depth} in IHDR")
    if compression or filtering or interlace > 1:
        raise HeaderError("corrupt PNG: unknown compression, filter or interlace method in IHDR")
    return dict(width=width, height=height, bit_depth=depth, colour_type=ctype)


def _png_trns_problem(ctype: int, length: int, plte_entries, seen_idat: bool, seen: bool) -> str | None:
    if seen:
        return "a second tRNS chunk"
    if seen_idat:
        return "it comes after the image data"
    if ctype in (4, 6):
        return "the image has an alpha channel"
    if ctype == 0 and length != 2 or ctype == 2 and length != 6:
        return f"wrong length {length}"
    if ctype == 3 and (plte_entries is None or not 1 <= length <= plte_entries):
        return f"{length} entries for a palette of {plte_entries or 0}"
    return None


# --- JPEG -------------------------------------------------------------------------------------------------------

_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(data: bytes) -> Header:
    pos, notes, icc = 2, [], False
    while True:
        pos = data.find(b"\xff", pos)  # bytes between segments are tolerated by decoders
        while 0 <= pos < len(data) and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if not 0 <= pos < len(data):
            raise HeaderError("truncated JPEG: the file ends before its frame header")
        marker = data[pos]
        pos += 1
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a segment
            continue
        if marker in (0xD9, 0xDA):
            raise HeaderError("corrupt JPEG: no frame header before the image data")
        seg_len = struct.unpack_from(">H", data, pos)[0]
        if seg_len < 2 or pos + seg_len > len(data):
            raise HeaderError(f"truncated JPEG: a segment at byte {pos - 2} runs past the end of the file")
        if marker == 0xE2 and data[pos + 2 : pos + 14] == b"ICC_PROFILE\0":
            icc = True
        if marker in _JPEG_SOF:
            depth, height, width, ncomp = struct.unpack_from(">BHHB", data, pos + 2)
            break
        pos += seg_len
    if height == 0 or width == 0:
        raise HeaderError("unsupported JPEG: its height is given after the image data (DNL marker)")
    if data.rfind(b"\xff\xd9") < pos:
        raise HeaderError("truncated JPEG: no end-of-image marker (the file was cut short)")
    if icc:
        notes.append(ICC_NOTE)
    if ncomp not in (1, 3, 4):
        raise HeaderError(f"unsupported JPEG with {ncomp} components")
    mode = {1: "gray", 3: "colour", 4: "CMYK"}[ncomp]
    return Header("JPEG", width, height, depth, 1 if ncomp == 1 else 3, mode, notes, data)


# --- TIFF -------------------------------------------------------------------------------------------------------

_TIFF_TYPES = {1: "B", 3: "H", 4: "I", 16: "Q", 6: "b", 8: "h", 9: "i", 17: "q"}  # integer field types


def _tiff(data: bytes) -> Header:
    order = "<" if data[:2] == b"II" else ">"
    big = struct.unpack_from(order + "H", data, 2)[0] == 43
    if big:
        if struct.unpack_from(order + "HH", data, 4) != (8, 0):
            raise HeaderError("corrupt TIFF: invalid BigTIFF header")
        ifd = struct.unpack_from(order + "Q", data, 8)[0]
        count_fmt, entry_size, inline, off_fmt = "Q", 20, 8, "Q"
    else:
        ifd = struct.unpack_from(order + "I", data, 4)[0]
        count_fmt, entry_size, inline, off_fmt = "H", 12, 4, "I"
    head = struct.calcsize(count_fmt)
    if ifd < 8 or ifd + head > len(data):
        raise HeaderError(f"truncated TIFF: its first directory (at byte {ifd}) lies past the end of the file")
    n = struct.unpack_from(order + count_fmt, data, ifd)[0]
    entries_end = ifd + head + n * entry_size
    if n == 0 or entries_end + struct.calcsize(off_fmt) > len(data):
        raise HeaderError("truncated TIFF: its first directory is cut short")
    tags = {}
    for i in range(n):
        at = ifd + head + i * entry_size
        tag, ftype = struct.unpack_from(order + "HH", data, at)
        count = struct.unpack_from(order + ("Q" if big else "I"), data, at + 4)[0]
        code = _TIFF_TYPES.get(ftype)
        if code is None:
            tags[tag] = None  # not an integer field: only its presence matters (the ICC profile)
            continue
        size = struct.calcsize(code) * count
        where = at + entry_size - inline
        if size > inline:
            where = struct.unpack_from(order + off_fmt, data, where)[0]
            if where + size > len(data):
                raise HeaderError(f"truncated TIFF: field {tag} lies past the end of the file")
        tags[tag] = struct.unpack_from(f"{order}{count}{code}", data, where) if count < 1 << 20 else None
    width, height = (tags.get(256) or (0,))[0], (tags.get(257) or (0,))[0]
    if width <= 0 or height <= 0:
        raise HeaderError("corrupt TIFF: no image width or height in its first directory")
    for offsets_tag, counts_tag in ((273, 279), (324, 325)):  # strips, tiles
        offsets, counts = tags.get(offsets_tag), tags.get(counts_tag)
        if offsets and counts and len(offsets) == len(counts):
            if max(o + c for o, c in zip(offsets, counts)) > len(data):
                raise HeaderError("truncated TIFF: its image data runs past the end of the file")
    notes = []
    if 34675 in tags:
        notes.append(ICC_NOTE)
    next_ifd = struct.unpack_from(order + off_fmt, data, entries_end)[0]
    if next_ifd:
        notes.append("multi-page TIFF: only the first page is used")
    depth = (tags.get(258) or (None,))[0]
    return Header("TIFF", int(width), int(height), depth, None, None, notes, data)


# --- WebP -------------------------------------------------------------------------------------------------------


def _webp(data: bytes) -> Header:
    kind, notes, channels = data[12:16], [], None
    body = 20
    if kind == b"VP8 ":
        if data[body + 3 : body + 6] != b"\x9d\x01\x2a":
            raise HeaderError("corrupt WebP: invalid VP8 frame header")
        w, h = struct.unpack_from("<HH", data, body + 6)
        width, height, channels = w & 0x3FFF, h & 0x3FFF, 3  # lossy without ALPH: no alpha
    elif kind == b"VP8L":
        if data[body] != 0x2F:
            raise HeaderError("corrupt WebP: invalid lossless header")
        bits = struct.unpack_from("<I", data, body + 1)[0]
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        channels = 4 if (bits >> 28) & 1 else 3
    elif kind == b"VP8X":
        if len(data) < body + 10:
            raise IndexError  # reported as a truncated header
        flags = data[body]
        width = 1 + int.from_bytes(data[body + 4 : body + 7], "little")
        height = 1 + int.from_bytes(data[body + 7 : body + 10], "little")
        if flags & 0x20:
            notes.append(ICC_NOTE)
        if flags & 0x02:
            notes.append("animated WebP: only the first frame is used")
    else:
        raise HeaderError(f"unsupported WebP chunk {kind!r}")
    if width == 0 or height == 0:
        raise HeaderError("corrupt WebP: zero width or height")
    declared = struct.unpack_from("<I", data, 4)[0] + 8
    if declared > len(data):
        raise HeaderError(f"truncated WebP: the file has {len(data)} bytes, its header says {declared}")
    return Header("WebP", width, height, 8, channels, None, notes, data)


# --- BMP --------------------------------------------------------------------------------------------------------


def _bmp(data: bytes) -> Header:
    dib = struct.unpack_from("<I", data, 14)[0]
    if dib == 12:
        width, height, _planes, bpp = struct.unpack_from("<HHHH", data, 18)
    elif dib >= 40:
        width, height, _planes, bpp = struct.unpack_from("<iiHH", data, 18)
        height = abs(height)  # negative: rows stored top-down
    else:
        raise HeaderError(f"corrupt BMP: unknown header size {dib}")
    if width <= 0 or height <= 0:
        raise HeaderError(f"corrupt BMP: invalid size {width}x{height}")
    offset = struct.unpack_from("<I", data, 10)[0]
    compression = struct.unpack_from("<I", data, 30)[0] if dib >= 40 else 0
    row_bytes = (width * bpp + 31) // 32 * 4
    if offset > len(data) or compression in (0, 3) and offset + row_bytes * height > len(data):
        raise HeaderError("truncated BMP: its pixel data runs past the end of the file")
    return Header("BMP", width, height, bpp, None, None, [], data)
