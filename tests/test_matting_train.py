"""Training a tiny ViTMatte: data pipeline, losses, checkpoints and resume, logs and plot, CLI train -> predict."""
from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from ldmatte.cli import main  # noqa: E402
from ldmatte.matting import TrainConfig, read_log, train, write_heldout_set  # noqa: E402
from ldmatte.matting.data import (AugmentConfig, BackgroundPool, Sample, SampleReader, collect_samples,  # noqa: E402
                                  nested_subset, seeded_rng, split_samples, training_example)  # fmt: skip
from ldmatte.matting.losses import matting_loss  # noqa: E402


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from ldmatte.dataset import SyntheticSource, build

    root = tmp_path_factory.mktemp("ds") / "syn"
    build(SyntheticSource(6, seed=0, size=96), root, progress=False)
    return root


def _cfg(dataset, out, **kw):
    base = dict(datasets=[dataset], output=str(out), backgrounds="synthetic", steps=3, batch=2, crop=64,
                device="cpu", val=0.34, log_every=1, val_every=2, save_every=2, progress=False)  # fmt: skip
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def run(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    first = train(_cfg(dataset, out), log=lambda m: None)
    return out, first


def test_example_pipeline(dataset):
    samples = collect_samples([dataset])
    fg, alpha = SampleReader().read(samples[0])
    aug = AugmentConfig(crop=64)
    image, tri, a = training_example(fg, alpha, BackgroundPool("synthetic"), seeded_rng(0, 1), aug)
    assert image.shape == (64, 64, 3) and tri.shape == a.shape == (64, 64)
    assert set(np.unique(tri).tolist()) <= {0, 128, 255}
    assert (a[tri == 255] == 255).all() and (a[tri == 0] == 0).all()  # known regions are true to the alpha
    again = training_example(fg, alpha, BackgroundPool("synthetic"), seeded_rng(0, 1), aug)
    np.testing.assert_array_equal(image, again[0])  # reproducible from the seed


def test_split_and_subsets():
    s = [Sample("/d", f"{i}") for i in range(30)]
    train_s, val_s = split_samples(s, 0.1, seed=3)
    assert len(val_s) == 3 and not set(train_s) & set(val_s) and split_samples(s, 0.1, seed=3)[1] == val_s
    assert set(nested_subset(train_s, 5, 0)) <= set(nested_subset(train_s, 12, 0))
    with pytest.raises(ValueError):
        split_samples(s[:1], 0.5, 0)


def test_losses():
    gt = torch.rand(2, 1, 32, 32)
    unknown = (torch.rand(2, 1, 32, 32) > 0.5).float()
    same = matting_loss(gt.clone(), gt, unknown)
    assert all(float(v) == pytest.approx(0.0, abs=1e-6) for v in same.values())
    pred = torch.full_like(gt, 0.5, requires_grad=True)
    terms = matting_loss(pred, gt, unknown)
    terms["loss"].backward()
    assert terms["l1"].item() > 0 and terms["laplacian"].item() > 0 and pred.grad.abs().sum() > 0
    outside = pred.detach().clone()
    outside[unknown == 0] = 0.0  # errors outside the unknown region do not count
    assert matting_loss(outside, gt, unknown)["l1"].item() == pytest.approx(terms["l1"].item())


def test_run_folder(run):
    out, first = run
    assert first.step == 3 and first.resumed_from == 0 and first.val is not None and first.baseline is not None
    for name in ("checkpoint/config.json", "checkpoint/model.safetensors", "checkpoint/optimizer.safetensors",
                 "checkpoint/trainer_state.json", "log.jsonl", "curve.png", "split.json", "run.json",
                 ".ldmatte-output.json"):  # fmt: skip
        assert (out / name).is_file(), name
    split = json.loads((out / "split.json").read_text())
    assert len(split["val"]) == 2 and not set(split["val"]) & set(split["train"])
    log = read_log(out)
    assert [r["step"] for r in log if "loss" in r] == [1, 2, 3]
    assert [r["step"] for r in log if "val" in r] == [0, 2, 3]
    assert not [n for n in os.listdir(out) if n.startswith("checkpoint.")]  # no half-written checkpoint left


def test_resume_continues(run, dataset):
    out, _ = run
    second = train(_cfg(dataset, out, steps=5), log=lambda m: None)
    assert second.resumed_from == 3 and second.step == 5
    steps = [r["step"] for r in read_log(out) if "loss" in r]
    assert steps == [1, 2, 3, 4, 5]
    state = json.loads((out / "checkpoint" / "trainer_state.json").read_text())
    assert state["step"] == 5
    done = train(_cfg(dataset, out, steps=5), log=lambda m: None)  # nothing left: no new step
    assert done.step == 5 and done.val is not None


def test_stop_flag_saves(dataset, tmp_path):
    class Stop:
        def is_set(self):
            return True

    r = train(_cfg(dataset, tmp_path / "r", steps=50), stop=Stop(), log=lambda m: None)
    assert r.interrupted and r.step == 0 and (tmp_path / "r" / "checkpoint" / "model.safetensors").is_file()


def test_refuses_foreign_folder_and_changed_settings(dataset, tmp_path, run):
    from ldmatte.files import UsageError

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty"):
        train(_cfg(dataset, foreign), log=lambda m: None)
    with pytest.raises(UsageError, match="seed"):
        train(_cfg(dataset, run[0], seed=9), log=lambda m: None)
    with pytest.raises(ValueError, match="steps"):
        train(_cfg(dataset, tmp_path / "x", steps=None), log=lambda m: None)


def test_cli_train_predict_eval(dataset, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", str(dataset), "-o", str(run), "--backgrounds", "synthetic", "--steps", "2", "--batch", "2",
                 "--crop", "64", "--device", "cpu", "--val", "0.2", "--no-progress"]) == 0  # fmt: skip
    assert "held-out SAD" in capsys.readouterr().out
    bench = tmp_path / "bench"
    names = write_heldout_set([dataset], bench, seed=5, max_side=80, kernel=5)
    assert len(names) == 6
    out = tmp_path / "pred"
    assert main(["predict", str(run), str(bench / "image"), "--trimaps", str(bench / "trimap"), "-o", str(out),
                 "--device", "cpu", "--batch", "4", "--no-progress"]) == 0  # fmt: skip
    for name in names:
        alpha = cv2.imread(str(out / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        tri = cv2.imread(str(bench / "trimap" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
        assert alpha.shape == tri.shape and alpha.dtype == np.uint8
        assert (alpha[tri == 0] == 0).all() and (alpha[tri == 255] == 255).all()
    assert main(["eval", str(out), "--benchmark", "ldmatte", str(bench), "--quiet"]) == 0
    # predict refuses to write over a folder it did not make, and inputs inside the output
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("keep")
    assert main(["predict", str(run), "--benchmark", "ldmatte", str(bench), "-o", str(other), "--device", "cpu",
                 "--no-progress"]) == 2  # fmt: skip
    assert main(["predict", str(run), "--benchmark", "ldmatte", str(bench), "-o", str(bench / "p"),
                 "--no-progress"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "not empty" in err and "Traceback" not in err


def test_unreadable_sample_is_skipped(dataset, tmp_path, capsys):
    import shutil

    copy = tmp_path / "broken"
    shutil.copytree(dataset, copy)
    victim = sorted((copy / "fg").glob("*.png"))[0]
    victim.write_bytes(b"not a png")
    r = train(_cfg(copy, tmp_path / "run", steps=4, batch=3, val=0.0), log=lambda m: None)
    assert r.step == 4 and not r.interrupted
    assert f"{victim.stem}: fg or alpha missing or unreadable" in capsys.readouterr().err
