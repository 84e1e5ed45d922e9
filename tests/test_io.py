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
    MAX_PIXELS,
    ImageReadError,
    is_temp_name,
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
    assert np.array_equal(out, rgba) and info.mode == "other"
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
