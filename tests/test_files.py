"""ldmatte.files: overlap checks, input listing (links, loops, pipes, duplicates), output ownership, faults, signals."""
import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from ldmatte.files import (
    MARKER,
    InputFile,
    OutputFault,
    OutputFolder,
    UsageError,
    check_disjoint,
    collect_images,
    fault_message,
    stop_on_signals,
)


def _touch(path, data=b"x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --- check_disjoint ---------------------------------------------------------------------------------------------


def test_disjoint_paths_pass(tmp_path):
    check_disjoint([tmp_path / "in"], [tmp_path / "out"])
    check_disjoint([tmp_path / "a" / "x.png", tmp_path / "b"], [tmp_path / "ab", tmp_path / "a2"])  # prefix of name
    check_disjoint(str(tmp_path / "in"), str(tmp_path / "in-out"))


@pytest.mark.parametrize("src, dst, why", [("ds", "ds/alpha", "lies inside input"), ("ds/alpha", "ds", "contains"),
                                           ("ds", "ds", "same as input"), ("ds/fg/a.png", "ds", "contains"),
                                           ("ds", "ds/./x/..", "same as input")])  # fmt: skip
def test_overlap_is_refused_either_way_round(tmp_path, src, dst, why):
    (tmp_path / "ds" / "fg").mkdir(parents=True)
    with pytest.raises(UsageError, match=why) as err:
        check_disjoint([tmp_path / src], [tmp_path / dst])
    assert str(tmp_path / src) in str(err.value) and str(tmp_path / dst) in str(err.value)


def test_overlap_through_symbolic_links(tmp_path):
    (tmp_path / "ds" / "alpha").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "ds" / "alpha")
    (tmp_path / "dslink").symlink_to(tmp_path / "ds")
    with pytest.raises(UsageError):
        check_disjoint([tmp_path / "ds"], [tmp_path / "link"])
    with pytest.raises(UsageError):
        check_disjoint([tmp_path / "dslink"], [tmp_path / "ds" / "alpha" / "new"])  # output need not exist
    with pytest.raises(UsageError):
        check_disjoint([tmp_path / "link" / "x.png"], [tmp_path / "ds"])


# --- collect_images ---------------------------------------------------------------------------------------------


def test_sorted_filtered_hidden_skipped(tmp_path):
    for name in ["b.png", "a.PNG", "c.jpg", ".hidden.png", ".a.png.ldmatte-tmp-1-abcdef12", "sub/d.png"]:
        _touch(tmp_path / name)
    files, problems = collect_images([tmp_path])
    assert [f.rel for f in files] == ["a.PNG", "b.png"] and problems == []
    files, _ = collect_images(tmp_path, recursive=True, suffixes=(".png", ".JPG"))
    assert [f.rel for f in files] == ["a.PNG", "b.png", "c.jpg", "sub/d.png"]
    f = files[-1]
    st = os.stat(tmp_path / "sub" / "d.png")
    assert isinstance(f, InputFile) and f.path == str(tmp_path / "sub" / "d.png")
    assert f.dev_inode == (st.st_dev, st.st_ino) and f.size == 1 and f.mtime_ns == st.st_mtime_ns


def test_each_real_file_once(tmp_path):
    a = _touch(tmp_path / "in" / "a.png")
    os.link(a, tmp_path / "in" / "hard.png")
    (tmp_path / "in" / "soft.png").symlink_to(a)
    files, problems = collect_images([tmp_path / "in", a, str(a), tmp_path / "in" / "soft.png", tmp_path / "in"])
    assert [f.rel for f in files] == ["a.png"] and problems == []  # the same input twice is no failure


def test_file_given_by_name_whatever_its_suffix(tmp_path):
    _touch(tmp_path / "photo.tif")
    files, _ = collect_images([tmp_path / "photo.tif"])
    assert [f.rel for f in files] == ["photo.tif"]


def test_directory_links_not_followed_unless_asked_and_loops_end(tmp_path):
    """The issue's case: ``ln -s .. sl/a/loop`` with --recursive listed one image 41 times."""
    _touch(tmp_path / "sl" / "img.png")
    _touch(tmp_path / "sl" / "a" / "b.png")
    (tmp_path / "sl" / "a" / "loop").symlink_to("..")
    (tmp_path / "other").mkdir()
    _touch(tmp_path / "other" / "o.png")
    (tmp_path / "sl" / "ext").symlink_to(tmp_path / "other")
    files, problems = collect_images([tmp_path / "sl"], recursive=True)
    assert [f.rel for f in files] == ["a/b.png", "img.png"] and problems == []
    files, problems = collect_images([tmp_path / "sl"], recursive=True, follow_symlinks=True)
    assert [f.rel for f in files] == ["a/b.png", "ext/o.png", "img.png"] and problems == []
    # a folder given by name through a link is entered
    files, _ = collect_images([tmp_path / "sl" / "ext"])
    assert [f.rel for f in files] == ["o.png"]
    # a self-loop given by name is a problem, not a hang
    (tmp_path / "self").symlink_to(tmp_path / "self")
    files, problems = collect_images([tmp_path / "self"])
    assert files == [] and problems[0].reason == "symbolic link loop"


