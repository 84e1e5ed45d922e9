"""ldmatte.io: what read_rgba accepts and how it converts, every way a file can be bad, atomic writes."""
import os
import struct
import subprocess
import sys
import zlib

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ldmatte.io import (
    DECODER_MAX_PIXELS,
    MAX_PIXELS,
    ImageReadError,
    check_max_pixels,
    is_temp_name,
    read_image,
    read_rgba,
    remove_stale_temps,
    write_bytes_atomic,
    write_json_atomic,
    write_png_atomic,
)


def _bgra(rgba):
    return cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width, height, idat: bytes, colour_type=6, depth=8) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _to8(x):
    return ((x.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


@pytest.fixture
def rgba(rng):
    return rng.integers(0, 256, (23, 31, 4), dtype=np.uint8)


def test_rgba_round_trip_in_rgba_order(tmp_path, rgba):
    cv2.imwrite(str(tmp_path / "a.png"), _bgra(rgba))
    out, info = read_rgba(tmp_path / "a.png")
    assert out.dtype == np.uint8 and out.flags.c_contiguous and np.array_equal(out, rgba)
    assert (info.height, info.width, info.mode, info.bit_depth, info.alpha_only, info.notes) == (
        23, 31, "RGBA", 8, False, ())  # fmt: skip
    assert info.to_dict()["notes"] == []


def test_sixteen_bit_is_rounded_to_eight_and_says_so(tmp_path, rng):
    deep = rng.integers(0, 65536, (9, 7, 4), dtype=np.uint16)
    deep[0, :4, 0] = (0, 128, 129, 65535)  # rounding edges: 128 -> 0.498 -> 0, 129 -> 0.502 -> 1
    cv2.imwrite(str(tmp_path / "deep.png"), deep)
    out, info = read_rgba(tmp_path / "deep.png")
    assert np.array_equal(out, cv2.cvtColor(_to8(deep), cv2.COLOR_BGRA2RGBA))
    assert out[0, :4, 2].tolist() == [0, 0, 1, 255]
    assert info.bit_depth == 16 and any("refined at 8 bits" in n for n in info.notes)


def test_grayscale_is_an_alpha_matte_with_white_colour(tmp_path, rgba):
    cv2.imwrite(str(tmp_path / "g.png"), rgba[..., 0])
    out, info = read_rgba(tmp_path / "g.png")
    assert info.alpha_only and info.mode == "gray"
    assert np.array_equal(out[..., 3], rgba[..., 0]) and (out[..., :3] == 255).all()
    cv2.imwrite(str(tmp_path / "g16.png"), rgba[..., 0].astype(np.uint16) * 257)
    out16, info16 = read_rgba(tmp_path / "g16.png")
    assert np.array_equal(out16, out) and info16.bit_depth == 16 and len(info16.notes) == 2


def test_gray_alpha_and_palette_transparency_are_rgba(tmp_path, rgba):
    Image.fromarray(rgba[..., :2], "LA").save(tmp_path / "la.png")
    out, info = read_rgba(tmp_path / "la.png")
    assert info.mode == "gray+alpha" and not info.alpha_only
    assert all(np.array_equal(out[..., c], rgba[..., 0]) for c in range(3))
    assert np.array_equal(out[..., 3], rgba[..., 1])
    pal = Image.fromarray(rgba[..., :3]).convert("P")
    pal.save(tmp_path / "p.png", transparency=0)
    out, info = read_rgba(tmp_path / "p.png")
    assert info.mode == "palette" and out.shape == (23, 31, 4)
    assert np.array_equal(out[..., 3], np.where(np.asarray(pal) == 0, 0, 255))


@pytest.mark.parametrize("kind", ["rgb", "palette"])
def test_colour_without_alpha_is_refused(tmp_path, rgba, kind):
    path = tmp_path / "c.png"
    if kind == "rgb":
        cv2.imwrite(str(path), rgba[..., :3])
    else:
        Image.fromarray(rgba[..., :3]).convert("P").save(path)
    with pytest.raises(ImageReadError, match="without an alpha channel") as err:
        read_rgba(path)
    assert isinstance(err.value, ValueError) and err.value.path == str(path) and "nothing to refine" in err.value.reason


def test_missing_empty_folder_and_non_images(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("not a picture at all")
    (tmp_path / "dir.png").mkdir()
    for name, reason in [("missing.png", "no such file"), ("empty.png", "empty file"), ("text.png", "not an image"),
                         ("dir.png", "not a regular file")]:  # fmt: skip
        with pytest.raises(ImageReadError, match=reason):
            read_rgba(tmp_path / name)


def test_every_truncation_is_detected(tmp_path, rng):
    """A file cut anywhere (a writer killed mid-way) is refused, never decoded into partial data."""
    im = rng.integers(0, 256, (40, 60, 4), dtype=np.uint8)
    data = cv2.imencode(".png", im)[1].tobytes()
    path = tmp_path / "cut.png"
    for cut in sorted({1, 7, 8, 20, 33, 40, *range(40, len(data), 97), len(data) - 12, len(data) - 1}):
        path.write_bytes(data[:cut])
        with pytest.raises(ImageReadError, match="truncated|not an image"):
            read_rgba(path)


def test_corruption_is_detected(tmp_path, rgba):
    data = bytearray(cv2.imencode(".png", rgba)[1].tobytes())
    data[len(data) // 2] ^= 0x55
    (tmp_path / "flip.png").write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match="CRC mismatch"):
        read_rgba(tmp_path / "flip.png")
    raw = b"".join(b"\0" + bytes(40 * 4) for _ in range(10))
    for name, idat in [("short_stream", zlib.compress(raw)[:20]), ("short_rows", zlib.compress(raw[:100])),
                       ("garbage", b"\x78\x9c" + bytes(range(200)))]:  # fmt: skip
        (tmp_path / f"{name}.png").write_bytes(_png(40, 10, idat))  # chunks are valid: the decoder must fail
        with pytest.raises(ImageReadError, match="corrupt PNG"):
            read_rgba(tmp_path / f"{name}.png")
    bad_first = b"\x89PNG\r\n\x1a\n" + _chunk(b"IDAT", b"x") + _chunk(b"IEND", b"")
    (tmp_path / "noihdr.png").write_bytes(bad_first)
    with pytest.raises(ImageReadError, match="IHDR"):
        read_rgba(tmp_path / "noihdr.png")


def test_pixel_limit_is_checked_before_decoding(tmp_path, rgba):
    cv2.imwrite(str(tmp_path / "a.png"), rgba)
    with pytest.raises(ImageReadError, match="above the limit of 100 pixels"):
        read_rgba(tmp_path / "a.png", max_pixels=100)
    assert read_rgba(tmp_path / "a.png", max_pixels=23 * 31)[0].shape == (23, 31, 4)
    # A header claiming 10^10 pixels over a few bytes: refused from the header alone.
    (tmp_path / "bomb.png").write_bytes(_png(100_000, 100_000, zlib.compress(b"\0" * 1000)))
    with pytest.raises(ImageReadError, match="above the limit"):
        read_rgba(tmp_path / "bomb.png")
    assert MAX_PIXELS >= 4096 * 4096
    with pytest.raises(ValueError, match="max_pixels"):
        read_rgba(tmp_path / "a.png", max_pixels=0)


def test_other_formats_and_the_limit_after_decoding(tmp_path, rgba):
    cv2.imwrite(str(tmp_path / "a.tiff"), _bgra(rgba))
    out, info = read_rgba(tmp_path / "a.tiff")
    assert np.array_equal(out, rgba) and info.mode == "RGBA" and info.format == "TIFF"
    with pytest.raises(ImageReadError, match="above the limit"):
        read_rgba(tmp_path / "a.tiff", max_pixels=50)


def test_dataset_reader_error_is_the_same_family():
    from ldmatte.dataset.layout import ImageReadError as LayoutError

    assert issubclass(LayoutError, ImageReadError)


@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 1), (5, 7, 3), (5, 7, 4), (1, 9, 4), (9, 1)])
def test_write_png_round_trip(tmp_path, rng, shape):
    im = rng.integers(0, 256, shape, dtype=np.uint8)
    write_png_atomic(tmp_path / "x.png", im)
    back = cv2.imread(str(tmp_path / "x.png"), cv2.IMREAD_UNCHANGED)
    if len(shape) == 3 and shape[2] > 1:
        back = cv2.cvtColor(back, cv2.COLOR_BGR2RGB if shape[2] == 3 else cv2.COLOR_BGRA2RGBA)
    assert np.array_equal(back, im.reshape(back.shape))
    assert os.listdir(tmp_path) == ["x.png"]


