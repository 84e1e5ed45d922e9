"""The dataset builder: layout, manifest, resume after SIGKILL, shards, folder inputs, the Layer Diffusion source."""
from __future__ import annotations

import doctest
import importlib
import json
import os
import random
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

import ldmatte
from ldmatte.cli import main
from ldmatte.reference.patterns import load_rgba
from ldmatte.dataset import FolderSource, SyntheticSource, build, prepare, read_manifest
from ldmatte.dataset.layout import paths, read_sample
from ldmatte.dataset.manifest import (append_line, check_id, lock, parse_shard, read_lines, repair_tail, shard_of,
                                      write_jsonl_atomic)  # fmt: skip

SIZE = 96  # smallest comfortable synthetic portrait: every sample costs a few milliseconds


@pytest.mark.parametrize("name", ["ldmatte.dataset", "ldmatte.dataset.manifest", "ldmatte.dataset.layout"])
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def _files(root) -> set[str]:
    """Every image file under the sample folders, as relative paths."""
    out = set()
    for sub in ("fg", "alpha", "rejected/fg", "rejected/alpha"):
        folder = root / sub
        if folder.is_dir():
            out |= {f"{sub}/{name}" for name in os.listdir(folder)}
    return out


def _check_consistent(root, expected_ids) -> dict:
    """Exactly the expected ids, one line each, every line with its files and every file with its line."""
    lines = [rec for path in sorted(root.glob("manifest*.jsonl")) for rec in read_lines(str(path))]
    ids = [rec["id"] for rec in lines]
    assert len(ids) == len(set(ids)), "duplicate manifest lines"
    assert set(ids) == set(expected_ids)
    listed = {p for rec in lines for p in rec["files"].values()}
    assert _files(root) == listed
    assert not [p for p in root.rglob("*") if ".tmp" in p.name]
    for rec in lines:
        assert rec["files"] == paths(rec["status"], rec["id"])
        assert rec["status"] == ("kept" if rec["qc"]["keep"] else "rejected")
    return {rec["id"]: rec for rec in lines}


def _stable(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k != "created"}


@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    source = SyntheticSource(10, seed=3, size=SIZE, bad_fraction=0.5)
    summary = build(source, root, progress=False)
    return root, source, summary


def test_synthetic_build_layout_and_contents(small_build):
    root, source, summary = small_build
    assert summary.processed == 10 and summary.errors == [] and summary.already_done == 0
    entries = _check_consistent(root, source.ids())
    assert summary.kept == sum(e["status"] == "kept" for e in entries.values()) > 0
    assert summary.rejected > 0
    for item in source.produce(source.ids()):
        e = entries[item.id]
        refined, report = ldmatte.refine(item.rgba, return_report=True)
        assert np.array_equal(read_sample(str(root), e), refined)
        assert e["report"] == report.to_dict() and e["seed"] == 3 + int(item.id[-6:])
        assert e["attributes"]["constructed"] == (item.meta["constructed"] or "none")
        fg = cv2.imread(str(root / e["files"]["fg"]), cv2.IMREAD_UNCHANGED)
        alpha = cv2.imread(str(root / e["files"]["alpha"]), cv2.IMREAD_UNCHANGED)
        assert fg.shape == (SIZE, SIZE, 3) and alpha.shape == (SIZE, SIZE) and alpha.dtype == np.uint8
        if e["status"] == "rejected":
            assert e["qc"]["reasons"] and len(e["qc"]["details"]) == len(e["qc"]["reasons"])
    rejected = read_lines(str(root / "rejected" / "manifest.jsonl"))
    assert {r["id"] for r in rejected} == {i for i, e in entries.items() if e["status"] == "rejected"}
    card = (root / "README.md").read_text()
    assert f"| kept (`fg/`, `alpha/`) | {summary.kept} |" in card and "### constructed" in card
    assert json.loads((root / "dataset.json").read_text())["source"]["source"] == "synthetic"


