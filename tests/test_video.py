"""ldmatte video: tiny synthetic clips through the whole command, evaluation, propagation, segmenter protocol."""
from __future__ import annotations

import json
import math
import os

import cv2
import numpy as np
import pytest

av = pytest.importorskip("av")
pytest.importorskip("pymatting")

from ldmatte.cli import main  # noqa: E402
from ldmatte.video import reader  # noqa: E402
from ldmatte.video.background import BackgroundSettings  # noqa: E402
from ldmatte.video.evaluate import evaluate_video  # noqa: E402
from ldmatte.video.pipeline import VideoMattingSettings, matte_video  # noqa: E402
from ldmatte.video.segmentation import FolderMasks, Segmenter, SegmenterUnavailable  # noqa: E402
from ldmatte.video.synthetic import make_video, write_video  # noqa: E402
from ldmatte.video.trimaps import default_band_width, extend_band, mask_trimap, subject_band_width  # noqa: E402

N = 8


@pytest.fixture(scope="module")
def clip_files(tmp_path_factory):
    work = tmp_path_factory.mktemp("clip")
    clip = make_video(N, 64, seed=3)
    mp4 = work / "clip.mp4"
    write_video(mp4, clip.frames, fps=12, audio=True)
    mkv = work / "clip.mkv"
    write_video(mkv, clip.frames, fps=12)
    mask = work / "first.png"
    cv2.imwrite(str(mask), clip.first_mask)
    gt = work / "gt"
    gt.mkdir()
    for i, a in enumerate(clip.alphas):
        cv2.imwrite(str(gt / f"{i:06d}.png"), a)
    return {"clip": clip, "mp4": mp4, "mkv": mkv, "mask": mask, "gt": gt, "dir": work}


def _decode(path, codec=None):
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        if codec is None:
            frames = [f.to_ndarray(format="rgba") for f in c.decode(stream)]
        else:  # the libvpx decoder reads VP9's alpha channel; FFmpeg's own vp9 decoder drops it
            ctx = av.codec.CodecContext.create(codec, "r")
            frames = [f.to_ndarray(format="rgba") for p in c.demux(stream) if p.size for f in ctx.decode(p)]
            frames += [f.to_ndarray(format="rgba") for f in ctx.decode(None)]
        return frames, bool(c.streams.audio)


def test_probe_and_read(clip_files):
    info = reader.probe(clip_files["mp4"])
    assert (info.width, info.height, float(info.fps), info.has_audio) == (64, 64, 12.0, True)
    frames = list(reader.iter_frames(clip_files["mkv"]))
    assert len(frames) == N and np.array_equal(frames[3], clip_files["clip"].frames[3])  # FFV1 is lossless
    cv_frames = list(reader.iter_frames(clip_files["mkv"], backend="opencv"))
    assert len(cv_frames) == N and cv_frames[0].shape == (64, 64, 3)
    with pytest.raises(reader.VideoReadError, match="no such file"):
        reader.probe(clip_files["dir"] / "missing.mp4")
    junk = clip_files["dir"] / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 10)
    with pytest.raises(reader.VideoReadError, match="junk.mp4"):
        reader.probe(junk)


def test_command_writes_everything_and_resumes(clip_files, tmp_path, capsys):
    out = tmp_path / "out"
    args = [
        "video", str(clip_files["mp4"]), "-o", str(out), "--mask", str(clip_files["mask"]),
        "--format", "png,webm,preview",
    ]  # fmt: skip
    assert main(args) == 0
    names = [f"{i:06d}.png" for i in range(N)]
    assert sorted(os.listdir(out / "alpha")) == names and sorted(os.listdir(out / "rgba")) == names
    rgba = cv2.imread(str(out / "rgba" / names[2]), cv2.IMREAD_UNCHANGED)
    alpha = cv2.imread(str(out / "alpha" / names[2]), cv2.IMREAD_UNCHANGED)
    assert rgba.shape == (64, 64, 4) and np.array_equal(rgba[..., 3], alpha)
    webm, _ = _decode(out / "alpha.webm", "libvpx-vp9")
    assert len(webm) == N and np.abs(webm[2][..., 3].astype(int) - alpha).mean() < 3
    preview, has_audio = _decode(out / "preview.mp4")
    assert len(preview) == N and preview[0].shape[:2] == (64, 128) and has_audio
    assert "8 frames (8 matted, 0 already done)" in capsys.readouterr().out
    # The clip's frames are well matted from the first-frame mask.
    ev = evaluate_video(out / "alpha", clip_files["gt"])
    assert not ev["failures"] and len(ev["frames"]) == N and ev["mean"]["sad"] < 0.3
    # A rerun skips every frame; a frame removed is matted again, the others are left as they are.
    stamps = {n: os.stat(out / "alpha" / n).st_mtime_ns for n in names}
    os.remove(out / "alpha" / names[5])
    assert main(args) == 0
    assert "8 frames (1 matted, 7 already done)" in capsys.readouterr().out
    assert all(os.stat(out / "alpha" / n).st_mtime_ns == stamps[n] for n in names if n != names[5])
    again = cv2.imread(str(out / "alpha" / names[5]), cv2.IMREAD_UNCHANGED)
    assert np.abs(again.astype(int) - cv2.imread(str(out / "alpha" / names[4]), 0).astype(int)).mean() < 20
    assert len(_decode(out / "alpha.webm", "libvpx-vp9")[0]) == N