def test_write_png_validation(tmp_path):
    with pytest.raises(TypeError, match="uint8"):
        write_png_atomic(tmp_path / "x.png", np.zeros((4, 4), np.float32))
    for bad in (np.zeros((4, 4, 2), np.uint8), np.zeros((0, 4), np.uint8), np.zeros(4, np.uint8)):
        with pytest.raises(ValueError, match="shape"):
            write_png_atomic(tmp_path / "x.png", bad)
    assert os.listdir(tmp_path) == []


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "keep.json"
    write_json_atomic(target, {"v": 1})

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_bytes_atomic(target, b"new")
    monkeypatch.undo()
    assert target.read_text() == '{\n  "v": 1\n}\n' and os.listdir(tmp_path) == ["keep.json"]
    with pytest.raises(FileNotFoundError):
        write_bytes_atomic(tmp_path / "no" / "such" / "folder.bin", b"x")


def test_stale_temps_of_dead_writers_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    (tmp_path / "sub").mkdir()
    stale = tmp_path / "sub" / f".a.png.ldmatte-tmp-{pid}-0123abcd"
    mine = tmp_path / f".b.png.ldmatte-tmp-{os.getpid()}-0123abcd"
    other = tmp_path / ".hidden-not-ours"
    for p in (stale, mine, other):
        p.write_bytes(b"x")
    assert is_temp_name(stale.name) and is_temp_name(mine.name) and not is_temp_name(other.name)
    assert remove_stale_temps(tmp_path) == [str(stale)]
    assert sorted(os.listdir(tmp_path)) == sorted([mine.name, other.name, "sub"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(h=st.integers(1, 12), w=st.integers(1, 12), seed=st.integers(0, 2**32 - 1), deep=st.booleans())
def test_property_write_then_read(tmp_path, h, w, seed, deep):
    r = np.random.default_rng(seed)
    if deep:
        im16 = r.integers(0, 65536, (h, w, 4), dtype=np.uint16)
        cv2.imwrite(str(tmp_path / "p.png"), im16)
        expected = cv2.cvtColor(_to8(im16), cv2.COLOR_BGRA2RGBA)
    else:
        expected = r.integers(0, 256, (h, w, 4), dtype=np.uint8)
        write_png_atomic(tmp_path / "p.png", expected)
    assert np.array_equal(read_rgba(tmp_path / "p.png")[0], expected)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), frac=st.floats(0.0, 0.999))
