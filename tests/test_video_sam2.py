"""ldmatte video --segmenter sam2: SAM 2's video predictor with random weights on the CPU, frames streamed.

A SAM 2.1 tiny config shrunk further (128-pixel input, fewer blocks, a short memory) is built once with random
weights and saved as a local checkpoint. The streamed inference state must give what sam2's own
init_state / propagate_in_video give on the same frames, while holding a bounded number of frames.
"""
from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest

from ldmatte.video.segmentation import SegmenterUnavailable

CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
# The tiny config shrunk for a fast CPU test: a short memory (3 mask memories, 4 object pointers) so that
# outputs fall behind the window within a few frames.
TINY = ("model.image_size=128", "model.image_encoder.trunk.stages=[1,1,2,1]",
        "model.image_encoder.trunk.global_att_blocks=[3]", "model.memory_attention.num_layers=1",
        "model.memory_attention.layer.dim_feedforward=256", "model.memory_encoder.fuser.num_layers=1",
        "model.num_maskmem=3", "model.max_obj_ptrs_in_encoder=4")  # fmt: skip
N = 10


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    pytest.importorskip("sam2")
    torch = pytest.importorskip("torch")
    from omegaconf import OmegaConf

    from ldmatte.video.sam2_segmenter import build_sam2_predictor, model_config

    work = tmp_path_factory.mktemp("sam2")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: one thread is as fast, and does not spin on a busy machine
    torch.manual_seed(0)
    predictor = build_sam2_predictor(None, CONFIG, "cpu", TINY)
    with torch.no_grad():  # random weights: make the object-presence head say "present", so masks are not empty
        predictor.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.fill_(10.0)
    ckpt = work / "tiny.pt"
    torch.save({"model": predictor.state_dict()}, ckpt)  # SAM 2's published layout
    config = work / "tiny.yaml"
    OmegaConf.save(model_config(CONFIG, TINY), config)
    yield {"predictor": predictor, "ckpt": ckpt, "config": config, "dir": work}
    torch.set_num_threads(threads)


def moving_disc():
    """N frames of a textured disc moving over noise, 72 x 96, and the first frame's disc."""
    rng = np.random.default_rng(0)
    h, w = 72, 96
    yy, xx = np.mgrid[:h, :w]
    out = []
    for t in range(N):
        f = (rng.random((h, w, 3)) * 60).astype(np.uint8)
        disc = (xx - 30 - 2 * t) ** 2 + (yy - 36) ** 2 < 15**2
        f[disc] = (180 + 40 * np.sin(xx[disc] / 3))[:, None].astype(np.uint8)
        out.append(f)
    return out, (xx - 30) ** 2 + (yy - 36) ** 2 < 15**2


@pytest.fixture(scope="module")
def frames():
    return moving_disc()


def test_streamed_state_equals_sam2_own_and_stays_bounded(tiny, frames, tmp_path):
    import torch

    from ldmatte.video.sam2_segmenter import SAM2Segmenter

    pred = tiny["predictor"]
    video, first = frames
    # sam2's own path reads a folder of JPEGs: give both the same decoded pixels.
    for i, f in enumerate(video):
        cv2.imwrite(str(tmp_path / f"{i:05d}.jpg"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 100])
    decoded = [cv2.cvtColor(cv2.imread(str(tmp_path / f"{i:05d}.jpg")), cv2.COLOR_BGR2RGB) for i in range(N)]
    with torch.inference_mode():
        state = pred.init_state(str(tmp_path))  # every frame loaded up front
        pred.add_new_mask(state, 0, 1, first)
        ref = {i: (m[0, 0] > 0).numpy() for i, _, m in pred.propagate_in_video(state)}
    seg = SAM2Segmenter(first, predictor=pred, frame_count=N, fill_holes=0)  # sam2 fills no holes without _C
    assert seg.memory_window < N - 2  # the test reaches past the window
    for i, f in enumerate(decoded):
        mask = seg.segment(f, i)
        assert mask.shape == first.shape and mask.dtype == np.uint8
        if i == 0:
            assert ((mask > 0) == first).all()  # the prompt itself
        else:
            assert ((mask > 0) == ref[i]).all(), f"frame {i}"
            assert 0 < (mask > 0).mean() < 1
        assert seg.frames_held <= 2
        assert seg.memory_frames <= seg.memory_window + 1  # the prompted frame and the window
        assert len(seg.state["frames_tracked_per_obj"][0]) <= seg.memory_window + 1
    assert 0 in seg.state["output_dict_per_obj"][0]["cond_frame_outputs"]  # the anchor stays
    with pytest.raises(ValueError, match="in order"):
        seg.segment(decoded[0], 3)