def test_prores_with_alpha(clip_files, tmp_path):
    out = tmp_path / "mov"
    assert main(["video", str(clip_files["mkv"]), "-o", str(out), "--mask", str(clip_files["mask"]),
                 "--format", "mov", "--max-frames", "3", "-q"]) == 0  # fmt: skip
    frames, _ = _decode(out / "alpha.mov")
    alpha = cv2.imread(str(out / "alpha" / "000001.png"), cv2.IMREAD_UNCHANGED)
    assert len(frames) == 3 and np.abs(frames[1][..., 3].astype(int) - alpha).max() <= 2
    assert not (out / "rgba").exists()


def test_refusals(clip_files, tmp_path, capsys):
    base = ["video", str(clip_files["mkv"]), "--mask", str(clip_files["mask"]), "-q"]
    assert main([*base, "-o", str(clip_files["dir"])]) == 2  # the output holds the input
    assert "ldmatte video:" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("not ours")
    assert main([*base, "-o", str(other)]) == 2
    assert "not empty" in capsys.readouterr().err and (other / "keep.txt").exists()
    assert main([*base, "-o", str(tmp_path / "x"), "--format", "gif"]) == 2
    assert main([*base, "-o", str(tmp_path / "y"), "--model", str(tmp_path / "no-such-run")]) == 2
    for opt in ("--background-history", "--detail-reach"):
        assert main([*base, "-o", str(tmp_path / "w"), opt, "-1"]) == 2
        assert f"{opt} must be >= 0" in capsys.readouterr().err
    missing = tmp_path / "none.mp4"
    assert main(["video", str(missing), "-o", str(tmp_path / "z"), "--mask", str(clip_files["mask"])]) == 2


def test_missing_encoder_degrades(clip_files, tmp_path, monkeypatch, capsys):
    from ldmatte.video import outputs

    real = outputs.encoder_for
    monkeypatch.setattr(outputs, "encoder_for", lambda fmt: None if fmt == "webm" else real(fmt))
    out = tmp_path / "out"
    code = main(["video", str(clip_files["mkv"]), "-o", str(out), "--mask", str(clip_files["mask"]),
                 "--format", "png,webm", "--max-frames", "2", "-q"])  # fmt: skip
    assert code == 1 and "webm: skipped" in capsys.readouterr().err
    assert len(os.listdir(out / "rgba")) == 2 and not (out / "alpha.webm").exists()


def test_masks_folder_and_fake_segmenter(clip_files, tmp_path):
    clip = clip_files["clip"]
    masks = tmp_path / "masks"
    masks.mkdir()
    for i, a in enumerate(clip.alphas):
        cv2.imwrite(str(masks / f"m{i:03d}.png"), np.where(a > 127, 255, 0).astype(np.uint8))
    assert main(["video", str(clip_files["mkv"]), "-o", str(tmp_path / "o1"), "--masks", str(masks), "-q",
                 "--format", "png"]) == 0  # fmt: skip
    assert len(FolderMasks(masks)) == N

    class Fake:
        def __init__(self):
            self.calls = []

        def segment(self, frame, index):
            self.calls.append((index, frame.shape))
            return clip.alphas[index] > 127

    fake = Fake()
    assert isinstance(fake, Segmenter)
    seen = []
    res = matte_video(clip_files["mkv"], tmp_path / "o2", fake, VideoMattingSettings(formats=("png",)),
                      on_frame=seen.append)  # fmt: skip
    assert fake.calls == [(i, (64, 64, 3)) for i in range(N)] and res.matted == N
    assert [f.index for f in seen] == list(range(N)) and all(f.trimap is not None for f in seen)
    assert all(np.array_equal(f.mask > 127, clip.alphas[f.index] > 127) for f in seen)
    # Too few masks: one clear error.
    os.remove(masks / f"m{N - 1:03d}.png")
    with pytest.raises(ValueError, match="7 masks for 8 frames"):
        matte_video(clip_files["mkv"], tmp_path / "o3", FolderMasks(masks), VideoMattingSettings(formats=("png",)))