def test_property_any_prefix_is_refused(tmp_path, seed, frac):
    im = np.random.default_rng(seed).integers(0, 256, (16, 16, 4), dtype=np.uint8)
    data = cv2.imencode(".png", im)[1].tobytes()
    (tmp_path / "t.png").write_bytes(data[: int(frac * len(data))])
    with pytest.raises(ImageReadError):
        read_rgba(tmp_path / "t.png")


@pytest.mark.parametrize("name", ["ldmatte.io", "ldmatte.contact_sheet"])
def test_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


# --- every format checked from its header, before decoding ------------------------------------------------------


@pytest.fixture
def no_decoding(monkeypatch):
    """Fails the test if the decoder is called: the file must be refused from its header alone."""

    def refuse(*args, **kwargs):
        raise AssertionError("cv2.imdecode was called")

    monkeypatch.setattr(cv2, "imdecode", refuse)


def _patched(data: bytes, at: int, fmt: str, *values) -> bytes:
    return data[:at] + struct.pack(fmt, *values) + data[at + struct.calcsize(fmt) :]


def _tiff_with_size(im, width, height) -> bytes:
    """A real TIFF whose first directory claims another size (the strips stay small)."""
    data = cv2.imencode(".tiff", im)[1].tobytes()
    assert data[:2] == b"II"
    ifd = struct.unpack_from("<I", data, 4)[0]
    for i in range(struct.unpack_from("<H", data, ifd)[0]):
        at = ifd + 2 + 12 * i
        tag, ftype = struct.unpack_from("<HH", data, at)
        if tag in (256, 257):
            value = width if tag == 256 else height
            data = _patched(data, at + 2, "<HII", 4, 1, value)  # a LONG
    return data


