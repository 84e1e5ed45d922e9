"""The batch engine (ldmatte.batch) and the file-safety rules that refine, demo and build enforce through it:
claimed output folders, disjoint inputs and outputs, each real file once, one shard count per dataset, faults
(disk full, read-only) as one line with exit 1, Ctrl-C as exit 130 with a summary, bounded memory."""
from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest

import ldmatte
from ldmatte import synth
from ldmatte.batch import Failure, ItemError, ThreadExecutor, run_items
from ldmatte.cli import main
from ldmatte.dataset import FolderSource, SyntheticSource, build, read_manifest
from ldmatte.files import StopFlag, UsageError
from ldmatte.io import is_temp_name, read_rgba

SIZE = 96


def _png(path, seed=0, size=SIZE):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(synth.make_sample(seed, size).rgba, cv2.COLOR_RGBA2BGRA))


def _tree(folder):
    """{relative path: sha256} of every file under ``folder``."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            p = os.path.join(root, name)
            out[os.path.relpath(p, folder)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return out


def _temps(folder):
    return [n for _, _, fs in os.walk(folder) for n in fs if is_temp_name(n) or ".tmp" in n]


# --- the engine ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("workers,caller_works", [(1, True), (2, True), (4, True), (1, False), (3, False)])
def test_thread_executor_ordered_unordered_and_failures(workers, caller_works):
    ex = ThreadExecutor(workers, caller_works=caller_works)
    out = list(ex.map(lambda x: 10 // x, range(-5, 6), ordered=True))
    assert [o.index for o in out] == list(range(11))
    assert [o.value for o in out if o.error is None] == [10 // x for x in range(-5, 6) if x]
    assert [type(o.error) for o in out if o.error is not None] == [ZeroDivisionError]
    assert sorted(o.value for o in ex.map(lambda x: x * x, range(50))) == [x * x for x in range(50)]


def test_thread_executor_pulls_lazily_and_uses_the_calling_thread():
    pulled, threads = [], set()

    def items():
        for i in range(10**9):  # never materialised
            pulled.append(i)
            yield i

    def work(x):
        threads.add(threading.current_thread().name)
        time.sleep(0.002)
        return x

    got = []
    for o in ThreadExecutor(2, window=4).map(work, items(), ordered=True):
        got.append(o.value)
        assert len(pulled) <= len(got) + 4  # never more than the window ahead of what was yielded
        if len(got) == 20:
            break
    assert got == list(range(20)) and threading.current_thread().name in threads


def test_stop_flag_finishes_items_in_flight_and_takes_no_more():
    stop, done = StopFlag(), []

    def work(x):
        if x == 3:
            stop.set("SIGINT")
        done.append(x)
        return x

    report = run_items(range(1000), work, executor=ThreadExecutor(2, window=2), stop=stop, progress=False)
    assert report.interrupted and "SIGINT" in report.stopped
    assert report.done == len(done) < 10 and report.failures == []


def test_source_error_ends_the_batch_and_is_raised():
    def items():
        yield 1
        raise RuntimeError("source broke")

    with pytest.raises(RuntimeError, match="source broke"):
        run_items(items(), lambda x: x, executor=ThreadExecutor(2), progress=False)


def test_failures_are_listed_and_a_write_fault_stops_the_batch():
    def work(x):
        if x == 1:
            raise ItemError("no alpha channel")
        if x == 2:
            raise OSError(errno.ENOSPC, "No space left on device", f"out/{x}.png")
        return x

    report = run_items(range(100), work, executor=ThreadExecutor(1), progress=False, name=lambda x: f"in/{x}.png")
    assert report.failures[:2] == [Failure("in/1.png", "no alpha channel"),
                                   Failure("in/2.png", "out/2.png: disk full (no space left on device)")]  # fmt: skip
    assert report.fault and "disk full" in report.stopped and report.done < 10 and not report.interrupted
    seen = []
    run_items([1, 2], lambda x: x, on_result=lambda item, value: seen.append((item, value)), progress=False)
    assert seen == [(1, 1), (2, 2)]


# --- refine -----------------------------------------------------------------------------------------------------


@pytest.fixture
def inputs(tmp_path):
    src = tmp_path / "in"
    for i in range(3):
        _png(src / f"p{i}.png", seed=i)
    return src


def test_refine_refuses_a_folder_it_did_not_make(inputs, tmp_path, capsys):
    out = tmp_path / "OUT"
    out.mkdir()
    for name in ("p0.png", "p0.json", "index.html"):
        (out / name).write_bytes(b"mine")
    before = _tree(out)
    assert main(["refine", str(inputs), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "not empty and was not made by 'ldmatte refine'" in err and "--overwrite" in err
    assert _tree(out) == before
    assert main(["refine", str(inputs), "-o", str(out), "-q", "--overwrite"]) == 0  # asked for: taken
    assert np.array_equal(read_rgba(out / "p0.png")[0], ldmatte.refine(read_rgba(inputs / "p0.png")[0]))
    assert main(["refine", str(inputs), "-o", str(out), "-q"]) == 0  # now its own folder


def test_refine_each_real_file_once_and_links_to_folders(tmp_path, capsys):
    src = tmp_path / "in"
    _png(src / "a" / "img.png")
    os.symlink("..", src / "a" / "loop")  # a link loop
    os.link(src / "a" / "img.png", src / "hard.png")  # the same file under a second name
    out = tmp_path / "out"
    assert main(["refine", str(src), str(src / "a" / "img.png"), "-r", "-o", str(out), "-q"]) == 0
    assert sorted(p for p in _tree(out) if p.endswith(".png") and not p.startswith("_sheet")) == ["a/img.png"]
    out2 = tmp_path / "out2"
    assert main(["refine", str(src), "-r", "--follow-symlinks", "-o", str(out2), "-q"]) == 0
    assert sorted(p for p in _tree(out2) if p.endswith(".png") and not p.startswith("_sheet")) == ["a/img.png"]


def test_refine_option_values_are_checked(inputs, tmp_path, capsys):
    out = str(tmp_path / "o")
    for bad, message in [(["--jobs", "-1"], "--jobs"), (["--max-pixels", "3000000000"], "--max-pixels must be"),
                         (["--jobs", "0"], "--jobs must be")]:  # fmt: skip
        assert main(["refine", str(inputs), "-o", out, *bad]) == 2
        assert message in capsys.readouterr().err
    assert not os.path.exists(out)


def test_refine_read_only_output_is_one_line_and_exit_1(inputs, tmp_path, capsys, monkeypatch):
    from ldmatte import io

    def read_only(path, data, durable=True, temp=None):
        raise OSError(errno.EROFS, "Read-only file system", os.fspath(path))

    out = tmp_path / "out"
    monkeypatch.setattr(io, "write_bytes_atomic", read_only)
    assert main(["refine", str(inputs), "-o", str(out), "-q", "--jobs", "1"]) == 1
    err = capsys.readouterr().err
    assert "read-only file system" in err and "Traceback" not in err
    assert "summary not written" in err and "stopped:" in err


def _limited(limit_bytes):
    """preexec_fn: a file size limit (writes beyond it fail with EFBIG instead of killing the process)."""
    import resource

    def setup():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return setup


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_refine_disk_full_then_rerun_gives_the_same_bytes(inputs, tmp_path):
    out, clean = tmp_path / "out", tmp_path / "clean"
    argv = ["refine", str(inputs), "-q", "--jobs", "1", "-o"]
    full = subprocess.run([sys.executable, "-m", "ldmatte", *argv, str(out)], capture_output=True, text=True,
                          timeout=300, preexec_fn=_limited(2000))  # fmt: skip
    assert full.returncode == 1, full.stderr
    assert "file too large" in full.stderr and "Traceback" not in full.stderr
    assert not _temps(out)  # no partial files
    assert not [p for p in _tree(out) if p.endswith(".png") and not p.startswith("_sheet")]
    assert main(argv + [str(out)]) == 0  # space freed: finishes
    assert main(argv + [str(clean)]) == 0
    for name in ("p0.png", "p1.png", "p2.png"):
        assert (out / name).read_bytes() == (clean / name).read_bytes()


def _wait_for(predicate, proc, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None and not predicate():
        time.sleep(0.01)


@pytest.mark.slow
def test_refine_sigint_stops_soon_with_a_summary(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    n = 16
    for i in range(n):
        _png(src / f"s{i:02d}.png", seed=i, size=128)
    cmd = [sys.executable, "-m", "ldmatte", "refine", str(src), "-o", str(out), "-q", "--jobs", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: out.is_dir() and sum(f.endswith(".json") for f in os.listdir(out)) >= 2, proc)
    t = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert time.monotonic() - t < 10  # the images in flight, not the queue
    summary = json.loads((out / "refine-summary.json").read_text())
    assert "SIGINT" in summary["stopped"] and summary["counts"]["refined"] < n
    assert (out / "index.html").exists() and "Traceback" not in err and not _temps(out)
    assert main(cmd[3:]) == 0  # the rerun finishes the rest
    assert json.loads((out / "refine-summary.json").read_text())["counts"]["skipped"] == summary["counts"]["refined"]


# --- build ------------------------------------------------------------------------------------------------------


def test_build_keeps_files_it_did_not_write(tmp_path, capsys):
    user = tmp_path / "X"
    _png(user / "fg" / "img1.png")
    _png(user / "alpha" / "img1.png", seed=1)
    before = _tree(user)
    assert main(["build", "synthetic", "-n", "2", "--size", str(SIZE), "-o", str(user), "--no-progress"]) == 2
    assert "not empty and was not made by 'ldmatte build'" in capsys.readouterr().err and _tree(user) == before
    ds = tmp_path / "ds"
    assert main(["build", "synthetic", "-n", "2", "--size", str(SIZE), "-o", str(ds), "--no-progress"]) == 0
    (ds / "fg" / "img1.png").write_bytes(b"a user's file in the dataset folder")
    (ds / "rejected" / "alpha" / "mine.png").write_bytes(b"another")
    assert main(["build", "synthetic", "-n", "3", "--size", str(SIZE), "-o", str(ds), "--no-progress"]) == 0
    assert (ds / "fg" / "img1.png").read_bytes() == b"a user's file in the dataset folder"
    assert (ds / "rejected" / "alpha" / "mine.png").exists() and len(read_manifest(str(ds))) == 3


def test_build_folder_onto_itself_and_link_loops(tmp_path, capsys):
    src = tmp_path / "src"
    _png(src / "a" / "one.png")
    os.symlink("..", src / "a" / "loop")
    before = _tree(src)
    for out in (src, src / "ds"):
        assert main(["build", "folder", str(src), "--recursive", "-o", str(out), "--no-progress"]) == 2
        assert "choose an output folder outside the inputs" in capsys.readouterr().err
    assert _tree(src) == before
    ds = tmp_path / "ds"
    assert main(["build", "folder", str(src), "--recursive", "-o", str(ds), "--no-progress"]) == 0
    assert list(read_manifest(str(ds))) == ["a__one"]
    assert len(FolderSource(src, recursive=True, follow_symlinks=True).ids()) == 1  # loop-safe when followed
    os.mkfifo(src / "pipe.png")  # listed as an error, never opened (a named pipe would block)
    os.symlink(src / "gone.png", src / "broken.png")
    summary = build(FolderSource(src), tmp_path / "ds2", progress=False)
    assert sorted(summary.errors) == [("broken.png", "broken symbolic link"),
                                      ("pipe.png", "not a regular file (a named pipe)")]  # fmt: skip


def test_build_folder_redoes_a_changed_source(tmp_path):
    src, ds = tmp_path / "src", tmp_path / "ds"
    _png(src / "a.png", seed=1)
    _png(src / "b.png", seed=2)
    assert build(FolderSource(src), ds, progress=False).processed == 2
    first = read_manifest(str(ds))["a"]
    _png(src / "a.png", seed=3)
    os.utime(src / "a.png", ns=(1, 10**18))  # a different modification time whatever the clock
    again = build(FolderSource(src), ds, progress=False)
    assert again.processed == 1 and again.already_done == 1
    entry = read_manifest(str(ds))["a"]
    assert entry["source_stamp"] != first["source_stamp"]
    expected = ldmatte.refine(read_rgba(src / "a.png")[0])
    fg, alpha = cv2.imread(str(ds / entry["files"]["fg"])), cv2.imread(str(ds / entry["files"]["alpha"]), 0)
    assert np.array_equal(alpha, expected[..., 3]) and fg.shape[:2] == expected.shape[:2]
    assert build(FolderSource(src), ds, progress=False).processed == 0


def test_build_one_shard_count_per_folder(tmp_path, capsys):
    ds = tmp_path / "ds"
    argv = ["build", "synthetic", "-n", "4", "--size", str(SIZE), "-o", str(ds), "--no-progress"]
    assert main(argv + ["--shard", "0/2"]) == 0
    assert main(argv + ["--shard", "0/3"]) == 2
    assert "shard_count=2" in capsys.readouterr().err
    assert main(argv + ["--shard", "1/2"]) == 0 and len(read_manifest(str(ds))) == 4


@pytest.mark.slow
def test_build_two_shards_at_once_write_safely(tmp_path):
    ds = tmp_path / "ds"
    cmd = [sys.executable, "-m", "ldmatte", "build", "synthetic", "-n", "6", "--size", str(SIZE), "-o", str(ds),
           "--no-progress", "--workers", "1", "--shard"]  # fmt: skip
    procs = [subprocess.Popen(cmd + [f"{i}/2"], stderr=subprocess.PIPE, text=True) for i in (0, 1)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert [r for r, _ in results] == [0, 0], results
    lines = [json.loads(line) for f in ds.glob("manifest*.jsonl") for line in f.read_text().splitlines()]
    assert sorted(e["id"] for e in lines) == [f"syn0-{i:06d}" for i in range(6)] and not _temps(ds)


def test_build_huge_source_with_limit_runs_in_constant_memory(tmp_path):
    t = time.monotonic()
    summary = build(SyntheticSource(10**9, size=SIZE), tmp_path / "ds", limit=1, progress=False)
    assert summary.processed == 1 and summary.shard_total == 10**9 and time.monotonic() - t < 60
    assert list(read_manifest(str(tmp_path / "ds"))) == ["syn0-000000"]


def test_build_option_values_are_checked(tmp_path, capsys):
    argv = ["build", "synthetic", "-n", "2", "-o", str(tmp_path / "d"), "--no-progress"]
    for bad, message in [(["--workers", "0"], "--workers must be"), (["--workers", "-1"], "--workers must be"),
                         (["--size", "0"], "--size must be"), (["--size", "10x9000000"], "--size must be"),
                         (["--limit", "-1"], "--limit must be")]:  # fmt: skip
        assert main(argv + bad) == 2
        assert message in capsys.readouterr().err
    with pytest.raises(ValueError, match="workers must be"):
        build(SyntheticSource(1, size=SIZE), tmp_path / "e", workers=0)
    with pytest.raises(UsageError, match="outside the inputs"):
        build(FolderSource(tmp_path), tmp_path / "f")


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_build_disk_full_then_rerun_gives_the_same_bytes(tmp_path):
    ds, clean = tmp_path / "ds", tmp_path / "clean"
    argv = ["build", "synthetic", "-n", "3", "--size", str(SIZE), "--no-progress", "--workers", "1", "-o"]
    full = subprocess.run([sys.executable, "-m", "ldmatte", *argv, str(ds)], capture_output=True, text=True,
                          timeout=300, preexec_fn=_limited(4000))  # fmt: skip
    assert full.returncode == 1, full.stderr
    assert "file too large" in full.stderr and "Traceback" not in full.stderr and not _temps(ds)
    assert main(argv + [str(ds)]) == 0
    assert main(argv + [str(clean)]) == 0
    mine, ref = read_manifest(str(ds)), read_manifest(str(clean))
    assert list(mine) == list(ref)
    for e in mine.values():
        for rel in e["files"].values():
            assert (ds / rel).read_bytes() == (clean / rel).read_bytes()


def test_build_sigint_exits_130_after_the_samples_in_flight(tmp_path):
    ds = tmp_path / "ds"
    cmd = [sys.executable, "-m", "ldmatte", "build", "synthetic", "-n", "200", "--size", "160", "--no-progress",
           "--workers", "2", "-o", str(ds)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: (ds / "manifest.jsonl").exists() and (ds / "manifest.jsonl").read_bytes().count(b"\n") >= 2,
              proc)  # fmt: skip
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "stopped by SIGINT" in err and "Traceback" not in err
    done = len(read_manifest(str(ds)))
    assert 2 <= done < 200 and (ds / "README.md").exists() and not _temps(ds)