def test_rebuild_does_nothing_and_extends(small_build, tmp_path):
    root, source, _ = small_build
    before = (root / "manifest.jsonl").read_bytes()
    again = build(source, root, progress=False)
    assert again.processed == 0 and again.already_done == 10
    assert (root / "manifest.jsonl").read_bytes() == before
    # A longer run with the same seed keeps the first samples and adds the rest.
    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(root, copy)
    more = SyntheticSource(13, seed=3, size=SIZE, bad_fraction=0.5)
    assert build(more, copy, progress=False).processed == 3
    _check_consistent(copy, more.ids())


def test_cli_build_synthetic_and_limit(tmp_path, capsys):
    out = tmp_path / "d"
    argv = ["build", "synthetic", "-o", str(out), "-n", "4", "--size", str(SIZE), "--no-progress"]
    assert main(argv + ["--limit", "1"]) == 0
    assert len(read_manifest(str(out))) == 1
    assert main(["build", "-o", str(out), *argv[1:2], *argv[4:]]) == 0  # -o before the source works too
    assert "3 processed now" in capsys.readouterr().err
    _check_consistent(out, [f"syn0-{i:06d}" for i in range(4)])
    assert main(["build", "synthetic", "-n", "2"]) == 2
    assert main(argv + ["--shard", "2/2"]) == 2
    assert main(argv + ["--max-haze", "7"]) == 2  # thresholds are checked
    assert "must be a number in [0, 1]" in capsys.readouterr().err


# --- kill -9 at random moments, then resume ------------------------------------------------------------------