def test_batched_backend_chunks(clip_files, tmp_path):
    class Half:  # a stand-in for a GPU model: batches of 3, unknown band at 0.5
        name, batch_size = "half", 3

        def __init__(self):
            self.batches = []

        def predict(self, images, trimaps):
            self.batches.append(len(images))
            return np.where(trimaps == 128, 128, trimaps).astype(np.uint8)

    backend = Half()
    res = matte_video(clip_files["mkv"], tmp_path / "o", clip_files["clip"].first_mask,
                      VideoMattingSettings(formats=("png",)), matting=backend)  # fmt: skip
    assert backend.batches == [3, 3, 2] and res.frames == N and res.info["matting"] == "half"


def test_sam2_unavailable_is_clear(clip_files, tmp_path, capsys):
    try:
        import sam2  # noqa: F401

        pytest.skip("sam2 is installed")
    except ImportError:
        pass
    from ldmatte.video.segmentation import SAM2Segmenter

    with pytest.raises(SegmenterUnavailable, match="sam2 package"):
        SAM2Segmenter(clip_files["clip"].first_mask, "w.safetensors", "cfg.yaml")
    assert main(["video", str(clip_files["mkv"]), "-o", str(tmp_path / "o"), "--segmenter", "sam2",
                 "--first-mask", str(clip_files["mask"])]) == 2  # fmt: skip
    assert "sam2 package" in capsys.readouterr().err


