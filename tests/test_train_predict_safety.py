"""train and predict keep "Your files are safe": options checked before the folder is claimed, damaged weights,
named pipes, SIGTERM, faults, messages that blame the right thing, and a resumed run equal to an uninterrupted one."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from ldmatte.cli import main  # noqa: E402
from ldmatte.files import MARKER, StopFlag  # noqa: E402
from ldmatte.matting import TrainConfig, train, write_heldout_set  # noqa: E402

CMD = [sys.executable, "-m", "ldmatte"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from ldmatte.dataset import SyntheticSource, build

    root = tmp_path_factory.mktemp("ds") / "syn"
    build(SyntheticSource(6, seed=0, size=96), root, progress=False)
    return root


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    """A two-step run and a held-out benchmark folder (image/, alpha/, trimap/)."""
    base = tmp_path_factory.mktemp("trained")
    run = base / "run"
    train(_cfg(dataset, run, steps=2), log=lambda m: None)
    bench = base / "bench"
    write_heldout_set([dataset], bench, seed=5, max_side=64, kernel=5)
    return run, bench


def _cfg(dataset, out, **kw):
    base = dict(datasets=[dataset], output=str(out), backgrounds="synthetic", steps=3, batch=2, crop=64,
                device="cpu", val=0.34, log_every=1, val_every=100, save_every=100, progress=False)  # fmt: skip
    return TrainConfig(**{**base, **kw})


def _train_args(dataset, out, *more):
    return ["train", str(dataset), "-o", str(out), "--backgrounds", "synthetic", "--steps", "2", "--batch", "2",
            "--crop", "64", "--device", "cpu", "--no-progress", *map(str, more)]  # fmt: skip


def _weights_hash(run) -> str:
    return hashlib.sha256((run / "checkpoint" / "model.safetensors").read_bytes()).hexdigest()


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("ldmatte ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# --- a resumed run is a continuation ---------------------------------------------------------------------------


def test_resumed_run_equals_the_uninterrupted_one_bit_for_bit(dataset, tmp_path):
    """The issue's case: after a resume BatchNorm stayed in eval mode (the validation predictor's ``eval()``)."""
    whole = train(_cfg(dataset, tmp_path / "whole", steps=3), log=lambda m: None)
    first = train(_cfg(dataset, tmp_path / "resumed", steps=3), log=lambda m: None, pause_at=1)
    assert first.interrupted and first.step == 1
    second = train(_cfg(dataset, tmp_path / "resumed", steps=3), log=lambda m: None)
    assert second.resumed_from == 1 and second.step == whole.step == 3
    assert _weights_hash(tmp_path / "resumed") == _weights_hash(tmp_path / "whole")
    for name in ("optimizer.safetensors", "rng_state.safetensors"):
        assert (tmp_path / "resumed" / "checkpoint" / name).read_bytes() == (
            tmp_path / "whole" / "checkpoint" / name).read_bytes()  # fmt: skip
    losses = [[r["loss"] for r in map(json.loads, (tmp_path / d / "log.jsonl").read_text().splitlines())
               if "loss" in r] for d in ("whole", "resumed")]  # fmt: skip
    assert losses[0] == losses[1]


def test_batchnorm_trains_without_validation(dataset, tmp_path):
    """With ``--val 0`` the model was frozen in eval mode for the whole run: its BatchNorm statistics never moved."""
    from ldmatte.matting.model import load_model

    train(_cfg(dataset, tmp_path / "r", steps=2, val=0.0), log=lambda m: None)
    model = load_model(tmp_path / "r" / "checkpoint")
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(int(m.num_batches_tracked) == 2 for m in norms)


def test_stop_while_a_reader_blocks(dataset):
    """SIGTERM sets the flag; the loop waiting for a batch whose reader never returns ends all the same."""
    from ldmatte.matting.data import AugmentConfig, BackgroundPool, collect_samples
    from ldmatte.matting.trainer import _BatchMaker

    class Stuck:
        def read(self, sample):
            threading.Event().wait()  # a read that never ends (a slow network file system)

    maker = _BatchMaker(collect_samples([dataset]), BackgroundPool("synthetic"), Stuck(), AugmentConfig(crop=64),
                        0, 1, 0, 1)  # fmt: skip
    stop = StopFlag()
    threading.Timer(0.3, stop.set, ("SIGTERM",)).start()
    t0 = time.monotonic()
    assert maker.get(0, stop) is None and time.monotonic() - t0 < 10
    maker.close()


def test_sigterm_stops_train_and_the_same_command_resumes(dataset, tmp_path):
    run = tmp_path / "run"
    args = [*CMD, *_train_args(dataset, run, "--val", "0")]
    args[args.index("--steps") + 1] = "100000"
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if (run / "run.json").is_file():  # written just before the loop starts
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "stopped by SIGTERM" in err and "Traceback" not in err
    assert json.loads((run / "checkpoint" / "trainer_state.json").read_text())["step"] >= 0


# --- options checked before the folder is claimed ----------------------------------------------------------------


@pytest.mark.parametrize("more, words", [
    (["--crop", "4096"], "crop must be a multiple of 32 from 64 to 2048, got 4096"),
    (["--crop", "128"], "crop 128 is larger than the smallest sample"),
    (["--model", "vitmatte-smal"], "model must be one of"),
    (["--backgrounds", "no-such-folder"], "backgrounds: no such folder"),
])  # fmt: skip
def test_refused_options_leave_no_folder(dataset, tmp_path, capsys, more, words):
    out = tmp_path / "run"
    assert main(_train_args(dataset, out, *more)) == 2
    line = _one_line(capsys.readouterr().err)
    assert words in line, line
    assert not out.exists()  # nothing claimed: the corrected command is not refused


def test_crop_message_names_the_sample_and_a_crop_that_fits(dataset, tmp_path):
    with pytest.raises(ValueError, match=r"\(syn/syn0-\d+, 96x96 pixels\): its crops would be upscaled; use --crop 96"):
        train(_cfg(dataset, tmp_path / "r", crop=128), log=lambda m: None)


def test_a_run_that_failed_before_its_first_checkpoint_takes_the_corrected_command(dataset, tmp_path):
    from ldmatte.files import OutputFolder, UsageError

    out = tmp_path / "run"
    OutputFolder.claim(out, "train-run", option=None, settings={"model": "vitmatte-tiny", "seed": 5})
    assert train(_cfg(dataset, out, steps=1), log=lambda m: None).step == 1  # only our marker: new settings
    marker = json.loads((out / MARKER).read_text())
    assert marker["settings"]["seed"] == 0
    other = tmp_path / "early"
    OutputFolder.claim(other, "train-run", option=None, settings={"seed": 5})
    (other / "split.json").write_text("{}")  # what a run writes before its first checkpoint
    assert train(_cfg(dataset, other, steps=1), log=lambda m: None).step == 1
    with pytest.raises(UsageError, match="seed"):  # a run with a checkpoint keeps its settings
        train(_cfg(dataset, other, steps=2, seed=3), log=lambda m: None)


def test_same_dataset_twice_is_refused(dataset, tmp_path, capsys):
    args = _train_args(dataset, tmp_path / "r")
    args.insert(2, str(dataset))  # train DS DS -o RUN ...
    assert main(args) == 2
    assert f"dataset {dataset} is given twice; name each dataset once" in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "r").exists()


# --- damaged weights, malformed configs ----------------------------------------------------------------------------


@pytest.fixture
def damaged(trained, tmp_path):
    import shutil

    ckpt = tmp_path / "damaged"
    shutil.copytree(trained[0] / "checkpoint", ckpt)
    data = (ckpt / "model.safetensors").read_bytes()
    (ckpt / "model.safetensors").write_bytes(data[: len(data) // 2])  # truncated
    return ckpt


def test_damaged_weights_in_predict_are_one_line(trained, damaged, tmp_path, capsys):
    _, bench = trained
    assert main(["predict", str(damaged), str(bench / "image"), "--trimaps", str(bench / "trimap"), "-o",
                 str(tmp_path / "p"), "--device", "cpu", "--no-progress"]) == 2  # fmt: skip
    line = _one_line(capsys.readouterr().err)
    assert f"{damaged / 'model.safetensors'}: damaged or not a safetensors file" in line
    assert not (tmp_path / "p").exists()


def test_damaged_weights_in_train_init_are_one_line(dataset, damaged, tmp_path, capsys):
    assert main(_train_args(dataset, tmp_path / "r", "--init", damaged)) == 2
    assert "model.safetensors: damaged or not a safetensors file" in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "r").exists()


def test_damaged_weights_through_the_library_loader(damaged):
    from ldmatte.matting import load_predictor

    with pytest.raises(ValueError, match="damaged or not a safetensors file"):
        load_predictor(damaged, device="cpu")  # what video --model uses


def test_malformed_config_names_the_file(trained, tmp_path, capsys):
    import shutil

    ckpt = tmp_path / "ckpt"
    shutil.copytree(trained[0] / "checkpoint", ckpt)
    (ckpt / "config.json").write_text('{"model_type": "vitmatte", ')
    assert main(["predict", str(ckpt), "--benchmark", "ldmatte", str(trained[1]), "-o", str(tmp_path / "p"),
                 "--no-progress"]) == 2  # fmt: skip
    assert f"{ckpt / 'config.json'}: not a valid JSON config" in _one_line(capsys.readouterr().err)


# --- messages that blame the right thing; faults exit 1 ------------------------------------------------------------


def test_benchmark_without_trimaps_names_the_trimap_folder(trained, tmp_path, capsys):
    import shutil

    bench = tmp_path / "bench"
    shutil.copytree(trained[1], bench)
    shutil.rmtree(bench / "trimap")
    assert main(["predict", str(trained[0]), "--benchmark", "ldmatte", str(bench), "-o", str(tmp_path / "out"),
                 "--no-progress"]) == 2  # fmt: skip
    line = _one_line(capsys.readouterr().err)
    assert f"no trimap folder {bench / 'trimap'}" in line and "out" not in line.replace(str(tmp_path), "")


@pytest.mark.parametrize("command", ["train", "predict"])
def test_read_only_output_is_a_fault(dataset, trained, capsys, read_only_folder, command):
    out = read_only_folder / "out"
    args = _train_args(dataset, out) if command == "train" else [
        "predict", str(trained[0]), "--benchmark", "ldmatte", str(trained[1]), "-o", str(out), "--no-progress"]
    assert main(args) == 1
    assert _one_line(capsys.readouterr().err) == f"ldmatte {command}: {out}: read-only file system"


# --- named pipes: refused from their stat, never opened (under a watchdog: a regression fails, never hangs) -------


def _within(seconds, fn, *args):
    """``fn(*args)`` in a daemon thread; fails the test if it has not returned after ``seconds``."""
    out = {}

    def target():
        try:
            out["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still blocked after {seconds} s (a named pipe was opened?)"
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_named_pipe_image_in_predict(trained, tmp_path, capsys):
    import shutil

    run, bench = trained
    images, trimaps = tmp_path / "image", tmp_path / "trimap"
    shutil.copytree(bench / "image", images)
    shutil.copytree(bench / "trimap", trimaps)
    os.mkfifo(images / "zz.png")
    shutil.copy(next(iter(sorted(trimaps.iterdir()))), trimaps / "zz.png")
    assert _within(120, main, ["predict", str(run), str(images), "--trimaps", str(trimaps), "-o", str(tmp_path / "p"),
                               "--device", "cpu", "--no-progress"]) == 1  # fmt: skip
    err = capsys.readouterr().err
    assert "zz: cannot read the image: not a regular file (a named pipe)" in err
    assert "Traceback" not in err and len(list((tmp_path / "p").glob("*.png"))) == 6


def test_named_pipe_in_eval_and_in_train_backgrounds(trained, dataset, tmp_path, capsys):
    import shutil

    run, bench = trained
    pred = tmp_path / "pred"
    shutil.copytree(bench / "alpha", pred)
    victim = sorted(pred.iterdir())[0]
    victim.unlink()
    os.mkfifo(victim)
    assert _within(120, main, ["eval", str(pred), str(bench / "alpha"), "--quiet"]) == 1
    assert "not a regular file (a named pipe)" in capsys.readouterr().err
    bgs = tmp_path / "bgs"
    bgs.mkdir()
    os.mkfifo(bgs / "a.jpg")
    (bgs / "b.png").write_bytes((bench / "image" / sorted(os.listdir(bench / "image"))[0]).read_bytes())
    args = _train_args(dataset, tmp_path / "r", "--val", "0")
    args[args.index("--backgrounds") + 1] = str(bgs)
    assert _within(120, main, args) == 0
    err = capsys.readouterr().err
    assert "backgrounds: skipping unreadable" in err and "a.jpg: not a regular file (a named pipe)" in err


def test_every_reader_refuses_a_named_pipe(tmp_path):
    import cv2

    from ldmatte.io import ImageReadError, imread, read_gray, read_image, read_rgb, read_rgba
    from ldmatte.matting.benchmarks import read_trimap
    from ldmatte.matting.data import Sample, SampleReader
    from ldmatte.matting.evaluate import read_matte

    pipe = tmp_path / "p.png"
    os.mkfifo(pipe)
    for reader in (imread, read_gray, read_image, read_rgb, read_rgba, read_trimap, read_matte,
                   lambda p: imread(p, cv2.IMREAD_GRAYSCALE)):  # fmt: skip
        with pytest.raises(ValueError, match="not a regular file"):
            _within(30, reader, pipe)
    (tmp_path / "fg").mkdir()
    (tmp_path / "alpha").mkdir()
    os.mkfifo(tmp_path / "fg" / "s.png")
    _png(tmp_path / "alpha" / "s.png")
    with pytest.raises(ValueError, match=r"sample s: fg or alpha missing or unreadable \(not a regular file"):
        _within(30, SampleReader().read, Sample(str(tmp_path), "s"))
    with pytest.raises(ImageReadError):
        imread(tmp_path / "missing.png")
    assert np.array_equal(imread(_png(tmp_path / "a.png")), np.full((3, 4), 7, np.uint8))


def _png(path):
    from ldmatte.io import write_png_atomic

    write_png_atomic(path, np.full((3, 4), 7, np.uint8))
    return path
