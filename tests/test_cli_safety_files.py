"""Single-file outputs follow the ownership rule; eval, prompts, trimap, key and compare keep "Your files are safe".

``files.check_output_file`` (the rule for one file), and the commands' cases: ``eval --json`` onto ground truth,
``prompts -o`` onto a dataset manifest, eval's trimap convention, skipped and ambiguous images and video pairing,
``trimap`` on RGB photos, ``key`` without a backing and with EXIF orientation, read-only outputs (exit 1),
``compare`` on samples whose foreground and alpha differ in size, no OpenCV warning lines.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import pathlib
import struct
import subprocess
import sys

import cv2
import numpy as np
import pytest

from ldmatte.cli import main
from ldmatte.files import MARKER, UsageError, check_output_file, signature, written_by
from ldmatte.io import write_png_atomic


def _sha(path) -> str:
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def _marked(folder: pathlib.Path, kind: str) -> pathlib.Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text(json.dumps({"kind": kind, "settings": {}}))
    return folder


# --- check_output_file ------------------------------------------------------------------------------------------


def test_an_input_or_a_file_inside_one_is_refused(tmp_path):
    gt = tmp_path / "gt"
    gt.mkdir()
    (gt / "a.png").write_bytes(b"truth")
    for out in (gt / "a.png", gt / "new.json", gt / "sub" / "x.json"):
        with pytest.raises(UsageError, match="input"):
            check_output_file(out, "eval", inputs=[gt])
    with pytest.raises(UsageError, match="is the input"):
        check_output_file(gt / "a.png", "eval", inputs=[gt / "a.png"], overwrite=True)  # never, even so
    os.symlink(gt / "a.png", tmp_path / "link.json")  # a link resolving into an input
    with pytest.raises(UsageError, match="input"):
        check_output_file(tmp_path / "link.json", "eval", inputs=[gt])
    assert check_output_file(tmp_path / "r.json", "eval", inputs=[gt]) == str(tmp_path / "r.json")


def test_another_commands_output_folder_is_refused(tmp_path):
    ds = _marked(tmp_path / "ds", "build")
    (ds / "manifest.jsonl").write_text('{"id": "a", "status": "kept"}\n')
    for out in (ds / "manifest.jsonl", ds / "new.jsonl", ds / "alpha" / "deep.jsonl"):
        with pytest.raises(UsageError, match="output folder of 'ldmatte build'"):
            check_output_file(out, "prompts")
    check_output_file(ds / "new.jsonl", "prompts", overwrite=True)  # the command's --overwrite, where offered
    own = _marked(tmp_path / "own", "prompts")
    check_output_file(own / "p.jsonl", "prompts")  # a folder of the same command
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / MARKER).write_text("{not json")
    with pytest.raises(UsageError, match="'ldmatte \\?'"):  # an unreadable marker still marks a folder
        check_output_file(broken / "p.jsonl", "prompts")


def test_an_existing_file_is_replaced_only_when_it_names_the_command(tmp_path):
    mine = tmp_path / "mine.json"
    mine.write_text('{"my": "notes"}\n')
    with pytest.raises(UsageError, match="was not written by 'ldmatte eval'"):
        check_output_file(mine, "eval")
    check_output_file(mine, "eval", overwrite=True)
    ours = tmp_path / "ours.json"
    ours.write_text(json.dumps({**signature("eval"), "mean": {}}, indent=1))  # pretty-printed JSON
    check_output_file(ours, "eval")
    with pytest.raises(UsageError, match="not written by 'ldmatte prompts'"):
        check_output_file(ours, "prompts")
    lines = tmp_path / "p.jsonl"
    lines.write_text(json.dumps({**signature("prompts"), "id": "s0-000000"}) + "\n" + '{"id": 2}\n')
    assert written_by(lines, "prompts") and not written_by(lines, "eval")
    (tmp_path / "bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    assert not written_by(tmp_path / "bin", "eval") and not written_by(tmp_path / "missing", "eval")
    with pytest.raises(UsageError, match="is a folder"):
        check_output_file(tmp_path, "eval")
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(UsageError, match="named pipe"):
        check_output_file(tmp_path / "pipe", "eval", overwrite=True)


# --- eval -------------------------------------------------------------------------------------------------------

GT = np.array([[0, 255, 255, 0], [255, 255, 0, 0], [0, 0, 128, 255]], np.uint8)
PRED = np.array([[51, 255, 0, 0], [255, 204, 0, 0], [0, 0, 128, 255]], np.uint8)
TRI = np.array([[128, 255, 128, 0], [255, 128, 0, 0], [0, 0, 128, 128]], np.uint8)


def _write(folder: pathlib.Path, name: str, image) -> pathlib.Path:
    folder.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(folder / name), image)
    return folder / name


@pytest.fixture
def ev(tmp_path):
    for name in ("a.png", "b.png"):
        _write(tmp_path / "pred", name, PRED)
        _write(tmp_path / "gt", name, GT)
        _write(tmp_path / "tri", name, TRI)
    return tmp_path


def test_eval_json_onto_ground_truth_is_refused(ev, capsys):
    before = {p: _sha(p) for p in (ev / "gt").iterdir()}
    for target in (ev / "gt" / "a.png", ev / "gt" / "results.json", ev / "tri" / "b.png"):
        rc = main(["eval", str(ev / "pred"), str(ev / "gt"), "--trimap", str(ev / "tri"), "--json", str(target)])
        assert rc == 2 and "lies inside input" in capsys.readouterr().err
    assert {p: _sha(p) for p in (ev / "gt").iterdir()} == before
    out = ev / "r.json"
    assert main(["eval", str(ev / "pred"), str(ev / "gt"), "--json", str(out), "--quiet"]) == 0
    assert json.loads(out.read_text())["written_by"] == "ldmatte eval"
    assert main(["eval", str(ev / "pred"), str(ev / "gt"), "--json", str(out), "--quiet"]) == 0  # its own: replaced
    (ev / "notes.json").write_text("my notes\n")
    assert main(["eval", str(ev / "pred"), str(ev / "gt"), "--json", str(ev / "notes.json")]) == 2
    assert (ev / "notes.json").read_text() == "my notes\n"


def test_eval_skips_a_trimap_without_unknown_pixels(ev, capsys):
    _write(ev / "tri", "b.png", np.where(GT > 127, 255, 0).astype(np.uint8))  # known everywhere
    out = ev / "r.json"
    assert main(["eval", str(ev / "pred"), str(ev / "gt"), "--trimap", str(ev / "tri"), "--json", str(out)]) == 0
    captured = capsys.readouterr()
    assert "b: skipped: trimap has no unknown pixel" in captured.err and "1 skipped" in captured.out
    r = json.loads(out.read_text())
    assert [row["name"] for row in r["images"]] == ["a"] and r["count"] == 1
    assert r["skipped"] == [{"name": "b", "reason": "trimap has no unknown pixel: nothing to score, left out of "
                                                    "the mean"}]  # fmt: skip
    assert r["mean"]["sad"] == pytest.approx(1.4 / 1000) and not np.isnan(r["mean"]["mse"])


def test_eval_trimap_convention_and_label_maps(ev, capsys):
    # 0 background, 255 foreground, every other value unknown: 64 and 200 count like 128.
    _write(ev / "tri", "b.png", np.where(TRI == 128, np.uint8(64), TRI).astype(np.uint8))
    out = ev / "r.json"
    assert main(["eval", str(ev / "pred"), str(ev / "gt"), "--trimap", str(ev / "tri"), "--json", str(out)]) == 0
    rows = {row["name"]: row for row in json.loads(out.read_text())["images"]}
    assert rows["a"]["sad"] == rows["b"]["sad"] and rows["b"]["unknown_pixels"] == 5
    assert "0 background, 255 foreground, any other value unknown" in json.loads(out.read_text())["convention"]
    _write(ev / "tri", "b.png", (TRI // 127).astype(np.uint8))  # a 0/1/2 label map
    assert main(["eval", str(ev / "pred"), str(ev / "gt"), "--trimap", str(ev / "tri")]) == 1
    assert "label map" in capsys.readouterr().err


def test_eval_two_files_of_one_name_fail_that_image(ev, capsys):
    _write(ev / "gt", "a.jpg", GT)
    assert main(["eval", str(ev / "pred"), str(ev / "gt")]) == 1
    captured = capsys.readouterr()
    assert "a: a.jpg and a.png both in" in captured.err and "1 image(s)" in captured.out


def test_eval_benchmark_without_trimap_folder_names_it(tmp_path, capsys):
    _write(tmp_path / "bench" / "alpha", "a.png", GT)
    _write(tmp_path / "pred", "a.png", PRED)
    assert main(["eval", str(tmp_path / "pred"), "--benchmark", "ldmatte", str(tmp_path / "bench")]) == 2
    err = capsys.readouterr().err
    assert "no trimap folder" in err and "Errno" not in err


def test_eval_video_pairs_frames_in_natural_order(tmp_path, capsys):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (6, 8), dtype=np.uint8) for _ in range(11)]
    for i, f in enumerate(frames):
        _write(tmp_path / "gt", f"{i:05d}.png", f)  # DAVIS: 00000.png
        _write(tmp_path / "pred", f"{i:06d}.png", f if i != 10 else 255 - f)  # ldmatte video: 000000.png
        _write(tmp_path / "np", f"f{i}.png", f if i != 10 else 255 - f)  # f2 before f10
    out = tmp_path / "v.json"
    for pred in ("pred", "np"):
        assert main(["eval", "--video", str(tmp_path / pred), str(tmp_path / "gt"), "--json", str(out)]) == 0
        r = json.loads(out.read_text())
        assert len(r["frames"]) == 11 and all(f["sad"] == 0 for f in r["frames"][:10]) and r["frames"][10]["sad"] > 0
        assert r["mean"]["mad"] == pytest.approx(np.mean([f["mad"] for f in r["frames"]])) and r["mean"]["mad"] > 0
    (tmp_path / "gt" / "00010.png").unlink()
    assert main(["eval", "--video", str(tmp_path / "pred"), str(tmp_path / "gt")]) == 2
    assert "holds 11 frames" in capsys.readouterr().err


# --- prompts ----------------------------------------------------------------------------------------------------


def test_prompts_onto_a_dataset_manifest_is_refused(tmp_path, capsys):
    ds = _marked(tmp_path / "ds", "build")
    (ds / "manifest.jsonl").write_text('{"id": "syn0-000000", "status": "kept"}\n')
    plain = tmp_path / "plain"  # no marker: the manifest itself is not ours
    plain.mkdir()
    (plain / "manifest.jsonl").write_text('{"id": "syn0-000000", "status": "kept"}\n')
    for target in (ds / "manifest.jsonl", plain / "manifest.jsonl"):
        before = _sha(target)
        assert main(["prompts", "-n", "2", "-o", str(target)]) == 2
        assert _sha(target) == before
    assert "output folder of 'ldmatte build'" in capsys.readouterr().err
    out = tmp_path / "p.jsonl"
    assert main(["prompts", "-n", "2", "-o", str(out)]) == 0
    assert main(["prompts", "-n", "3", "-o", str(out)]) == 0  # its own file: replaced
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 3 and all(r["written_by"] == "ldmatte prompts" for r in records)


def test_prompts_zero_is_a_usage_error_and_a_fault_is_one_line(tmp_path, capsys, monkeypatch):
    assert main(["prompts", "-n", "0", "-o", str(tmp_path / "p.jsonl")]) == 2
    assert "--count must be >= 1" in capsys.readouterr().err and not (tmp_path / "p.jsonl").exists()

    def read_only(path, data, durable=True, temp=None):
        raise OSError(errno.EROFS, "Read-only file system", os.fspath(path))

    monkeypatch.setattr("ldmatte.io.write_bytes_atomic", read_only)
    assert main(["prompts", "-n", "2", "-o", str(tmp_path / "p.jsonl")]) == 1
    err = capsys.readouterr().err
    assert err.strip() == f"ldmatte prompts: {tmp_path / 'p.jsonl'}: read-only file system"


# --- trimap, key, compare ---------------------------------------------------------------------------------------


def test_trimap_refuses_rgb_photos_one_by_one(tmp_path, capsys):
    rng = np.random.default_rng(1)
    fg = tmp_path / "ds" / "fg"
    fg.mkdir(parents=True)
    for i in range(2):
        write_png_atomic(str(fg / f"s{i}.png"), rng.integers(0, 256, (12, 10, 3), dtype=np.uint8))
    write_png_atomic(str(fg / "grey.png"), np.repeat(GT[..., None], 3, axis=2))  # a matte saved as RGB
    assert main(["trimap", str(fg), "-o", str(tmp_path / "t"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.count("RGB image without an alpha channel") == 2 and "grey.png" not in err
    assert sorted(p.name for p in (tmp_path / "t").glob("*.png")) == ["grey.png"]


def _exif_jpeg(image_bgr: np.ndarray, orientation: int) -> bytes:
    """A JPEG with an EXIF APP1 segment holding only the orientation tag."""
    ok, buf = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    tiff = b"MM\x00\x2a\x00\x00\x00\x08" + struct.pack(">HHHIHH", 1, 0x0112, 3, 1, orientation, 0) + b"\0" * 4
    payload = b"Exif\x00\x00" + tiff
    data = buf.tobytes()
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + data[2:]


def test_key_applies_exif_orientation_and_warns_without_a_backing(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    upright = np.empty((40, 24, 3), np.uint8)  # as the viewer sees it: the subject stands on the bottom edge
    upright[:] = (52, 178, 24)  # BGR green backing
    upright[12:, 6:18] = (120, 150, 200)
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # the camera stored it turned a quarter counter-clockwise
    (src / "turned.jpg").write_bytes(_exif_jpeg(stored, 6))  # orientation 6: turn 90 degrees clockwise to view
    write_png_atomic(str(src / "grey.png"), np.full((20, 20, 3), 128, np.uint8))
    assert main(["key", str(src), "-o", str(tmp_path / "out"), "-q"]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(lines) == 1 and "grey.png" in lines[0] and "no green or blue backing" in lines[0]
    keyed = cv2.imread(str(tmp_path / "out" / "turned.png"), cv2.IMREAD_UNCHANGED)
    assert keyed.shape == (40, 24, 4)  # turned upright
    assert keyed[39, 12, 3] == 255 and keyed[0, 12, 3] == 0  # the subject stands where the viewer sees it
    assert "no green or blue backing" in json.loads((tmp_path / "out" / "grey.json").read_text())["warning"]


def _read_only_makedirs(monkeypatch):
    def makedirs(path, mode=0o777, exist_ok=False):
        raise OSError(errno.EROFS, "Read-only file system", os.fspath(path))

    monkeypatch.setattr(os, "makedirs", makedirs)


def _tiny_dataset(root: pathlib.Path, alpha_shape=(16, 12)) -> pathlib.Path:
    (root / "fg").mkdir(parents=True)
    (root / "alpha").mkdir()
    write_png_atomic(str(root / "fg" / "s0.png"), np.zeros((16, 12, 3), np.uint8))
    write_png_atomic(str(root / "alpha" / "s0.png"), np.full(alpha_shape, 255, np.uint8))
    entry = {"id": "s0", "status": "kept", "prompt": "p", "files": {"fg": "fg/s0.png", "alpha": "alpha/s0.png"}}
    (root / "manifest.jsonl").write_text(json.dumps(entry) + "\n")
    return root


def test_read_only_output_exits_1_for_key_and_compare(tmp_path, capsys, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    write_png_atomic(str(src / "a.png"), np.zeros((8, 8, 3), np.uint8))
    a, b = _tiny_dataset(tmp_path / "a"), _tiny_dataset(tmp_path / "b")
    _read_only_makedirs(monkeypatch)
    assert main(["key", str(src), "-o", str(tmp_path / "k"), "-q"]) == 1
    assert main(["compare", str(a), str(b), "-o", str(tmp_path / "c"), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"ldmatte key: {tmp_path / 'k'}: read-only file system",
                   f"ldmatte compare: {tmp_path / 'c'}: read-only file system"]  # fmt: skip


def test_compare_foreground_and_alpha_of_different_sizes_is_one_line(tmp_path, capsys):
    a, b = _tiny_dataset(tmp_path / "a"), _tiny_dataset(tmp_path / "b", alpha_shape=(10, 12))
    assert main(["compare", str(a), str(b), "-o", str(tmp_path / "c"), "-q"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (f"failed: {b}: sample s0: foreground fg/s0.png (12x16) and alpha alpha/s0.png (12x10) "
                           "differ in size")  # fmt: skip


def test_no_opencv_warning_lines(tmp_path):
    # OpenCV would print "[ WARN:0@...] ... imread_(...): can't open/read file" for a file it cannot open.
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_LOG_LEVEL"}
    code = f"import ldmatte, cv2; assert cv2.imread({str(tmp_path / 'gone.png')!r}) is None"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0 and "WARN" not in proc.stderr, proc.stderr
    env["OPENCV_LOG_LEVEL"] = "INFO"  # a level the user chose stays
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert "WARN" in proc.stderr


def test_eval_named_pipes_fail_without_blocking(ev):
    os.mkfifo(ev / "pred" / "c.png")
    _write(ev / "gt", "c.png", GT)
    for name in ("000.png", "001.png"):
        _write(ev / "vgt", name, GT)
    (ev / "vpred").mkdir()
    _write(ev / "vpred", "000.png", GT)
    os.mkfifo(ev / "vpred" / "001.png")
    for argv in (["eval", str(ev / "pred"), str(ev / "gt")], ["eval", "--video", str(ev / "vpred"), str(ev / "vgt")]):
        proc = subprocess.run([sys.executable, "-m", "ldmatte", *argv], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1 and "not a regular file (a named pipe)" in proc.stderr, proc.stderr


def test_backing_warning_rules():
    from ldmatte.keying.key_files import backing_warning

    kept = np.full((10, 10), 255, np.uint8)
    kept[:2] = 0
    assert backing_warning((24, 178, 52), kept) is None and backing_warning((40, 60, 200), kept) is None
    assert "no green or blue backing" in backing_warning((90, 100, 95), kept)  # estimated grey: no backing
    assert backing_warning((90, 100, 95), kept, estimated=False) is None  # the user named that colour
    gone = np.zeros((10, 10), np.uint8)
    assert backing_warning((24, 178, 52), gone, estimated=False).startswith("100.0 % of the image keyed out")