def _spawn(out, n):
    cmd = [sys.executable, "-m", "ldmatte", "build", "synthetic", "-o", str(out), "-n", str(n), "--size",
           str(SIZE), "--bad-fraction", "0.3", "--no-progress", "--workers", "2"]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _lines(out) -> int:
    try:
        return (out / "manifest.jsonl").read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_sigkill_twice_then_resume(tmp_path):
    n, out = 60, tmp_path / "killed"
    rng = random.Random(20240607)
    for _ in range(2):
        proc = _spawn(out, n)
        target = _lines(out) + rng.randint(1, 12)
        deadline = time.monotonic() + 60
        while _lines(out) < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.03))  # somewhere inside the next sample's work
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
        assert _lines(out) < n, "the run finished before it was killed: make it longer"
    done_before = len(read_manifest(str(out)))
    with open(out / "manifest.jsonl", "ab") as f:  # what a kill inside the append would leave
        f.write(b'{"id": "syn0-000059", "status": "ke')
    proc = _spawn(out, n)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert f"{done_before} of {n} samples of this shard were done before" in err.decode()
    entries = _check_consistent(out, [f"syn0-{i:06d}" for i in range(n)])
    # Same result as a run that was never interrupted (except the time stamps).
    clean = tmp_path / "clean"
    build(SyntheticSource(n, size=SIZE, bad_fraction=0.3), clean, progress=False)
    reference = read_manifest(str(clean))
    assert {i: _stable(e) for i, e in entries.items()} == {i: _stable(e) for i, e in reference.items()}
    for i in list(entries)[:: max(1, n // 8)]:
        assert np.array_equal(read_sample(str(out), entries[i]), read_sample(str(clean), reference[i]))


# --- manifest, start-up repair, shards, locks ------------------------------------------------------------------


def test_repair_tail_drops_only_a_torn_last_line(tmp_path):
    path = str(tmp_path / "m.jsonl")
    assert repair_tail(path) is False
    for rec in ({"id": "a"}, {"id": "b"}):
        append_line(path, rec)
    good = open(path, "rb").read()
    for torn in (b'{"id": "c", "x', b'{"id": "c"}', b"garbage\n", b'["not a record"]\n'):
        with open(path, "ab") as f:
            f.write(torn)
        assert repair_tail(path) is True and open(path, "rb").read() == good
    assert repair_tail(path) is False
    with open(path, "wb") as f:
        f.write(b'{"id": "only", "tor')
    assert repair_tail(path) is True and open(path, "rb").read() == b""
    with open(path, "wb") as f:
        f.write(b'{"id": "a"}\n' * 40000 + b'{"id": "b"')  # longer than the tail window
    assert repair_tail(path) and [r["id"] for r in read_lines(path)] == ["a"] * 40000


def test_prepare_keeps_unlisted_removes_temps_and_finishes_moves(small_build, tmp_path):
    import shutil

    root = tmp_path / "p"
    shutil.copytree(small_build[0], root)
    entries = read_manifest(str(root))
    kept = next(i for i, e in entries.items() if e["status"] == "kept")
    rejected = next(i for i, e in entries.items() if e["status"] == "rejected")
    # An interrupted move (only the alpha went to rejected/), a file the build did not write, temp files of dead
    # writers (this version's and an earlier one's), a line whose files are gone.
    os.replace(root / f"alpha/{kept}.png", root / f"rejected/alpha/{kept}.png")
    (root / "fg/zz-orphan.png").write_bytes(b"x")
    (root / "alpha/zz-orphan.png.tmp123").write_bytes(b"x")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (root / f"fg/.{kept}.png.ldmatte-tmp-{int(dead.stdout)}-deadbeef").write_bytes(b"x")
    os.remove(root / f"rejected/fg/{rejected}.png")
    os.remove(root / f"rejected/alpha/{rejected}.png")
    after = prepare(str(root))
    assert rejected not in after and len(after) == len(entries) - 1
    assert (root / "fg/zz-orphan.png").read_bytes() == b"x"  # not ours: never deleted
    os.remove(root / "fg/zz-orphan.png")
    _check_consistent(root, [i for i in entries if i != rejected])
    assert (root / f"alpha/{kept}.png").exists()
    assert build(small_build[1], root, progress=False).processed == 1  # the lost sample is redone
    _check_consistent(root, entries)


def test_shards_split_by_id_and_qc_merges(tmp_path, capsys):
    source = SyntheticSource(12, seed=1, size=SIZE)
    root = tmp_path / "sharded"
    parts = [build(source, root, shard=(i, 3), progress=False) for i in range(3)]
    assert sum(p.shard_total for p in parts) == 12 and sum(p.processed for p in parts) == 12
    for i in range(3):
        ids = {r["id"] for r in read_lines(str(root / f"manifest.shard-{i}-of-3.jsonl"))}
        assert ids == {s for s in source.ids() if shard_of(s, 3) == i}
    _check_consistent(root, source.ids())
    assert main(["qc", str(root), "--no-progress"]) == 0
    assert sorted(p.name for p in root.glob("manifest*.jsonl")) == ["manifest.jsonl"]
    _check_consistent(root, source.ids())
    assert parse_shard("2/3") == (2, 3)
    for bad in ("3/3", "1", "a/b", "-1/2"):
        with pytest.raises(ValueError, match="shard must be"):
            parse_shard(bad)


def test_lock_refuses_a_second_writer(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    build(SyntheticSource(0, size=SIZE), one, progress=False)  # claims the folders
    build(SyntheticSource(0, size=SIZE), two, shard=(0, 2), progress=False)
    with lock(str(one), (0, 1)):
        with pytest.raises(RuntimeError, match="in use by another ldmatte process"):
            build(SyntheticSource(1, size=SIZE), one, progress=False)
    with lock(str(two), (0, 2)):
        build(SyntheticSource(4, size=SIZE), two, shard=(1, 2), progress=False)  # other shard: fine
        with pytest.raises(RuntimeError, match="in use"):
            build(SyntheticSource(4, size=SIZE), two, shard=(0, 2), progress=False)


def test_ids_shards_and_jsonl_writes(tmp_path):
    assert check_id("s0-000001") == "s0-000001"
    for bad in ("", "../x", "a/b", ".hidden", "x" * 200, 5):
        with pytest.raises(ValueError, match="not usable as a file name"):
            check_id(bad)
    counts = np.bincount([shard_of(f"id{i}", 4) for i in range(4000)], minlength=4)
    assert counts.min() > 900
    path = str(tmp_path / "x.jsonl")
    assert write_jsonl_atomic(path, [{"id": "a"}, {"id": "b"}]) == 2 and len(read_lines(path)) == 2


# --- the folder source: real samples, bad inputs, metadata ------------------------------------------------------


def _write_png(path, image):
    assert cv2.imwrite(str(path), image)


@pytest.fixture()
def messy_folder(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    good = [ldmatte_sample(s) for s in (0, 1)]
    _write_png(folder / "good_0.png", cv2.cvtColor(good[0], cv2.COLOR_RGBA2BGRA))
    _write_png(folder / "good 1.png", cv2.cvtColor(good[1], cv2.COLOR_RGBA2BGRA))  # a space: id made safe
    _write_png(folder / "rgb_only.png", good[0][..., :3])
    _write_png(folder / "grey.png", good[0][..., 3])
    data = (folder / "good_0.png").read_bytes()
    (folder / "truncated.png").write_bytes(data[: len(data) // 2])
    (folder / "not_png.png").write_bytes(b"this is not an image")
    (folder / "empty.png").write_bytes(b"")
    return folder


def ldmatte_sample(seed):
    from ldmatte.synth import make_sample

    return make_sample(seed, SIZE).rgba


def test_folder_source_skips_and_reports_bad_inputs(messy_folder, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["build", "folder", str(messy_folder), "-o", str(out), "--no-progress"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    bad = {"rgb_only", "grey", "truncated", "not_png", "empty"}
    errors = {r["id"]: r["error"] for r in read_lines(str(out / "errors.jsonl"))}
    assert set(errors) == bad and "5 errors" in err and "without an alpha channel" in errors["rgb_only"]
    assert str(messy_folder) not in json.dumps(errors)
    entries = _check_consistent(out, [i for i in FolderSource(messy_folder).ids() if i not in bad])
    space_id = next(i for i in entries if i.startswith("good_1-"))
    assert entries[space_id]["origin"] == "good 1.png"
    assert "could not be read or processed (`errors*.jsonl`) | 5 |" in (out / "README.md").read_text()
    assert main(argv) == 1  # bad inputs are retried (and reported) on every run; good ones are not redone
    assert "0 processed now" in capsys.readouterr().err
    for name in bad:
        os.remove(messy_folder / f"{name}.png")
    assert main(argv) == 0 and not (out / "errors.jsonl").exists()


def test_read_rgba_converts_what_it_can(tmp_path):
    from ldmatte.dataset.layout import ImageReadError, read_rgba

    deep = (np.arange(6 * 5 * 4).reshape(6, 5, 4) * 997 % 65536).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), deep)
    expected = cv2.cvtColor(((deep.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8), cv2.COLOR_BGRA2RGBA)
    assert np.array_equal(read_rgba(tmp_path / "deep.png"), expected)
    assert issubclass(ImageReadError, ValueError)
    with pytest.raises(ImageReadError, match="no such file"):
        read_rgba(tmp_path / "missing.png")


def test_folder_source_real_samples_with_metadata(data_dir, tmp_path):
    meta = tmp_path / "meta.jsonl"
    meta.write_text(json.dumps({"id": "dog_sd15", "prompt": "a dog", "attributes": {"kind": "dog"}, "seed": 5,
                                "junk": 1}) + "\n")  # fmt: skip
    source = FolderSource(data_dir, pattern="*_sd15.png", metadata=meta)
    summary = build(source, tmp_path / "real", progress=False)
    assert summary.errors == [] and summary.processed == len(source.ids()) >= 5
    entries = _check_consistent(tmp_path / "real", source.ids())
    dog = entries["dog_sd15"]
    assert dog["prompt"] == "a dog" and dog["seed"] == 5 and "junk" not in dog and dog["origin"] == "dog_sd15.png"
    # woman_controlnet keeps a wide haze joined to her, the armoured bust is cut by the right frame over half
    # the height: deleted; the others are good portraits and animals.
    rejected = {i: e["qc"]["reasons"] for i, e in entries.items() if e["status"] == "rejected"}
    assert rejected == {"woman_controlnet_sd15": ["haze_left"], "dreamshaper_sd15": ["cut_at_sides"]}
    assert "### kind" in (tmp_path / "real" / "README.md").read_text()
    rgba = ldmatte.refine(load_rgba(data_dir / "dog_sd15.png"))
    assert np.array_equal(read_sample(str(tmp_path / "real"), dog), rgba)


# --- the Layer Diffusion source (tiny random-weight SDXL on the CPU) ---------------------------------------------


def test_layerdiffusion_source_with_a_tiny_model(tmp_path, capsys):
    pytest.importorskip("diffusers")
    from ldmatte.generate.tiny_model import save_tiny_model

    from ldmatte.dataset.ld_source import file_sha256
    from ldmatte.generate.dataset import image_seed
    from ldmatte.prompts import make_prompts, write_jsonl

    base, weights, config = save_tiny_model(tmp_path / "model")
    prompts = tmp_path / "prompts.jsonl"
    write_jsonl(make_prompts(3, seed=0), prompts)
    out = tmp_path / "ld"
    argv = ["build", "layerdiffusion", "--prompts", str(prompts), "--base-model", str(base),
            "--layerdiffuse-weights", str(weights), "--decoder-config", str(config), "-o", str(out),
            "--steps", "2", "--height", "64", "--width", "64", "--device", "cpu", "--batch-size", "2", "--seed", "4",
            "--no-progress"]  # fmt: skip
    assert main(argv + ["--limit", "2"]) == 0
    assert main(argv) == 0 and "2 of 3 samples of this shard were done before" in capsys.readouterr().err
    entries = _check_consistent(out, ["s0-000000", "s0-000001", "s0-000002"])
    e = entries["s0-000001"]
    assert e["seed"] == image_seed(4, "s0-000001") and e["prompt"] and e["attributes"]["gender"]
    files = e["model"]["layerdiffuse"]
    assert files["ld_diffusers_sdxl_attn.safetensors"]["sha256"] == file_sha256(
        str(weights / "ld_diffusers_sdxl_attn.safetensors"))
    assert e["model"]["steps"] == 2 and e["report"]["height"] == 64 and str(tmp_path) not in json.dumps(e)


def test_weights_identity_from_a_hub_cache_layout(tmp_path):
    from ldmatte.dataset.ld_source import _base_model_identity, file_sha256, weights_identity

    blob = tmp_path / "blobs" / ("ab" * 32)
    blob.parent.mkdir()
    blob.write_bytes(b"weights")
    snap = tmp_path / "snapshots" / "rev123" / "unet"
    snap.mkdir(parents=True)
    (snap / "diffusion_pytorch_model.safetensors").symlink_to(blob)
    assert weights_identity(str(snap / "diffusion_pytorch_model.safetensors")) == {"sha256": "ab" * 32}
    plain = tmp_path / "w.safetensors"
    plain.write_bytes(b"other")
    assert weights_identity(str(plain)) == {"sha256": file_sha256(str(plain))}
    assert weights_identity(str(plain), hash_files=False) == {}
    ident = _base_model_identity(str(snap.parent))
    assert ident == {"name": "rev123", "unet": {"diffusion_pytorch_model.safetensors": {"sha256": "ab" * 32}}}


# --- a dataset keeps the source and settings it was made with ------------------------------------------------------


def test_another_source_or_settings_is_refused(tmp_path, capsys):
    import ldmatte.files

    """The issue's case: ``build folder A -o DS`` then ``build synthetic --seed 7 --size 256 -o DS`` mixed them."""
    src = tmp_path / "A"
    src.mkdir()
    ds, syn = tmp_path / "DS", tmp_path / "SYN"
    assert main(["build", "synthetic", "-n", "2", "--size", str(SIZE), "-o", str(syn), "--no-progress"]) == 0
    before = sorted(os.listdir(syn / "fg"))
    assert main(["build", "synthetic", "-n", "2", "--seed", "7", "--size", "128", "-o", str(syn),
                 "--no-progress"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "holds samples of another source or settings (seed 0 -> 7; size 96 -> 128)" in err
    assert "Traceback" not in err and sorted(os.listdir(syn / "fg")) == before
    assert main(["build", "synthetic", "-n", "3", "--size", str(SIZE), "-o", str(syn), "--no-progress"]) == 0  # grows
    assert len(read_manifest(str(syn))) == 3
    _png_rgba(src / "a.png")
    assert build(FolderSource(src), ds, progress=False).processed == 1
    with pytest.raises(ldmatte.files.UsageError, match="source folder -> synthetic"):
        build(SyntheticSource(2, seed=7, size=SIZE), ds, progress=False)
    other = tmp_path / "B"
    other.mkdir()
    _png_rgba(other / "b.png")
    with pytest.raises(ldmatte.files.UsageError, match="another source or settings"):
        build(FolderSource(other), ds, progress=False)
    assert set(read_manifest(str(ds))) == {"a"}
    with pytest.raises(ldmatte.files.UsageError, match="refine"):  # the refinement's settings count too
        build(FolderSource(src), ds, refine_kwargs={"fg_tol": 4}, progress=False)


def test_a_dataset_without_samples_takes_another_source(tmp_path):
    """A build that failed before its first sample (a bad model, say) does not lock the folder to its settings."""
    import ldmatte.files

    ds = tmp_path / "DS"
    build(SyntheticSource(0, seed=1, size=SIZE), ds, progress=False)
    assert build(SyntheticSource(1, seed=2, size=SIZE), ds, progress=False).processed == 1
    marker = json.loads((ds / ldmatte.files.MARKER).read_text())
    assert marker["settings"]["source"]["seed"] == 2


def _png_rgba(path):
    y, x = np.mgrid[:SIZE, :SIZE]
    rgba = np.zeros((SIZE, SIZE, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[..., 3] = np.clip((30 - np.hypot(y - SIZE / 2, x - SIZE / 2)) * 40, 0, 255).astype(np.uint8)
    cv2.imwrite(str(path), rgba)


def test_greenscreen_model_that_does_not_load_is_one_line(tmp_path, capsys, monkeypatch):
    """diffusers' message for a name that is neither a folder nor cached ends "see the stacktrace above"."""
    diffusers = pytest.importorskip("diffusers")
    pytest.importorskip("torch")

    def fail(*args, **kwargs):
        raise OSError("Cannot load model sdxl-typo: the model is not fully cached locally (no such file) and an error "
                      "occurred while trying to fetch metadata from the Hub. Please check out the root cause in the "
                      "stacktrace above.")  # fmt: skip

    monkeypatch.setattr(diffusers.StableDiffusionXLPipeline, "from_pretrained", fail)
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"id": "a", "prompt": "a portrait"}\n')
    assert main(["build", "greenscreen", "--prompts", str(prompts), "--base-model", "sdxl-typo", "-o",
                 str(tmp_path / "gs"), "--device", "cpu", "--no-progress"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("ldmatte build")]
    assert len(lines) == 1 and "Traceback" not in err and "stacktrace" not in err
    assert "base model sdxl-typo: no such folder, and not a model this machine's hub cache holds" in lines[0]
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "mine.txt").write_text("keep")
    assert main(["build", "greenscreen", "--prompts", str(prompts), "--base-model", "sdxl-typo", "-o",
                 str(existing), "--device", "cpu", "--no-progress"]) == 2  # refused before any model loads
    assert "is not empty and was not made by 'ldmatte build'" in capsys.readouterr().err