def _header_bombs(rgba):
    """(name, bytes) of files whose headers claim 60000x60000 or more pixels over a few KB."""
    tiff = _tiff_with_size(_bgra(rgba), 60_000, 60_000)
    jpeg = cv2.imencode(".jpg", rgba[..., 0])[1].tobytes()
    sof = jpeg.index(b"\xff\xc0")
    jpeg = _patched(jpeg, sof + 5, ">HH", 60_000, 60_000)
    webp = cv2.imencode(".webp", _bgra(rgba), [cv2.IMWRITE_WEBP_QUALITY, 101])[1].tobytes()
    assert webp[12:16] == b"VP8L"
    bits = struct.unpack_from("<I", webp, 21)[0]
    webp = _patched(webp, 21, "<I", (bits & ~0xFFFFFFF) | 0x3FFF | (0x3FFF << 14))
    bmp = cv2.imencode(".bmp", _bgra(rgba))[1].tobytes()
    bmp = _patched(bmp, 18, "<ii", 60_000, 60_000)
    return {"tiff": tiff, "jpeg": jpeg, "webp": webp, "bmp": bmp}


@pytest.mark.parametrize("kind", ["tiff", "jpeg", "webp", "bmp"])
def test_every_format_is_refused_from_its_header(tmp_path, rgba, kind, no_decoding):
    """The issue's case: a small TIFF renamed .png claimed 3.3 GB of pixels and was decoded before being refused."""
    path = tmp_path / "renamed.png"  # the name says PNG: the first bytes decide
    path.write_bytes(_header_bombs(rgba)[kind])
    with pytest.raises(ImageReadError, match="above the limit|truncated BMP") as err:
        read_rgba(path)
    assert kind.upper()[:3] in err.value.reason.upper()
    with pytest.raises(ImageReadError):
        read_image(path)


def test_header_sizes_match_the_decoder(tmp_path, rgba):
    """Each format's header parser reads the size the decoder then finds (small real files of each format)."""
    files = {"a.tiff": _bgra(rgba), "a.webp": _bgra(rgba), "a.bmp": _bgra(rgba), "a.jpg": rgba[..., :3],
             "g.jpg": rgba[..., 0], "a.png": _bgra(rgba)}  # fmt: skip
    for name, im in files.items():
        path = tmp_path / name
        cv2.imwrite(str(path), im)
        out, info = read_image(path)
        assert out.shape[:2] == (23, 31) and (info.height, info.width) == (23, 31)
        assert info.format == {"tiff": "TIFF", "webp": "WebP", "bmp": "BMP", "jpg": "JPEG", "png": "PNG"}[name[2:]]
    out, _ = read_image(tmp_path / "a.jpg")
    assert np.array_equal(out, cv2.cvtColor(cv2.imread(str(tmp_path / "a.jpg")), cv2.COLOR_BGR2RGB))  # RGB order
    rgb, _ = read_image(tmp_path / "a.tiff")
    assert np.array_equal(rgb, rgba)


