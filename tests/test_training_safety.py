"""trimap and composite keep the user's files safe: ownership, no overlap, validation, bad inputs, faults, Ctrl-C."""
import errno
import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

import ldmatte.io
from ldmatte.cli import main
from ldmatte.files import MARKER, UsageError
from ldmatte.training import composite_dataset, trimap_folder


def _hashes(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def _tree(folder):
    return {k: v for k, v in _hashes(folder).items() if not k.endswith(MARKER)}


def _alpha(rng, size=48):
    a = rng.choice(np.array([0, 128, 255], np.uint8), (size, size))  # noisy: trimap PNGs of nearly 1 KB
    a[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 255
    return a


@pytest.fixture
def ds(tmp_path):
    """A dataset folder without manifest (fg/alpha pairs) and a folder of backgrounds."""
    rng = np.random.default_rng(0)
    root = tmp_path / "DS"
    (root / "fg").mkdir(parents=True)
    (root / "alpha").mkdir()
    for i in range(4):
        cv2.imwrite(str(root / "fg" / f"s{i}.png"), rng.integers(0, 256, (48, 48, 3), np.uint8))
        cv2.imwrite(str(root / "alpha" / f"s{i}.png"), _alpha(rng))
    bgs = tmp_path / "bgs"
    bgs.mkdir()
    for i in range(2):
        cv2.imwrite(str(bgs / f"b{i}.jpg"), rng.integers(0, 256, (60, 80, 3), np.uint8))
    return root, bgs


# --- inputs and outputs never overlap ---------------------------------------------------------------------------


@pytest.mark.parametrize("out", ["DS/alpha", "DS", "DS/alpha/sub", "link"])
def test_trimap_never_writes_over_its_input(ds, tmp_path, capsys, out):
    """The issue's case: ``ldmatte trimap DS -o DS/alpha`` overwrote the dataset's mattes with trimaps."""
    root, _ = ds
    (tmp_path / "link").symlink_to(root / "alpha")
    before = _hashes(root)
    assert main(["trimap", str(root), "-o", str(tmp_path / out)]) == 2
    err = capsys.readouterr().err
    assert "choose an output folder outside the inputs" in err and "Traceback" not in err
    assert _hashes(root) == before and not (root / "alpha" / MARKER).exists()


@pytest.mark.parametrize("out", ["DS", "DS/fg", "bgs", "bgs/x"])
def test_composite_never_writes_over_its_inputs(ds, tmp_path, capsys, out):
    root, bgs = ds
    before = _hashes(tmp_path)
    assert main(["composite", str(root), "--backgrounds", str(bgs), "-o", str(tmp_path / out)]) == 2
    assert "outside the inputs" in capsys.readouterr().err
    assert _hashes(tmp_path) == before


def test_trimap_beside_the_alpha_folder_is_fine(ds):
    root, _ = ds
    run = trimap_folder(root, root / "trimaps")
    assert len(run.records) == 4 and not run.failures


# --- ownership of the output folder -----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["trimap", "composite"])
def test_unowned_non_empty_folder_is_refused_then_overwrite(ds, tmp_path, capsys, command):
    root, bgs = ds
    out = tmp_path / "mine"
    out.mkdir()
    (out / "s0.png").write_bytes(b"my own picture")
    (out / "notes.txt").write_text("keep me")
    args = ["trimap", str(root)] if command == "trimap" else ["composite", str(root), "--backgrounds", str(bgs)]
    assert main([*args, "-o", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "--overwrite" in err and "another" in err
    assert sorted(os.listdir(out)) == ["notes.txt", "s0.png"] and (out / "s0.png").read_bytes() == b"my own picture"
    assert main([*args, "-o", str(out), "--no-progress", "--overwrite"]) == 0
    assert (out / "notes.txt").read_text() == "keep me"  # only files of its own names are written
    assert json.loads((out / MARKER).read_text())["kind"] == command
    capsys.readouterr()
    assert main([*args, "-o", str(out), "--no-progress"]) == 0  # now its own: a rerun needs no --overwrite


def test_one_command_does_not_take_the_others_folder(ds, tmp_path, capsys):
    root, bgs = ds
    assert main(["trimap", str(root), "-o", str(tmp_path / "o"), "--no-progress"]) == 0
    assert main(["composite", str(root), "--backgrounds", str(bgs), "-o", str(tmp_path / "o")]) == 2
    assert "output of 'ldmatte trimap', not of 'ldmatte composite'" in capsys.readouterr().err


def test_rerun_keeps_records_of_files_not_redone(ds, tmp_path):
    root, _ = ds
    trimap_folder(root, tmp_path / "t")
    os.remove(root / "alpha" / "s3.png")
    run = trimap_folder(root, tmp_path / "t", erode=3)
    assert len(run.records) == 3
    lines = [json.loads(x) for x in (tmp_path / "t" / "trimaps.jsonl").read_text().splitlines()]
    assert [r["trimap"] for r in lines] == ["s0.png", "s1.png", "s2.png", "s3.png"]
    assert [r["erode"] for r in lines] == [3, 3, 3, 10]


# --- validation -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("option, value, words", [
    ("--workers", "0", "--workers must be between 1 and 1024, got 0"),
    ("--workers", "-1", "--workers must be between 1 and 1024, got -1"),
    ("--erode", "-1", "kernel size must be N or LOW:HIGH"), ("--dilate", "x", "kernel size must be N or LOW:HIGH"),
    ("--erode", "9:3", "erode must be between 0 and 1024 pixels (a range: low <= high)"),
    ("--dilate", "5000", "dilate must be between 0 and 1024"), ("--max-pixels", "3000000000", "--max-pixels must be"),
    ("--fg-threshold", "0", "bg_threshold < fg_threshold")])  # fmt: skip
def test_trimap_options_are_validated(ds, tmp_path, capsys, option, value, words):
    root, _ = ds
    assert main(["trimap", str(root), "-o", str(tmp_path / "o"), f"{option}={value}"]) == 2
    assert words in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing made before the options are checked


@pytest.mark.parametrize("option, value", [("--workers", "0"), ("--workers", "-1"), ("--per-fg", "0"),
                                           ("--max-pixels", "0")])  # fmt: skip
def test_composite_options_are_validated(ds, tmp_path, capsys, option, value):
    root, bgs = ds
    assert main(["composite", str(root), "--backgrounds", str(bgs), "-o", str(tmp_path / "o"), option, value]) == 2
    assert f"{option} must be" in capsys.readouterr().err and not (tmp_path / "o").exists()


@pytest.mark.parametrize("kwargs, words", [(dict(erode=-1), "erode must be between"), (dict(dilate=2.5), "dilate must "
                                           "be a kernel size"), (dict(erode=(1, 2, 3)), "erode must be"),
                                           (dict(workers=0), "workers must be"), (dict(max_pixels=3e9), "max_pixels")])
def test_library_validation(ds, tmp_path, kwargs, words):  # fmt: skip
    root, _ = ds
    with pytest.raises(ValueError, match=words):
        trimap_folder(root, tmp_path / "o", **kwargs)
    assert not (tmp_path / "o").exists()


# --- bad inputs: one line each, the rest finishes ---------------------------------------------------------------


def test_bad_inputs_are_listed_and_the_rest_finishes(ds, tmp_path, capsys):
    root, _ = ds
    (root / "alpha" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"cut")
    os.mkfifo(root / "alpha" / "pipe.png")
    cv2.imwrite(str(root / "alpha" / "s1.jpg"), np.zeros((8, 8), np.uint8))  # same trimap name as s1.png
    assert main(["trimap", str(root), "-o", str(tmp_path / "o"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "bad.png: truncated PNG" in err and "pipe.png: not a regular file (a named pipe)" in err
    assert "s1.png is already that of s1.jpg" in err or "s1.png is already that of s1.png" in err
    assert "wrote 4 trimaps" in err and "3 failed" in err and "Traceback" not in err
    assert sorted(f for f in os.listdir(tmp_path / "o") if f.endswith(".png")) == [f"s{i}.png" for i in range(4)]


def test_a_bad_sample_or_background_is_listed(ds, tmp_path):
    root, bgs = ds
    (root / "alpha" / "s2.png").write_bytes(b"not an image")
    (bgs / "zz.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    run = composite_dataset(root, bgs, tmp_path / "o", per_fg=3)
    reasons = " | ".join(f"{f.input}: {f.reason}" for f in run.failures)
    assert "s2 (copy 0): not an image" in reasons and "background" in reasons and "zz.png" in reasons
    assert len(run.records) + len(run.failures) == 12 and len(run.records) >= 3


# --- faults: one line, exit 1, no partial files, a rerun completes ----------------------------------------------


def test_read_only_output_is_one_line(ds, tmp_path, capsys, monkeypatch):
    root, _ = ds

    def read_only(path, data, durable=True, temp=None):
        raise OSError(errno.EROFS, "Read-only file system", os.fspath(path))

    monkeypatch.setattr(ldmatte.io, "write_bytes_atomic", read_only)
    assert main(["trimap", str(root), "-o", str(tmp_path / "o"), "--no-progress", "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert "read-only file system" in err and "Traceback" not in err and "stopped:" in err
    assert len([line for line in err.splitlines() if "read-only" in line]) <= 3  # stops at the first fault


def test_output_folder_that_cannot_be_made_is_a_fault(ds, capsys, read_only_folder):
    root, _ = ds
    assert main(["trimap", str(root), "-o", str(read_only_folder / "t"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == f"ldmatte trimap: {read_only_folder / 't'}: read-only file system"


def _limited(limit):
    def set_limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return set_limit


@pytest.mark.parametrize("command", ["trimap", "composite"])
def test_disk_full_then_rerun_gives_the_same_bytes(ds, tmp_path, command):
    """Writes fail with EFBIG past RLIMIT_FSIZE (Python ignores SIGXFSZ), as on a full disk."""
    root, bgs = ds
    args = ["trimap", str(root), "--erode", "0", "--dilate", "0"] if command == "trimap" else [
        "composite", str(root), "--backgrounds", str(bgs)]  # fmt: skip
    cmd = [sys.executable, "-m", "ldmatte", *args, "--no-progress", "--workers", "2"]
    full = subprocess.run([*cmd, "-o", str(tmp_path / "full")], capture_output=True, text=True, timeout=120,
                          preexec_fn=_limited(500))  # the marker fits, no image does  # fmt: skip
    assert full.returncode == 1, full.stderr
    assert "file too large" in full.stderr and "Traceback" not in full.stderr
    leftovers = [p for p in (tmp_path / "full").rglob("*") if p.is_file() and p.name != MARKER]
    assert not [p for p in leftovers if p.suffix == ".png"]  # nothing cut short is left as an output
    assert not [p for p in leftovers if ldmatte.io.is_temp_name(p.name)]
    assert main([*args, "--no-progress", "-o", str(tmp_path / "full")]) == 0  # space freed: the rerun finishes
    assert main([*args, "--no-progress", "--workers", "1", "-o", str(tmp_path / "clean")]) == 0
    assert _tree(tmp_path / "full") == _tree(tmp_path / "clean")


# --- interruption -----------------------------------------------------------------------------------------------


def test_ctrl_c_stops_after_the_images_in_flight(tmp_path):
    rng = np.random.default_rng(1)
    src = tmp_path / "alphas"
    src.mkdir()
    for i in range(150):
        cv2.imwrite(str(src / f"a{i:03d}.png"), _alpha(rng, 256))
    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "ldmatte", "trimap", str(src), "-o", str(out), "--erode", "41", "--dilate", "41",
           "--workers", "1", "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if out.is_dir() and len([f for f in os.listdir(out) if f.endswith(".png")]) >= 2:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted (SIGINT)" in err and "Traceback" not in err
    pngs = sorted(f for f in os.listdir(out) if f.endswith(".png"))
    listed = [json.loads(x)["trimap"] for x in (out / "trimaps.jsonl").read_text().splitlines()]
    assert 2 <= len(pngs) < 150 and listed == pngs  # what was written is listed, and nothing else
    assert not [f for f in os.listdir(out) if ldmatte.io.is_temp_name(f)]


def test_library_stop_flag(ds, tmp_path):
    from ldmatte.files import StopFlag

    root, _ = ds
    stop = StopFlag()
    stop.set("SIGINT")
    run = trimap_folder(root, tmp_path / "o", stop=stop)
    assert run.interrupted and run.records == [] and (tmp_path / "o" / "trimaps.jsonl").read_text() == ""


def test_usage_error_is_a_value_error():
    assert issubclass(UsageError, ValueError)