def test_command_with_sam2(tiny, frames, tmp_path):
    av = pytest.importorskip("av")  # noqa: F841
    pytest.importorskip("pymatting")
    from ldmatte.cli import main
    from ldmatte.video.synthetic import write_video

    video, first = frames
    video = video[:6]
    clip = tmp_path / "clip.mkv"
    write_video(clip, video, fps=12)
    mask = tmp_path / "first.png"
    cv2.imwrite(str(mask), first.astype(np.uint8) * 255)
    out = tmp_path / "out"
    args = ["video", str(clip), "-o", str(out), "--segmenter", "sam2", "--first-mask", str(mask),
            "--segmenter-checkpoint", str(tiny["ckpt"]), "--segmenter-config", str(tiny["config"]),
            "--device", "cpu", "--format", "png", "-q"]  # fmt: skip
    assert main(args) == 0
    alphas = sorted((out / "alpha").glob("*.png"))
    assert len(alphas) == len(video) and len(list((out / "rgba").glob("*.png"))) == len(video)
    assert cv2.imread(str(alphas[-1]), cv2.IMREAD_GRAYSCALE).shape == first.shape
    assert "sam2:" in (out / ".ldmatte-output.json").read_text()  # a rerun must use the same segmenter


def test_checkpoints_and_configs(tiny, frames, tmp_path, capsys):
    import torch
    from safetensors.torch import save_file

    from ldmatte.cli import main
    from ldmatte.video.sam2_segmenter import build_sam2_predictor

    pred = tiny["predictor"]
    st = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in pred.state_dict().items()}, str(st))
    again = build_sam2_predictor(st, tiny["config"], "cpu")  # the YAML file, the safetensors weights
    assert all(torch.equal(a, b) for a, b in zip(pred.state_dict().values(), again.state_dict().values()))
    with pytest.raises(ValueError, match="does not fit"):  # another architecture
        build_sam2_predictor(tiny["ckpt"], CONFIG, "cpu", (*TINY, "model.num_maskmem=4"))
    partial = tmp_path / "partial.pt"
    torch.save({"model": dict(list(pred.state_dict().items())[1:])}, partial)
    with pytest.raises(ValueError, match="1 weights missing"):
        build_sam2_predictor(partial, CONFIG, "cpu", TINY)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a SAM 2 checkpoint"):
        build_sam2_predictor(junk, CONFIG, "cpu", TINY)
    bad = tmp_path / "junk.safetensors"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable safetensors"):
        build_sam2_predictor(bad, CONFIG, "cpu", TINY)
    with pytest.raises(ValueError, match="neither a config file nor"):
        build_sam2_predictor(tiny["ckpt"], "configs/no-such.yaml", "cpu")
    from ldmatte.video.synthetic import write_video

    video, first = frames
    write_video(tmp_path / "clip.mkv", video[:2], fps=12)
    mask = tmp_path / "m.png"
    cv2.imwrite(str(mask), first.astype(np.uint8) * 255)
    base = ["video", str(tmp_path / "clip.mkv"), "--segmenter", "sam2", "--first-mask", str(mask)]
    assert main([*base, "-o", str(tmp_path / "o1")]) == 2  # no checkpoint
    assert main([*base, "-o", str(tmp_path / "o2"), "--segmenter-checkpoint", str(junk)]) == 2
    err = capsys.readouterr().err
    assert "needs a local checkpoint" in err and "not a SAM 2 checkpoint" in err and "Traceback" not in err


def test_first_mask_must_hold_the_subject(tiny):
    from ldmatte.video.sam2_segmenter import SAM2Segmenter

    with pytest.raises(ValueError, match="empty"):
        SAM2Segmenter(np.zeros((8, 8), bool), predictor=tiny["predictor"])