def test_colour_jpeg_refused_before_decoding_gray_jpeg_is_a_matte(tmp_path, rgba, monkeypatch):
    cv2.imwrite(str(tmp_path / "c.jpg"), rgba[..., :3])
    cv2.imwrite(str(tmp_path / "g.jpg"), rgba[..., 0])
    out, info = read_rgba(tmp_path / "g.jpg")
    assert info.alpha_only and info.format == "JPEG" and out.shape == (23, 31, 4)
    monkeypatch.setattr(cv2, "imdecode", lambda *a: pytest.fail("decoded"))
    with pytest.raises(ImageReadError, match="without an alpha channel"):
        read_rgba(tmp_path / "c.jpg")


@pytest.mark.parametrize("kind, cut, reason", [("jpg", 0.6, "truncated JPEG"), ("tiff", 0.5, "truncated TIFF"),
                                               ("webp", 0.5, "truncated WebP"), ("bmp", 0.5, "truncated BMP")])  # fmt: skip
def test_truncated_files_of_every_format(tmp_path, rgba, kind, cut, reason, no_decoding):
    im = rgba[..., :3] if kind == "jpg" else _bgra(rgba)
    data = cv2.imencode(f".{kind}", im)[1].tobytes()
    (tmp_path / "cut").write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(ImageReadError, match=reason):
        read_image(tmp_path / "cut")


@pytest.mark.parametrize("magic, name", [(b"GIF89a\x01\x00\x01\x00", "GIF"), (b"P6\n1 1\n255\nabc", "PNM"),
                                         (b"v/1\x01" + bytes(20), "OpenEXR")])  # fmt: skip
def test_other_formats_are_named_and_refused(tmp_path, magic, name, no_decoding):
    (tmp_path / "x.png").write_bytes(magic)
    with pytest.raises(ImageReadError, match=f"unsupported image format {name}.*PNG, JPEG, TIFF, WebP and BMP"):
        read_rgba(tmp_path / "x.png")


@pytest.mark.parametrize("value", [3_000_000_000, 3e9, 0, -1, True, 2.5, "100", np.int64(2**31)])
def test_max_pixels_is_validated(tmp_path, rgba, value):
    cv2.imwrite(str(tmp_path / "a.png"), _bgra(rgba))
    with pytest.raises(ValueError, match="max_pixels must be"):
        read_rgba(tmp_path / "a.png", max_pixels=value)
    with pytest.raises(ValueError, match="max_pixels must be"):
        check_max_pixels(value)


def test_max_pixels_valid_values(tmp_path, rgba):
    cv2.imwrite(str(tmp_path / "a.png"), _bgra(rgba))
    assert read_rgba(tmp_path / "a.png", max_pixels=None)[0].shape == (23, 31, 4)
    assert read_rgba(tmp_path / "a.png", max_pixels=np.int32(1000))[0].shape == (23, 31, 4)
    assert check_max_pixels(DECODER_MAX_PIXELS) == DECODER_MAX_PIXELS and check_max_pixels(None) is None