def test_fifo_devices_missing_and_broken_links(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "broken.png").symlink_to(tmp_path / "nowhere.png")
    _touch(tmp_path / "ok.png")
    start = time.monotonic()
    files, problems = collect_images([tmp_path, tmp_path / "pipe.png", "/dev/null", tmp_path / "gone.png"])
    assert time.monotonic() - start < 5  # nothing opened: a pipe does not block
    assert [f.rel for f in files] == ["ok.png"]
    reasons = {os.path.basename(p.path): p.reason for p in problems}
    assert reasons == {"broken.png": "broken symbolic link", "pipe.png": "not a regular file (a named pipe)",
                       "null": "not a regular file (a device)", "gone.png": "no such file"}  # fmt: skip
    assert sum(p.path.endswith("pipe.png") for p in problems) == 2  # met in the folder and by name


def test_unlistable_folder_is_a_problem(tmp_path, monkeypatch):
    _touch(tmp_path / "in" / "a.png")
    _touch(tmp_path / "in" / "locked" / "b.png")
    real = os.scandir

    def scandir(path):
        if str(path).endswith("locked"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    files, problems = collect_images([tmp_path / "in"], recursive=True)
    assert [f.rel for f in files] == ["a.png"]
    assert problems[0].path.endswith("locked") and "permission denied" in problems[0].reason


# --- OutputFolder -----------------------------------------------------------------------------------------------


def test_claim_new_folder_writes_marker(tmp_path):
    out = OutputFolder.claim(tmp_path / "o" / "deep", "trimap", settings={"shard_count": 3})
    assert out.is_new and out.kind == "trimap" and out.settings == {"shard_count": 3}
    marker = json.loads((tmp_path / "o" / "deep" / MARKER).read_text())
    assert marker["kind"] == "trimap" and marker["settings"] == {"shard_count": 3} and "created" in marker
    assert os.listdir(tmp_path / "o" / "deep") == [MARKER]  # no temp left


def test_claim_empty_folder_and_ignorable_entries(tmp_path):
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / ".DS_Store").write_bytes(b"")
    (tmp_path / "e" / ".x.png.ldmatte-tmp-99999999-abcdef12").write_bytes(b"")  # a killed writer's temp
    assert OutputFolder.claim(tmp_path / "e", "refine").is_new


def test_unowned_non_empty_folder_is_refused_and_untouched(tmp_path):
    _touch(tmp_path / "mine" / "photo.png", b"precious")
    with pytest.raises(UsageError) as err:
        OutputFolder.claim(tmp_path / "mine", "refine")
    msg = str(err.value)
    assert str(tmp_path / "mine") in msg and "--overwrite" in msg and "another" in msg
    assert sorted(os.listdir(tmp_path / "mine")) == ["photo.png"]
    with pytest.raises(UsageError) as err:
        OutputFolder.claim(tmp_path / "mine", "build", option=None)  # a command without --overwrite
    assert "--overwrite" not in str(err.value)
    out = OutputFolder.claim(tmp_path / "mine", "refine", overwrite=True)
    assert not out.is_new and json.loads((tmp_path / "mine" / MARKER).read_text())["kind"] == "refine"
    assert OutputFolder.claim(tmp_path / "mine", "refine").kind == "refine"  # now it is ours


def test_other_kind_is_refused_and_overwrite_keeps_its_marker(tmp_path):
    OutputFolder.claim(tmp_path / "ds", "build")
    _touch(tmp_path / "ds" / "fg" / "a.png")
    with pytest.raises(UsageError, match="output of 'ldmatte build', not of 'ldmatte trimap'"):
        OutputFolder.claim(tmp_path / "ds", "trimap")
    assert OutputFolder.claim(tmp_path / "ds", "trimap", overwrite=True).kind == "trimap"
    assert json.loads((tmp_path / "ds" / MARKER).read_text())["kind"] == "build"


def test_recorded_settings_must_match(tmp_path):
    OutputFolder.claim(tmp_path / "ds", "build", settings={"shard_count": 3})
    with pytest.raises(UsageError, match="shard_count=3.*shard_count=2"):
        OutputFolder.claim(tmp_path / "ds", "build", settings={"shard_count": 2})
    with pytest.raises(UsageError, match="shard_count"):
        OutputFolder.claim(tmp_path / "ds", "build", overwrite=True, settings={"shard_count": 2})
    out = OutputFolder.claim(tmp_path / "ds", "build", settings={"shard_count": 3, "size": 96})
    assert out.settings == {"shard_count": 3, "size": 96} and not out.is_new
    assert json.loads((tmp_path / "ds" / MARKER).read_text())["settings"] == {"shard_count": 3, "size": 96}


