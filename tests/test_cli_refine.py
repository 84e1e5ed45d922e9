"""``ldmatte refine``: mixed good and bad inputs, reruns, refusal to overwrite inputs, options, SIGKILL and rerun,
the real samples and the contact sheet."""
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse

import cv2
import numpy as np
import pytest

import ldmatte
from ldmatte import synth
from ldmatte.cli import main
from ldmatte.io import is_temp_name, read_rgba


def _bgra(rgba):
    return cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA)


def _digest(folder):
    return {p: hashlib.sha256(open(os.path.join(folder, p), "rb").read()).hexdigest()
            for p in sorted(os.listdir(folder)) if os.path.isfile(os.path.join(folder, p))}  # fmt: skip


def _files(folder):
    return sorted(os.path.relpath(os.path.join(r, f), folder) for r, _, fs in os.walk(folder) for f in fs)


@pytest.fixture
def mixed(tmp_path):
    """A folder with two good RGBA PNGs and one of each other kind."""
    d = tmp_path / "in"
    d.mkdir()
    good = [synth.make_sample(s, 96).rgba for s in (1, 2)]
    cv2.imwrite(str(d / "good1.png"), _bgra(good[0]))
    cv2.imwrite(str(d / "good2.png"), _bgra(good[1]))
    cv2.imwrite(str(d / "gray.png"), good[0][..., 3])
    cv2.imwrite(str(d / "deep.png"), _bgra(good[1]).astype(np.uint16) * 257)
    cv2.imwrite(str(d / "rgb.png"), good[0][..., :3])
    data = cv2.imencode(".png", _bgra(good[0]))[1].tobytes()
    (d / "truncated.png").write_bytes(data[: len(data) * 2 // 3])
    corrupt = bytearray(data)
    corrupt[len(data) // 2] ^= 0xFF
    (d / "corrupt.png").write_bytes(bytes(corrupt))
    (d / "notes.txt").write_text("not an input")  # not a PNG name: ignored
    return d, good


def test_mixed_folder(mixed, tmp_path, capsys):
    src, good = mixed
    before = _digest(src)
    out = tmp_path / "out"
    assert main(["refine", str(src), "-o", str(out)]) == 1
    assert _digest(src) == before  # inputs untouched
    stdout, stderr = capsys.readouterr()
    assert "refined 4, skipped 0 (already done), failed 3" in stdout
    for name, reason in [("rgb", "without an alpha channel"), ("truncated", "truncated PNG"),
                         ("corrupt", "corrupt PNG")]:  # fmt: skip
        assert re.search(rf"failed: .*{name}\.png: .*{reason}", stderr)
    summary = json.loads((out / "refine-summary.json").read_text())
    assert summary["counts"] == {"refined": 4, "skipped": 0, "failed": 3}
    assert sorted(os.path.basename(f["input"]) for f in summary["failures"]) == ["corrupt.png", "rgb.png",
                                                                                 "truncated.png"]  # fmt: skip
    for i, name in enumerate(["good1", "good2"]):  # outputs are exactly ldmatte.refine of the input
        expected, report = ldmatte.refine(good[i], return_report=True)
        assert np.array_equal(read_rgba(out / f"{name}.png")[0], expected)
        rec = json.loads((out / f"{name}.json").read_text())
        assert rec["report"] == report.to_dict() and rec["input"] == str(src / f"{name}.png")
        assert rec["output"] == f"{name}.png" and set(rec["timings"]) >= {"read_s", "refine_s", "write_s", "total_s"}
        assert rec["settings"] == dict(ldmatte.DEFAULTS)
    gray = cv2.imread(str(out / "gray.png"), cv2.IMREAD_UNCHANGED)  # a matte in, a matte out
    assert gray.ndim == 2 and np.array_equal(gray, ldmatte.refine_alpha(np.ascontiguousarray(good[0][..., 3])))
    deep = json.loads((out / "deep.json").read_text())
    assert deep["image"]["bit_depth"] == 16 and "refined at 8 bits" in deep["image"]["notes"][0]
    assert np.array_equal(read_rgba(out / "deep.png")[0], ldmatte.refine(good[1]))
    html = (out / "index.html").read_text()
    assert "3 not refined" in html and "truncated.png" in html and "without an alpha channel" in html
    assert not [f for f in _files(out) if is_temp_name(os.path.basename(f))]


def test_rerun_skips_finished_and_overwrite_redoes(mixed, tmp_path, capsys):
    src, _ = mixed
    out = tmp_path / "out"
    argv = ["refine", str(src), "-o", str(out), "-q"]
    assert main(argv) == 1
    stamp = os.stat(out / "good1.json").st_mtime_ns
    os.remove(out / "good2.json")  # the JSON marks completion: good2 is redone
    capsys.readouterr()
    assert main(argv[:-1]) == 1
    assert "refined 1, skipped 3 (already done), failed 3" in capsys.readouterr().out
    assert os.stat(out / "good1.json").st_mtime_ns == stamp and (out / "good2.json").exists()
    assert "4 images: 1 refined now, 3 already done" in (out / "index.html").read_text()  # skipped ones listed
    os.utime(src / "good2.png", ns=(1, 1))  # an input changed since: redone
    assert main(argv[:-1]) == 1
    assert "refined 1, skipped 3 (already done)" in capsys.readouterr().out
    assert main(argv[:-1] + ["--no-snap"]) == 1  # other settings: not redone, but said
    assert "made with other settings" in capsys.readouterr().out
    assert main(argv[:-1] + ["--overwrite", "--no-snap"]) == 1
    assert "refined 4, skipped 0" in capsys.readouterr().out
    assert json.loads((out / "good1.json").read_text())["settings"]["snap"] is False


def test_refuses_to_write_over_inputs(mixed, tmp_path, capsys):
    src, _ = mixed
    before = _digest(src)
    assert main(["refine", str(src), "-o", str(src)]) == 2
    assert main(["refine", str(src / "good1.png"), "-o", str(src)]) == 2
    assert main(["refine", str(src), "-o", str(src / "refined")]) == 2  # an output inside an input: refused too
    assert "lies inside input" in capsys.readouterr().err
    assert _digest(src) == before and "refine-summary.json" not in os.listdir(src)


def test_recursive_mirrors_paths(tmp_path):
    src = tmp_path / "in"
    (src / "a" / "b").mkdir(parents=True)
    im = _bgra(synth.make_sample(3, 96).rgba)
    for rel in ("top.png", "a/mid.PNG", "a/b/deep.png", "a/.hidden.png"):
        cv2.imwrite(str(src / rel), im)
    out = tmp_path / "refined"
    assert main(["refine", str(src), "-o", str(out), "-q"]) == 0
    assert sorted(f for f in _files(out) if f.endswith(".png") and not f.startswith("_sheet")) == [
        "top.png"]  # fmt: skip
    assert main(["refine", str(src), "-r", "-o", str(out), "-q"]) == 0
    pngs = sorted(f for f in _files(out) if f.endswith(".png") and not f.startswith("_sheet"))
    assert pngs == ["a/b/deep.png", "a/mid.png", "top.png"]
    assert (out / "a" / "b" / "deep.json").exists() and (out / "_sheet" / "a" / "b" / "deep.changes.png").exists()
    assert main(["refine", str(src), "-r", "-o", str(out), "-q"]) == 0  # a rerun: all done


def test_name_collisions_missing_inputs_and_usage_errors(tmp_path, capsys):
    im = _bgra(synth.make_sample(4, 96).rgba)
    for d in ("x", "y"):
        (tmp_path / d).mkdir()
        cv2.imwrite(str(tmp_path / d / "same.png"), im)
    out = str(tmp_path / "out")
    assert main(["refine", str(tmp_path / "x"), str(tmp_path / "y"), str(tmp_path / "nope.png"), "-o", out]) == 1
    err = capsys.readouterr().err
    assert "already the output of" in err and "nope.png: no such file" in err
    for bad, message in [(["--fg-tol", "300"], "fg_tol"), (["--min-subject-fraction", "2"], "min_subject_fraction"),
                         (["--jobs", "0"], "--jobs"), (["--thumb-width", "4"], "--thumb-width"),
                         (["--max-pixels", "0"], "--max-pixels")]:  # fmt: skip
        assert main(["refine", str(tmp_path / "x"), "-o", out, *bad]) == 2
        assert message in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["refine", str(tmp_path / "empty"), "-o", out]) == 2
    assert "no PNG files" in capsys.readouterr().err


def test_device_cuda_without_gpu_is_a_clear_error(tmp_path, capsys):
    from ldmatte.batch.refine_files import choose_device as resolve_device
    from ldmatte.files import UsageError

    try:
        usable = resolve_device("cuda") == "cuda"
    except UsageError:
        usable = False
    if usable:
        pytest.skip("a usable GPU is present")
    cv2.imwrite(str(tmp_path / "a.png"), _bgra(synth.make_sample(5, 96).rgba))
    assert main(["refine", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--device", "cuda"]) == 2
    assert "--device cuda:" in capsys.readouterr().err
    assert resolve_device("auto") == "cpu"


def test_options_reach_refine_and_jobs_do_not_change_outputs(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    images = [synth.make_sample(s, 96).rgba for s in range(6)]
    for i, im in enumerate(images):
        cv2.imwrite(str(src / f"{i}.png"), _bgra(im))
    opts = ["--fg-tol", "4", "--bg-tol", "12", "--connectivity", "4", "--no-snap", "--keep-translucent-interior",
            "--no-subject-rule", "--hysteresis"]  # fmt: skip
    kwargs = dict(fg_tol=4, bg_tol=12, connectivity=4, snap=False, fill_interior=False, min_subject_fraction=None,
                  hysteresis=True)  # fmt: skip
    for jobs in ("1", "3"):
        assert main(["refine", str(src), "-o", str(tmp_path / jobs), "-q", "--jobs", jobs, *opts]) == 0
    for i, im in enumerate(images):
        expected = ldmatte.refine(im, **kwargs)
        assert np.array_equal(read_rgba(tmp_path / "1" / f"{i}.png")[0], expected)
        assert (tmp_path / "1" / f"{i}.png").read_bytes() == (tmp_path / "3" / f"{i}.png").read_bytes()
    assert json.loads((tmp_path / "3" / "0.json").read_text())["settings"] == kwargs
    assert main(["refine", str(src), "-o", str(tmp_path / "m"), "-q", "--min-subject-fraction", "0.5"]) == 0
    assert json.loads((tmp_path / "m" / "0.json").read_text())["settings"]["min_subject_fraction"] == 0.5


def test_sigkill_then_rerun_finishes_cleanly(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    n = 40
    for i in range(n):  # big enough that the run takes a while, small enough to stay fast
        cv2.imwrite(str(src / f"s{i:02d}.png"), _bgra(synth.make_sample(i, (192, 256)).rgba))
    cmd = [sys.executable, "-m", "ldmatte", "refine", str(src), "-o", str(out), "-q", "--jobs", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.is_dir() and len([f for f in os.listdir(out) if f.endswith(".json")]) >= 3:
            break
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {f for f in os.listdir(out) if f.endswith(".json")}
    # A temp file of a dead writer, as a kill during a write leaves it (deterministic, whatever the timing was).
    (out / f".s00.png.ldmatte-tmp-{proc.pid}-deadbeef").write_bytes(b"half a png")
    rerun = subprocess.run(cmd[:-3] + ["--jobs", "2"], capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    files = _files(out)
    assert not [f for f in files if is_temp_name(os.path.basename(f))]
    pngs = sorted(f for f in files if f.endswith(".png") and not f.startswith("_sheet"))
    assert pngs == [f"s{i:02d}.png" for i in range(n)]  # all done, each once
    assert all((out / (p[:-4] + ".json")).exists() for p in pngs)
    counts = json.loads((out / "refine-summary.json").read_text())["counts"]
    assert counts["refined"] + counts["skipped"] == n and counts["skipped"] >= len(done_before) - 1
    for p in pngs[:: n // 5]:
        assert np.array_equal(read_rgba(out / p)[0], ldmatte.refine(read_rgba(src / p)[0]))


def _check_sheet(out):
    html = (out / "index.html").read_text()
    links = re.findall(r'(?:src|href)="([^"#]+)"', html)
    thumbs = [u for u in links if u.startswith("_sheet/")]
    assert thumbs, "no thumbnails referenced"
    for u in links:
        assert os.path.exists(os.path.normpath(os.path.join(out, urllib.parse.unquote(u)))), u
    return html, thumbs


def test_real_samples(data_dir, tmp_path, capsys):
    rgba_files = [str(p) for p in sorted(data_dir.glob("*.png"))
                  if cv2.imread(str(p), cv2.IMREAD_UNCHANGED).shape[-1] == 4]  # fmt: skip
    assert len(rgba_files) >= 10
    out = tmp_path / "real"
    assert main(["refine", *rgba_files, "-o", str(out), "--jobs", "2"]) == 0
    assert f"refined {len(rgba_files)}, skipped 0 (already done), failed 0" in capsys.readouterr().out
    _, thumbs = _check_sheet(out)
    assert len(thumbs) == 5 * len(rgba_files)
    thumb = cv2.imread(str(out / thumbs[0]), cv2.IMREAD_UNCHANGED)
    assert thumb.shape[1] == 224
    # The whole folder: the one RGB file in it (a padding reference) is listed, the rest refined and skipped.
    assert main(["refine", str(data_dir), "-o", str(out), "-q"]) == 1
    summary = json.loads((out / "refine-summary.json").read_text())
    assert summary["counts"] == {"refined": 0, "skipped": len(rgba_files), "failed": 1}
    assert "without an alpha channel" in summary["failures"][0]["reason"]


def test_thumbnails(rng):
    from ldmatte import panels
    from ldmatte.contact_sheet import thumbnails

    im = rng.integers(0, 256, (64, 96, 4), dtype=np.uint8)
    clear, opaque = im.copy(), im.copy()
    clear[..., 3], opaque[..., 3] = 0, 255
    t = thumbnails(clear, opaque, width=48)
    assert np.array_equal(t["input"], panels.checkerboard(32, 48, cell=8))  # nothing over the checkerboard
    shrunk = cv2.resize(np.ascontiguousarray(im[..., :3]), (48, 32), interpolation=cv2.INTER_AREA)
    assert np.abs(t["refined"].astype(int) - shrunk).max() <= 1  # opaque: the colour itself
    assert (t["alpha_in"] == 0).all() and (t["alpha_out"] == 255).all()
    assert np.array_equal(t["changes"], panels.change_map(clear[..., 3], opaque[..., 3], (48, 32)))
    small = thumbnails(im[:5, :7], im[:5, :7])  # never upscaled
    assert small["input"].shape == (5, 7, 3)
    with pytest.raises(ValueError, match="differ in shape"):
        thumbnails(im, im[1:])
    with pytest.raises(TypeError, match="RGBA"):
        thumbnails(im[..., :3], im[..., :3])


@pytest.mark.gpu
def test_device_cuda_matches_cpu(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for s in range(4):
        cv2.imwrite(str(src / f"{s}.png"), _bgra(synth.make_sample(s, 160).rgba))
    assert main(["refine", str(src), "-o", str(tmp_path / "cpu"), "-q"]) == 0
    assert main(["refine", str(src), "-o", str(tmp_path / "gpu"), "-q", "--device", "cuda", "--jobs", "2"]) == 0
    for s in range(4):
        cpu, gpu = read_rgba(tmp_path / "cpu" / f"{s}.png")[0], read_rgba(tmp_path / "gpu" / f"{s}.png")[0]
        assert np.array_equal(cpu[..., 3], gpu[..., 3])  # bit-identical alpha
        assert np.abs(cpu.astype(int) - gpu).max() <= 1  # padding within one level
        assert json.loads((tmp_path / "gpu" / f"{s}.json").read_text())["device"] == "cuda"


def test_progress_bar_goes_to_stderr(tmp_path, capsys):
    from ldmatte.batch import FileRefiner, RefineJob, refine_files

    cv2.imwrite(str(tmp_path / "a.png"), _bgra(synth.make_sample(6, 96).rgba))
    refiner = FileRefiner(str(tmp_path / "out"), dict(ldmatte.DEFAULTS))
    run = refine_files([RefineJob(str(tmp_path / "a.png"), "a.png")], refiner, progress=True)
    assert (len(run.records), run.failures, run.refined, run.skipped) == (1, [], 1, 0)
    out, err = capsys.readouterr()
    assert out == "" and "1/1" in err