def test_very_wide_valid_png_is_refused_for_its_size_not_as_corrupt(tmp_path, capfd):
    """A valid 2,000,000x1 PNG: past what libpng reads per side. The reason says so; no libpng line on stderr."""
    row = b"\0" + bytes(4 * 2_000_000)
    (tmp_path / "wide.png").write_bytes(_png(2_000_000, 1, zlib.compress(row)))
    with pytest.raises(ImageReadError) as err:
        read_rgba(tmp_path / "wide.png")
    assert "corrupt" not in err.value.reason and "2,000,000x1 pixels is wider than 1,000,000" in err.value.reason
    (tmp_path / "tall.png").write_bytes(_png(1, 2_000_000, zlib.compress(b"\0\0\0\0\0" * 2_000_000)))
    with pytest.raises(ImageReadError, match="taller than 1,000,000"):
        read_rgba(tmp_path / "tall.png")
    assert "libpng" not in capfd.readouterr().err
    wide_ok = b"\0" + bytes(range(256)) * (4 * 100_000 // 256) + bytes(4 * 100_000 % 256)
    (tmp_path / "ok.png").write_bytes(_png(100_000, 1, zlib.compress(wide_ok)))
    assert read_rgba(tmp_path / "ok.png")[0].shape == (1, 100_000, 4)


def _raw_rgba(im):
    return b"".join(b"\0" + row.tobytes() for row in im)


def test_apng_is_noted_and_its_default_image_used(tmp_path, rgba, capfd):
    actl = _chunk(b"acTL", struct.pack(">II", 3, 0))
    fctl = _chunk(b"fcTL", struct.pack(">IIIIIHHBB", 0, 31, 23, 0, 0, 1, 10, 0, 0))
    ihdr = _chunk(b"IHDR", struct.pack(">IIBBBBB", 31, 23, 8, 6, 0, 0, 0))
    idat = _chunk(b"IDAT", zlib.compress(_raw_rgba(rgba)))
    frame2 = _chunk(b"fcTL", struct.pack(">IIIIIHHBB", 1, 31, 23, 0, 0, 1, 10, 0, 0)) + _chunk(
        b"fdAT", struct.pack(">I", 2) + zlib.compress(_raw_rgba(255 - rgba)))  # fmt: skip
    sig, end = b"\x89PNG\r\n\x1a\n", _chunk(b"IEND", b"")
    (tmp_path / "anim.png").write_bytes(sig + ihdr + actl + fctl + idat + frame2 + end)
    out, info = read_rgba(tmp_path / "anim.png")
    assert np.array_equal(out, rgba)
    assert any("animated PNG (APNG) with 3 frames: only the first frame is used" in n for n in info.notes)
    (tmp_path / "default.png").write_bytes(sig + ihdr + actl + idat + frame2 + end)  # default image not a frame
    out, info = read_rgba(tmp_path / "default.png")
    assert np.array_equal(out, rgba) and any("default image" in n for n in info.notes)
    assert info.to_dict()["notes"] == list(info.notes)
    assert "libpng" not in capfd.readouterr().err


def test_icc_profile_and_bad_ancillary_chunks_noted_without_libpng_warnings(tmp_path, rgba, capfd):
    """Chunks libpng would warn about (without naming the file) never reach it; what matters is noted."""
    ihdr = _chunk(b"IHDR", struct.pack(">IIBBBBB", 31, 23, 8, 6, 0, 0, 0))
    extras = (_chunk(b"iCCP", b"prof\0\0" + zlib.compress(b"not a profile")) + _chunk(b"gAMA", b"\0\0\xb1\x8f")
              + _chunk(b"tRNS", bytes(6)) + _chunk(b"cHRM", bytes(7)) + _chunk(b"tEXt", b"Comment\0hi")
              + _chunk(b"sRGB", b"\x09"))  # fmt: skip
    data = b"\x89PNG\r\n\x1a\n" + ihdr + extras + _chunk(b"IDAT", zlib.compress(_raw_rgba(rgba))) + _chunk(b"IEND", b"")
    (tmp_path / "icc.png").write_bytes(data)
    out, info = read_rgba(tmp_path / "icc.png")
    assert np.array_equal(out, rgba)
    notes = " | ".join(info.notes)
    assert "ICC colour profile ignored" in notes and "tRNS (transparency) chunk ignored: the image has an alpha" in notes
    assert "libpng" not in capfd.readouterr().err
    # the same chunks as libpng sees them: it warns, without a file name
    cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert "libpng warning" in capfd.readouterr().err


def test_palette_and_gray_transparency(tmp_path, rgba):
    gray = rgba[..., 0].copy()
    ihdr = _chunk(b"IHDR", struct.pack(">IIBBBBB", 31, 23, 8, 0, 0, 0, 0))
    data = (b"\x89PNG\r\n\x1a\n" + ihdr + _chunk(b"tRNS", b"\0\5")
            + _chunk(b"IDAT", zlib.compress(_raw_rgba(gray[..., None]))) + _chunk(b"IEND", b""))  # fmt: skip
    (tmp_path / "g.png").write_bytes(data)
    out, info = read_rgba(tmp_path / "g.png")
    assert info.alpha_only and np.array_equal(out[..., 3], gray) and any("tRNS" in n for n in info.notes)
    pal = ihdr.replace(b"\x08\x00\x00\x00\x00", b"\x08\x03\x00\x00\x00")
    bad = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 1, 8, 3, 0, 0, 0))
    (tmp_path / "p.png").write_bytes(bad + _chunk(b"IDAT", zlib.compress(b"\0\0\0")) + _chunk(b"IEND", b""))
    with pytest.raises(ImageReadError, match="without a PLTE"):
        read_rgba(tmp_path / "p.png")
    assert pal  # the palette case with transparency is covered by test_gray_alpha_and_palette_transparency_are_rgba