def test_evaluate_video_by_hand(tmp_path):
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir(), gt.mkdir()
    g0 = np.zeros((4, 5), np.uint8)
    g1 = g0.copy()
    g1[:, :2] = 255
    p0 = g0.copy()
    p0[0, 0] = 255  # one pixel wrong by 1
    p1 = g1.copy()
    p1[0, 0] = 0  # the same pixel wrong the other way
    for name, p, g in (("a.png", p0, g0), ("b.png", p1, g1)):
        cv2.imwrite(str(pred / name), p)
        cv2.imwrite(str(gt / name), g)
    cv2.imwrite(str(pred / "c.png"), np.zeros((3, 3), np.uint8))  # size differs
    cv2.imwrite(str(gt / "c.png"), g0)
    cv2.imwrite(str(gt / "d.png"), g0)  # no prediction
    r = evaluate_video(pred, gt)
    assert [f["name"] for f in r["frames"]] == ["a.png", "b.png"]
    assert r["frames"][0]["sad"] == pytest.approx(1 / 1000) and r["frames"][0]["mse"] == pytest.approx(1 / 20)
    assert r["mean"]["sad"] == pytest.approx(1 / 1000) and r["mean"]["mse"] == pytest.approx(1 / 20)
    # dtSSD of the pair: the temporal error is -2 at one pixel of 20: sqrt(4 / 20) * 100.
    assert r["mean"]["dtssd"] == pytest.approx(math.sqrt(4 / 20) * 100)
    assert {f["name"]: f["reason"] for f in r["failures"]} == {"c.png": "size 3x3 differs from the ground truth's 5x4",
                                                              "d.png": "no predicted alpha"}  # fmt: skip
    assert set(r["mean"]) == {"sad", "mse", "mad", "grad", "conn", "dtssd"} and "dtSSD" in r["convention"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert math.isnan(evaluate_video(empty, gt)["mean"]["dtssd"])


def test_trimap_band_scales():
    assert default_band_width(64, 64) == 4 and default_band_width(2160, 3840) == 66
    m = np.zeros((40, 40), np.uint8)
    m[:, 20:] = 255
    for width in (0, 4, 10):
        tri = mask_trimap(m, width)
        assert (tri[20] == 128).sum() == width


def test_detail_band_is_bounded_and_not_fed_back(clip_files, tmp_path):
    m = np.zeros((30, 30), np.uint8)
    m[:, 20:] = 255
    tri = mask_trimap(m, 4)
    everywhere = np.ones((30, 30), np.float32)  # a hint that sees detail all over the background
    wide = extend_band(tri, m, everywhere, reach=2, limit=6)
    assert (wide[:, :14] == 0).all() and (wide[:, 14:22] == 128).all() and (wide[:, 22:] == 255).all()
    assert np.array_equal(extend_band(tri, m, np.zeros_like(everywhere), 2, 6), tri)  # no detail: unchanged

    class All:  # a matte that calls the unknown band foreground and sees faint detail 2 px past it
        name, batch_size = "all", 1

        def predict(self, images, trimaps):
            near = np.stack([cv2.dilate((t > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) for t in trimaps])
            return np.where(trimaps > 0, 255, np.where(near > 0, 40, 0)).astype(np.uint8)

    clip = clip_files["clip"]
    runs = {}
    for reach in (0.0, 3.0):
        seen = []
        matte_video(clip_files["mkv"], tmp_path / f"o{reach}", clip.first_mask,
                    VideoMattingSettings(formats=("png",), detail_reach=reach, background=BackgroundSettings(history=0)),
                    matting=All(), on_frame=seen.append)  # fmt: skip
        runs[reach] = seen
    # The widened band reaches farther than the mask's own band, but the mask does not follow it out.
    band = [((f.trimap > 0) & (f.trimap < 255)).sum() for f in runs[3.0]]
    plain = [((f.trimap > 0) & (f.trimap < 255)).sum() for f in runs[0.0]]
    assert band[0] == plain[0] and all(b > p for b, p in zip(band[1:], plain[1:]))
    assert all(np.array_equal(a.mask, b.mask) for a, b in zip(runs[0.0], runs[3.0]))


def test_background_plate_corrects_trimaps_and_is_recorded(clip_files, tmp_path):
    clip = clip_files["clip"]
    runs = {}
    for history in (0, 16):
        seen = []
        out = tmp_path / f"h{history}"
        matte_video(clip_files["mkv"], out, clip.first_mask,
                    VideoMattingSettings(formats=("png",), background=BackgroundSettings(history=history)),
                    on_frame=seen.append)  # fmt: skip
        runs[history] = seen
        marker = json.loads((out / ".ldmatte-output.json").read_text())
        assert marker["settings"]["background"]["history"] == history
    # The command passes both options through (recorded in the folder's marker).
    out = tmp_path / "cli"
    assert main(["video", str(clip_files["mkv"]), "-o", str(out), "--mask", str(clip_files["mask"]), "--format", "png",
                 "--background-history", "0", "--detail-reach", "1.5", "--max-frames", "2", "-q"]) == 0
    recorded = json.loads((out / ".ldmatte-output.json").read_text())["settings"]
    assert recorded["background"]["history"] == 0 and recorded["detail_reach"] == 1.5
    assert np.array_equal(runs[0][0].trimap, runs[16][0].trimap)  # nothing remembered on the first frame
    assert any(not np.array_equal(a.trimap, b.trimap) for a, b in zip(runs[0][1:], runs[16][1:]))
    sad = {h: np.mean([np.abs(f.alpha.astype(float) - g).sum() for f, g in zip(runs[h], clip.alphas)]) for h in runs}
    assert sad[16] < sad[0]


@pytest.mark.slow  # importing torch and transformers dominates (seconds on a quiet machine)
def test_trained_model_checkpoint(clip_files, tmp_path):
    """A ViTMatte checkpoint folder (tiny, random weights) mattes the video in batches through --model."""
    pytest.importorskip("transformers")
    from ldmatte.matting.model import build_model, save_model

    ckpt = tmp_path / "ckpt"
    save_model(build_model("vitmatte-tiny", seed=0), ckpt)
    out = tmp_path / "out"
    assert main(["video", str(clip_files["mkv"]), "-o", str(out), "--mask", str(clip_files["mask"]), "--model",
                 str(ckpt), "--device", "cpu", "--batch-size", "3", "--max-frames", "4", "--format", "png", "-q"]) == 0
    alpha = cv2.imread(str(out / "alpha" / "000000.png"), cv2.IMREAD_UNCHANGED)
    first = cv2.imread(str(clip_files["mask"]), 0)
    tri = mask_trimap(first, subject_band_width(first, default_band_width(64, 64)))  # narrowed: a small subject
    assert alpha.shape == (64, 64) and len(os.listdir(out / "alpha")) == 4
    # The first frame's trimap comes from the given mask: its known regions are kept (random weights elsewhere).
    assert (alpha[tri == 0] == 0).all() and (alpha[tri == 255] == 255).all()