def test_without_sam2_the_message_says_how(monkeypatch):
    from ldmatte.video.sam2_segmenter import SAM2Segmenter

    monkeypatch.setitem(sys.modules, "sam2", None)  # as if not installed
    with pytest.raises(SegmenterUnavailable, match=r"sam2 package .*ldmatte\[sam2\]"):
        SAM2Segmenter(np.ones((4, 4), bool), "w.pt")


def test_fill_small_holes_matches_a_plain_labelling():
    from scipy import ndimage

    from ldmatte.video.sam2_segmenter import fill_small_holes

    rng = np.random.default_rng(1)
    for trial in range(20):
        logits = rng.normal(size=(24, 32)).astype(np.float32) + (0.8 if trial % 2 else -0.2)
        area = int(rng.integers(1, 12))
        labels, n = ndimage.label(logits <= 0, structure=np.ones((3, 3)))
        sizes = ndimage.sum_labels(np.ones_like(labels), labels, index=np.arange(1, n + 1))
        small = np.isin(labels, np.flatnonzero(sizes <= area) + 1)
        want = np.where(small, np.float32(0.1), logits)
        np.testing.assert_array_equal(fill_small_holes(logits, area), want)
    np.testing.assert_array_equal(fill_small_holes(logits, 0), logits)


def test_streamed_frames_preprocess_like_sam2(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("sam2")
    from sam2.utils.misc import _load_img_as_tensor

    from ldmatte.video.sam2_segmenter import StreamedFrames

    frame = np.random.default_rng(2).integers(0, 256, (30, 50, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "f.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    img, h, w = _load_img_as_tensor(str(tmp_path / "f.png"), 64)  # sam2's loader, before normalising
    mean, std = (torch.tensor(v)[:, None, None] for v in (StreamedFrames.MEAN, StreamedFrames.STD))
    want = (img.float() - mean) / std
    frames = StreamedFrames(64, "cpu", keep=1)
    frames.add(0, frame)
    assert torch.equal(frames[0], want) and (h, w) == (30, 50)
    frames.add(1, frame)
    with pytest.raises(IndexError, match="streamed"):
        frames[0]


def test_bench_script_runs(tiny, tmp_path):
    import json
    import pathlib
    import subprocess

    root = pathlib.Path(__file__).resolve().parents[1]
    overrides = [a for o in TINY for a in ("--override", o)]
    script = root / "bench" / "video_sam2.py"
    proc = subprocess.run([sys.executable, str(script), "--frames", "8", "--size", "48", "--threads", "1", *overrides,
                           "--json", str(tmp_path / "r.json")], capture_output=True, text=True, timeout=300, cwd=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    row = json.loads((tmp_path / "r.json").read_text())["rows"][0]
    assert row["frames_held"] <= 2 and row["memory_frames"] <= row["memory_window"] + 1
    assert row["state_MB_end"] == row["state_MB_window_filled"]  # memory stopped growing


def test_sam2_started_by_the_person_prior(tiny, tmp_path):
    pytest.importorskip("ai_edge_litert")
    pytest.importorskip("av")
    pytest.importorskip("pymatting")
    from test_video_person import _frame, tiny_person_model

    from ldmatte.cli import main
    from ldmatte.video.synthetic import write_video

    model = tmp_path / "person.tflite"
    model.write_bytes(tiny_person_model())
    clip = tmp_path / "clip.mkv"
    write_video(clip, [_frame(30 + 2 * t)[0] for t in range(3)], fps=12)
    out = tmp_path / "out"
    assert main(["video", str(clip), "-o", str(out), "--segmenter", "sam2", "--person-model", str(model),
                 "--segmenter-checkpoint", str(tiny["ckpt"]), "--segmenter-config", str(tiny["config"]),
                 "--device", "cpu", "--format", "png", "-q"]) == 0  # fmt: skip
    alpha = cv2.imread(str(out / "alpha" / "000000.png"), cv2.IMREAD_GRAYSCALE) > 127
    person = _frame(30)[1]
    assert len(list((out / "alpha").glob("*.png"))) == 3 and (alpha & person).sum() / (alpha | person).sum() > 0.8