@pytest.mark.parametrize("ihdr, reason", [((0, 5, 8, 6), "invalid size"), ((5, 5, 3, 6), "colour type 6 with bit"),
                                          ((5, 5, 8, 5), "colour type 5")])  # fmt: skip
def test_invalid_ihdr_is_corrupt(tmp_path, ihdr, reason, capfd):
    w, h, depth, ctype = ihdr
    data = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(b"\0" * 10)) + _chunk(b"IEND", b""))  # fmt: skip
    (tmp_path / "x.png").write_bytes(data)
    with pytest.raises(ImageReadError, match=f"corrupt PNG: invalid.*{reason}|corrupt PNG: {reason}"):
        read_rgba(tmp_path / "x.png")
    assert "libpng" not in capfd.readouterr().err


def test_unknown_critical_chunk_is_refused(tmp_path, rgba):
    data = cv2.imencode(".png", _bgra(rgba))[1].tobytes()
    data = data[:33] + _chunk(b"ABCD", b"x") + data[33:]
    (tmp_path / "c.png").write_bytes(data)
    with pytest.raises(ImageReadError, match="unknown critical chunk ABCD"):
        read_rgba(tmp_path / "c.png")


def test_fifo_and_device_are_not_regular_files_and_do_not_block(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    for path in (tmp_path / "pipe.png", "/dev/zero"):
        with pytest.raises(ImageReadError, match="not a regular file"):
            read_rgba(path)
        with pytest.raises(ImageReadError, match="not a regular file"):
            read_image(path)


def test_dataset_readers_check_headers_too(tmp_path, rgba, no_decoding):
    from ldmatte.io import read_gray, read_rgb

    path = tmp_path / "fg.png"
    path.write_bytes(_header_bombs(rgba)["tiff"])
    for reader in (read_rgb, read_gray):
        with pytest.raises(ImageReadError, match="TIFF image of 60,000x60,000"):
            reader(path)


def test_dataset_readers_decode_as_before(tmp_path, rgba):
    from ldmatte.io import read_gray, read_rgb

    cv2.imwrite(str(tmp_path / "c.png"), _bgra(rgba))
    assert np.array_equal(read_rgb(tmp_path / "c.png"), rgba[..., :3])
    assert np.array_equal(read_gray(tmp_path / "c.png"), cv2.imread(str(tmp_path / "c.png"), cv2.IMREAD_GRAYSCALE))
    with pytest.raises(ImageReadError, match="no such file"):
        read_rgb(tmp_path / "missing.png")


def _tiff_by_hand(order: str, big: bool, width: int, height: int) -> bytes:
    """A minimal TIFF (classic or BigTIFF, either byte order) whose first directory holds only a size."""
    mark = b"II" if order == "<" else b"MM"
    if big:
        head = mark + struct.pack(order + "HHHQ", 43, 8, 0, 16)
        ifd = struct.pack(order + "Q", 2) + b"".join(struct.pack(order + "HHQQ", tag, 16, 1, v)
                                                     for tag, v in ((256, width), (257, height)))  # fmt: skip
        return head + ifd + struct.pack(order + "Q", 0) + bytes(64)
    head = mark + struct.pack(order + "HI", 42, 8)
    ifd = struct.pack(order + "H", 2) + b"".join(struct.pack(order + "HHII", tag, 4, 1, v)
                                                 for tag, v in ((256, width), (257, height)))  # fmt: skip
    return head + ifd + struct.pack(order + "I", 0) + bytes(64)


@pytest.mark.parametrize("order, big", [("<", False), (">", False), ("<", True), (">", True)])
def test_tiff_headers_in_both_byte_orders_and_bigtiff(tmp_path, order, big, no_decoding):
    (tmp_path / "t.png").write_bytes(_tiff_by_hand(order, big, 70_000, 50_000))
    with pytest.raises(ImageReadError, match="TIFF image of 70,000x50,000 = 3,500,000,000 pixels is above the limit"):
        read_image(tmp_path / "t.png")
    (tmp_path / "cut.tif").write_bytes(_tiff_by_hand(order, big, 7, 5)[:14])
    with pytest.raises(ImageReadError, match="truncated TIFF"):
        read_image(tmp_path / "cut.tif")


def test_icc_of_jpeg_and_pages_of_tiff_are_noted(tmp_path, rgba):
    jpeg = cv2.imencode(".jpg", rgba[..., 0])[1].tobytes()
    icc = b"ICC_PROFILE\0\x01\x01" + bytes(40)
    (tmp_path / "icc.jpg").write_bytes(jpeg[:2] + b"\xff\xe2" + struct.pack(">H", len(icc) + 2) + icc + jpeg[2:])
    out, info = read_rgba(tmp_path / "icc.jpg")
    assert info.alpha_only and any("ICC colour profile ignored" in n for n in info.notes)
    assert cv2.imwritemulti(str(tmp_path / "pages.tiff"), [_bgra(rgba), _bgra(255 - rgba)])
    out, info = read_rgba(tmp_path / "pages.tiff")
    assert np.array_equal(out, rgba) and "multi-page TIFF: only the first page is used" in info.notes


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["png", "jpg", "tiff", "webp", "bmp"]), st.integers(0, 2**32 - 1), st.floats(0, 1))
def test_property_damaged_files_are_refused_with_a_reason_never_a_crash(tmp_path, kind, seed, frac):
    """Any prefix, or a few flipped bytes, of a file of any format: a decoded image or ImageReadError, nothing else."""
    rng = np.random.default_rng(seed)
    im = rng.integers(0, 256, (9, 13, 4), dtype=np.uint8)
    data = bytearray(cv2.imencode(f".{kind}", im[..., :3] if kind == "jpg" else im)[1].tobytes())
    if seed % 2:
        data = data[: int(len(data) * frac)]
    else:
        for at in rng.integers(0, len(data), 3):
            data[at] = int(rng.integers(0, 256))
    (tmp_path / "x").write_bytes(bytes(data))
    try:
        out, info = read_image(tmp_path / "x")
    except ImageReadError as exc:
        assert exc.reason and "\n" not in exc.reason
    else:
        assert out.dtype == np.uint8 and out.shape[:2] == (info.height, info.width)