def test_concurrent_claims_agree_on_one_marker(tmp_path):
    """Processes racing for new folders with different shard counts: one wins each folder, the others are refused."""
    code = textwrap.dedent("""
        import os, sys, time
        from ldmatte.files import OutputFolder, UsageError
        time.sleep(max(0.0, float(sys.argv[3]) - time.time()))
        for i in range(40):
            try:
                folder = os.path.join(sys.argv[1], str(i))
                OutputFolder.claim(folder, "build", settings={"shard_count": int(sys.argv[2])})
                print("ok", flush=True)
            except UsageError:
                print("refused", flush=True)
    """)
    go = str(time.time() + 1.5)
    counts = (2, 3, 2, 3)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), str(n), go], stdout=subprocess.PIPE,
                              text=True) for n in counts]  # fmt: skip
    results = [p.communicate(timeout=60)[0].split() for p in procs]
    for i in range(40):
        winner = json.loads((tmp_path / str(i) / MARKER).read_text())["settings"]["shard_count"]
        assert all((r[i] == "ok") == (n == winner) for n, r in zip(counts, results)), (i, results)
        assert sorted(os.listdir(tmp_path / str(i))) == [MARKER]


def test_claim_faults_and_bad_markers(tmp_path, monkeypatch):
    _touch(tmp_path / "file")
    with pytest.raises(UsageError, match="not a folder"):
        OutputFolder.claim(tmp_path / "file", "refine")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / MARKER).write_text("{not json")
    with pytest.raises(UsageError, match="cannot be read"):
        OutputFolder.claim(tmp_path / "bad", "refine")

    def makedirs(path, exist_ok=False):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(os, "makedirs", makedirs)
    with pytest.raises(OutputFault, match="read-only file system") as err:
        OutputFolder.claim(tmp_path / "ro", "refine")
    assert isinstance(err.value, UsageError) and err.value.errno == errno.EROFS
    assert str(err.value) == f"{tmp_path / 'ro'}: read-only file system"


# --- fault_message ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code, words", [(errno.EROFS, "read-only file system"), (errno.ENOSPC, "disk full"),
                                         (errno.EFBIG, "file too large"), (errno.EACCES, "permission denied"),
                                         (errno.EDQUOT, "quota")])  # fmt: skip
def test_fault_message_one_line(code, words):
    msg = fault_message(OSError(code, os.strerror(code), "/x/a.png"))
    assert msg == f"/x/a.png: {msg.split(': ', 1)[1]}" and words in msg and "\n" not in msg
    assert fault_message(OSError(code, "x"), "out/b.png").startswith("out/b.png: ")
    assert fault_message(ValueError("bad\nthing")) == "ValueError: bad thing"


def test_disk_full_is_one_line_in_a_real_process(tmp_path):
    """A write past RLIMIT_FSIZE fails with EFBIG (Python ignores SIGXFSZ): the message names the file."""
    code = textwrap.dedent("""
        import resource, sys
        from ldmatte.files import fault_message
        from ldmatte.io import write_bytes_atomic
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
        try:
            write_bytes_atomic(sys.argv[1], b"x" * 5000)
        except OSError as exc:
            print(fault_message(exc, sys.argv[1]))
    """)
    target = tmp_path / "big.bin"
    out = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == f"{target}: file too large (file size limit reached)", out.stderr
    assert os.listdir(tmp_path) == []  # no partial file, no temp


# --- stop_on_signals --------------------------------------------------------------------------------------------


def test_flag_is_set_by_signals_and_handlers_restored():
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with stop_on_signals() as stop:
        assert not stop.is_set() and not stop
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)
        assert stop.is_set() and stop.signal_name == "SIGTERM"
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_outside_the_main_thread_it_is_a_no_op():
    before = signal.getsignal(signal.SIGINT)
    seen = []

    def work():
        with stop_on_signals() as stop:
            seen.append(stop.is_set())
            stop.set("manual")
            seen.append(stop.signal_name)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen == [False, "manual"] and signal.getsignal(signal.SIGINT) is before


def test_sigint_stops_a_loop_after_the_item_in_flight(tmp_path):
    code = textwrap.dedent("""
        import sys, time
        from ldmatte.files import stop_on_signals
        done = 0
        with stop_on_signals() as stop:
            print("ready", flush=True)
            for i in range(1000):
                if stop.is_set():
                    break
                time.sleep(0.05)  # an item in flight
                done += 1
        print(f"stopped by {stop.signal_name} after {done}", flush=True)
        sys.exit(130 if stop.is_set() else 0)
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130 and out.startswith("stopped by SIGINT after") and "Traceback" not in err
