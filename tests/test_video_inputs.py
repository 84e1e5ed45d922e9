"""ldmatte video's inputs: frame folders, id masks, mask folders, segmenters, truncated and resized streams, reruns."""
from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

av = pytest.importorskip("av")
pytest.importorskip("pymatting")

from ldmatte.cli import main  # noqa: E402
from ldmatte.video import masks as vmasks  # noqa: E402
from ldmatte.video.reader import FrameReader, count_frames, frame_files, probe  # noqa: E402
from ldmatte.video.synthetic import make_video, write_video  # noqa: E402

N = 6
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "video"


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    work = tmp_path_factory.mktemp("inputs")
    c = make_video(N, 48, seed=1)
    write_video(work / "clip.mkv", c.frames, fps=12)
    cv2.imwrite(str(work / "first.png"), c.first_mask)
    return {"clip": c, "dir": work, "mkv": work / "clip.mkv", "mask": work / "first.png"}


def _run(clip, out, *extra, source=None):
    return main(["video", str(source or clip["mkv"]), "-o", str(out), "--format", "png", "-q", *extra])


def _json(out):
    return json.loads((Path(out) / "video.json").read_text())


def _palette(path, ids: np.ndarray):
    from PIL import Image

    im = Image.fromarray(ids.astype(np.uint8), mode="P")
    im.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (253 * 3))
    im.save(path)


def test_frame_folder_natural_order_and_fps(clip, tmp_path, capsys):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i, f in enumerate(clip["clip"].frames):  # frame_1 ... frame_6: lexicographic order would differ at 10+
        cv2.imwrite(str(frames / f"frame_{i + 1}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    (frames / "frame_10.png").write_bytes((frames / "frame_6.png").read_bytes())
    os.remove(frames / "frame_6.png")
    assert [Path(p).name for p in frame_files(frames)][-2:] == ["frame_5.png", "frame_10.png"]
    info = probe(frames, fps=10)
    assert (info.width, info.height, float(info.fps), info.frame_count, info.backend) == (48, 48, 10.0, N, "images")
    out = tmp_path / "out"
    assert main(["video", str(frames), "-o", str(out), "--mask", str(clip["mask"]), "--format", "png,preview",
                 "--fps", "10", "-q"]) == 0  # fmt: skip
    assert len(os.listdir(out / "alpha")) == N
    with av.open(str(out / "preview.mp4")) as c:
        assert float(c.streams.video[0].average_rate) == 10.0 and sum(1 for _ in c.decode(video=0)) == N
    # A damaged frame image: the previous frame in its place, told, exit 1; the frames after it still run.
    data = (frames / "frame_3.png").read_bytes()
    (frames / "frame_3.png").write_bytes(data[: len(data) // 2])
    out = tmp_path / "damaged"
    assert main(["video", str(frames), "-o", str(out), "--mask", str(clip["mask"]), "--format", "png", "-q"]) == 1
    assert "1 frame image unreadable (" in capsys.readouterr().err and len(os.listdir(out / "alpha")) == N
    assert _json(out)["info"]["decoding"]["unreadable"][0].startswith(str(frames / "frame_3.png"))
    # --fps is for folders; a video file keeps its own rate.
    assert _run(clip, tmp_path / "o2", "--mask", str(clip["mask"]), "--fps", "10") == 2
    assert "--fps is for a folder" in capsys.readouterr().err and not (tmp_path / "o2").exists()


def test_non_finite_floats_refused(clip, tmp_path, capsys):
    for opt, value in (("--detail-reach", "inf"), ("--detail-reach", "nan"), ("--stabilise", "nan"),
                       ("--fps", "inf")):  # fmt: skip
        with pytest.raises(SystemExit) as exc:
            _run(clip, tmp_path / "o", "--mask", str(clip["mask"]), opt, value)
        assert exc.value.code == 2 and "must be a finite number" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # every float option of every command, not only video's
        main(["key", str(clip["mask"]), "-o", str(tmp_path / "k"), "--similarity", "inf"])
    assert "must be a finite number" in capsys.readouterr().err
    assert _run(clip, tmp_path / "o", "--mask", str(clip["mask"]), "--detail-reach", "1e300") == 2
    assert "--detail-reach must be <= 100" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_segmenter_loading_and_failing_frame(clip, tmp_path, monkeypatch, capsys):
    assert _run(clip, tmp_path / "o1", "--segmenter", "os:sep") == 2
    assert "not a factory" in capsys.readouterr().err and not (tmp_path / "o1").exists()
    assert _run(clip, tmp_path / "o1", "--segmenter", "no_such_module_x:make") == 2
    assert "cannot load it" in capsys.readouterr().err
    (tmp_path / "flaky_seg.py").write_text(
        "import numpy as np\n"
        "class Flaky:\n"
        "    def segment(self, frame, index):\n"
        "        if index == 3:\n"
        "            raise RuntimeError('lost the subject')\n"
        "        m = np.zeros(frame.shape[:2], bool); m[12:36, 14:34] = True\n"
        "        return m\n"
        "def make():\n"
        "    return Flaky()\n"
        "class Blind:\n"
        "    def segment(self, frame, index):\n"
        "        return np.zeros(frame.shape[:2], np.uint8)\n"
        "def broken():\n"
        "    raise OSError('no weights here')\n")  # fmt: skip
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _run(clip, tmp_path / "o2", "--segmenter", "flaky_seg:broken") == 2
    assert "the factory failed (OSError: no weights here)" in capsys.readouterr().err
    out = tmp_path / "o3"
    assert _run(clip, out, "--segmenter", "flaky_seg:make") == 1  # a lost mask is reported, the run finishes
    err = capsys.readouterr().err
    assert "masks of 1 frame lost (frame 3: RuntimeError: lost the subject)" in err and "Traceback" not in err
    assert len(os.listdir(out / "alpha")) == N
    assert _json(out)["info"]["masks"]["lost"] == [{"frame": 3, "reason": "RuntimeError: lost the subject"}]
    assert _run(clip, tmp_path / "o4", "--segmenter", "flaky_seg:Blind", "--max-frames", "2") == 0  # told, not silent
    assert "the segmenter's mask selects no pixel on 2 frames (frames 0, 1): matted as all background" in \
        capsys.readouterr().err
    sys.modules.pop("flaky_seg", None)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_named_pipes_refused(clip, tmp_path, capsys):
    fifo = tmp_path / "mask.png"
    os.mkfifo(fifo)
    assert _run(clip, tmp_path / "o1", "--mask", str(fifo)) == 2
    assert "named pipe" in capsys.readouterr().err and not (tmp_path / "o1").exists()
    folder = tmp_path / "masks"
    folder.mkdir()
    for i in range(N - 1):
        cv2.imwrite(str(folder / f"{i:05d}.png"), clip["clip"].first_mask)
    os.mkfifo(folder / f"{N - 1:05d}.png")
    assert _run(clip, tmp_path / "o2", "--masks", str(folder)) == 2
    assert "named pipe" in capsys.readouterr().err and not (tmp_path / "o2").exists()
    video = tmp_path / "video.mkv"
    os.mkfifo(video)
    assert _run(clip, tmp_path / "o3", "--mask", str(clip["mask"]), source=video) == 2
    assert "named pipe" in capsys.readouterr().err


def test_palette_and_id_masks(clip, tmp_path, capsys):
    pytest.importorskip("PIL")
    ids = np.where(clip["clip"].first_mask > 127, 1, 0)
    ids[:6, :6] = 2  # a second object in a corner
    pal = tmp_path / "pal.png"
    _palette(pal, ids)
    assert vmasks.read_mask(pal, with_kind=True)[1] == "palette"
    assert np.array_equal(vmasks.read_mask(pal) > 0, ids > 0)
    assert np.array_equal(vmasks.read_mask(pal, ids=(1,)) > 0, ids == 1)
    out = tmp_path / "o1"
    assert _run(clip, out, "--mask", str(pal), "--mask-ids", "1", "--max-frames", "2") == 0
    alpha = cv2.imread(str(out / "alpha" / "000000.png"), 0)
    assert (alpha > 127).sum() > 0.8 * (ids == 1).sum() and alpha[:4, :4].max() == 0  # id 2 left out
    assert _run(clip, tmp_path / "o2", "--mask", str(pal), "--mask-ids", "3") == 2
    assert "selects no pixel (its object ids: 1, 2)" in capsys.readouterr().err and not (tmp_path / "o2").exists()
    for name, value in (("empty.png", 0), ("full.png", 255)):
        cv2.imwrite(str(tmp_path / name), np.full((48, 48), value, np.uint8))
        assert _run(clip, tmp_path / "o3", "--mask", str(tmp_path / name)) == 2
        assert ("selects no pixel" if value == 0 else "whole frame") in capsys.readouterr().err
    assert _run(clip, tmp_path / "o3", "--mask", str(clip["mask"]), "--mask-ids", "1") == 2  # 0/255 is no id mask
    assert "not an id mask" in capsys.readouterr().err
    # A folder of palette masks, one empty: matted, the empty one reported.
    folder = tmp_path / "masks"
    folder.mkdir()
    for i, a in enumerate(clip["clip"].alphas):
        _palette(folder / f"{i:05d}.png", np.where(a > 127, 1, 0) if i != 2 else np.zeros((48, 48)))
    assert _run(clip, tmp_path / "o4", "--masks", str(folder)) == 0
    assert "1 of 6 masks select no pixel (frames 2)" in capsys.readouterr().err
    assert cv2.imread(str(tmp_path / "o4" / "alpha" / "000003.png"), 0).max() == 255
    for i in range(N):  # every mask empty: an error before anything is written
        _palette(folder / f"{i:05d}.png", np.zeros((48, 48)))
    assert _run(clip, tmp_path / "o5", "--masks", str(folder)) == 2 and not (tmp_path / "o5").exists()


def test_mask_folder_order_and_count(clip, tmp_path, capsys):
    folder = tmp_path / "masks"
    folder.mkdir()
    for i, a in enumerate(clip["clip"].alphas):
        cv2.imwrite(str(folder / f"frame_{i * 2}.png"), np.where(a > 127, 255, 0).astype(np.uint8))  # 0, 2, ... 10
    masks = vmasks.FolderMasks(folder)
    assert [Path(f).name for f in masks.files] == [f"frame_{i * 2}.png" for i in range(N)]
    out = tmp_path / "o1"
    assert _run(clip, out, "--masks", str(folder)) == 0
    a5 = cv2.imread(str(out / "alpha" / "000005.png"), 0) > 127
    assert (a5 & (clip["clip"].alphas[5] > 127)).sum() / (a5 | (clip["clip"].alphas[5] > 127)).sum() > 0.9
    cv2.imwrite(str(folder / "frame_99.png"), clip["clip"].first_mask)
    assert _run(clip, tmp_path / "o2", "--masks", str(folder)) == 2
    assert f"{N + 1} masks for {N} frames" in capsys.readouterr().err and not (tmp_path / "o2").exists()
    for i in range(3, N + 1):
        os.remove(folder / f"frame_{i * 2 if i < N else 99}.png")
    assert _run(clip, tmp_path / "o3", "--masks", str(folder)) == 2
    assert f"3 masks for {N} frames" in capsys.readouterr().err and not (tmp_path / "o3").exists()


def test_mask_aspect_ratio(clip, tmp_path, capsys):
    big = tmp_path / "big.png"  # twice the frame's size: resized (nearest), noted
    cv2.imwrite(str(big), cv2.resize(clip["clip"].first_mask, (96, 96), interpolation=cv2.INTER_NEAREST))
    out = tmp_path / "o1"
    assert _run(clip, out, "--mask", str(big), "--max-frames", "2") == 0
    assert "96x96 resized (nearest) to the frames' 48x48" in capsys.readouterr().err
    wide = tmp_path / "wide.png"
    cv2.imwrite(str(wide), cv2.resize(clip["clip"].first_mask, (96, 48)))
    assert _run(clip, tmp_path / "o2", "--mask", str(wide)) == 2
    assert "another aspect ratio" in capsys.readouterr().err and not (tmp_path / "o2").exists()


def test_changed_mask_redoes_frames(clip, tmp_path, capsys):
    mask = tmp_path / "mask.png"
    cv2.imwrite(str(mask), clip["clip"].first_mask)
    out = tmp_path / "out"
    assert _run(clip, out, "--mask", str(mask), "--max-frames", "3") == 0
    before = cv2.imread(str(out / "alpha" / "000000.png"), 0)
    assert _run(clip, out, "--mask", str(mask), "--max-frames", "3") == 0  # unchanged: nothing redone
    shifted = np.roll(clip["clip"].first_mask, 6, axis=1)
    cv2.imwrite(str(mask), shifted)
    assert main(["video", str(clip["mkv"]), "-o", str(out), "--mask", str(mask), "--format", "png",
                 "--max-frames", "3"]) == 0  # fmt: skip
    io = capsys.readouterr()
    assert "the inputs changed since its 3 frames were made: all frames are redone" in io.err
    assert "3 frames (3 matted, 0 already done)" in io.out
    assert not np.array_equal(before, cv2.imread(str(out / "alpha" / "000000.png"), 0))


def test_truncated_video_is_reported(clip, tmp_path, capsys):
    frames = np.concatenate([clip["clip"].frames] * 2)
    full = tmp_path / "full.mkv"
    write_video(full, frames, fps=12)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 3])
    out = tmp_path / "out"
    assert _run(clip, out, "--mask", str(clip["mask"]), source=cut) == 1
    err = capsys.readouterr().err
    done = len(os.listdir(out / "alpha"))
    assert f"decoded {done} of {2 * N} frames" in err and 0 < done < 2 * N
    assert _json(out)["info"]["decoding"]["complete"] is False


def test_size_change_mid_stream(clip, tmp_path, capsys):
    def ts(path, w, h, n, start):
        with av.open(str(path), "w", format="mpegts") as out:
            vs = out.add_stream("libx264", rate=12)
            vs.pix_fmt, vs.width, vs.height = "yuv420p", w, h
            for i in range(n):
                f = cv2.resize(clip["clip"].frames[start + i], (w, h), interpolation=cv2.INTER_AREA)
                vf = av.VideoFrame.from_ndarray(f, format="rgb24")
                vf.pts = start + i
                out.mux(vs.encode(vf))
            out.mux(vs.encode())

    ts(tmp_path / "a.ts", 48, 48, 3, 0)
    ts(tmp_path / "b.ts", 32, 32, 3, 3)
    src = tmp_path / "ab.ts"
    src.write_bytes((tmp_path / "a.ts").read_bytes() + (tmp_path / "b.ts").read_bytes())
    assert count_frames(src) == N
    out = tmp_path / "out"
    assert _run(clip, out, "--mask", str(clip["mask"]), source=src) == 0
    assert "3 frames of 32x32 resized to the first frame's 48x48" in capsys.readouterr().err
    assert all(cv2.imread(str(out / "alpha" / f"{i:06d}.png"), 0).shape == (48, 48) for i in range(N))
    assert _json(out)["info"]["decoding"]["resized"] == {"32x32": 3}
    folder = tmp_path / "masks"  # per-frame masks pair with every frame, resized or not
    folder.mkdir()
    for i, a in enumerate(clip["clip"].alphas):
        cv2.imwrite(str(folder / f"{i}.png"), np.where(a > 127, 255, 0).astype(np.uint8))
    assert _run(clip, tmp_path / "o2", "--masks", str(folder), source=src) == 0
    # The reader alone, with a fake frame source.
    r = FrameReader.from_frames([np.zeros((4, 4, 3), np.uint8), np.zeros((8, 8, 3), np.uint8)], expected=2)
    assert [f.shape for f in r] == [(4, 4, 3)] * 2 and r.complete and r.resized == {"8x8": 1}


def test_failed_start_leaves_a_reusable_folder(clip, tmp_path, capsys, monkeypatch):
    from ldmatte.video.outputs import claim_output

    out = tmp_path / "out"
    claim_output(out, clip["mkv"], [clip["mask"]], {"band_width": 5})  # a run that stopped before its first frame
    assert _run(clip, out, "--mask", str(clip["mask"]), "--max-frames", "2") == 0  # other settings: no frame yet
    assert _run(clip, out, "--mask", str(clip["mask"]), "--max-frames", "2", "--trimap-width", "4") == 2
    assert "add --overwrite to redo" in capsys.readouterr().err
    assert _run(clip, out, "--mask", str(clip["mask"]), "--max-frames", "2", "--trimap-width", "4",
                "--overwrite") == 0  # fmt: skip
    assert _json(out)["info"]["band_width"] == 4
    # A read-only output is a fault: exit 1, one line.
    real = os.makedirs

    def read_only(path, *a, **k):
        if "ro" in Path(path).parts:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(os, "makedirs", read_only)
    assert _run(clip, tmp_path / "ro" / "out", "--mask", str(clip["mask"])) == 1
    assert "read-only file system" in capsys.readouterr().err


@pytest.mark.skipif(not (DATA / "chair" / "masks").is_dir(), reason="real clips not present")
def test_real_palette_masks_and_frame_folder(tmp_path):
    out = tmp_path / "chair"
    chair = DATA / "chair"
    assert main(["video", str(chair / "frames"), "-o", str(out), "--mask", str(chair / "masks" / "00000.png"),
                 "--max-frames", "1", "--format", "png", "-q"]) == 0  # fmt: skip
    alpha = cv2.imread(str(out / "alpha" / "000000.png"), 0) > 127
    gt = vmasks.read_mask(chair / "masks" / "00000.png") > 0
    # The palette mask (id 1 = the chair) is the subject, not an all-zero mask; its thin legs and wheels are
    # the real-footage work's (IoU 0.55 on this frame with closed-form matting).
    assert gt.any() and (alpha & gt).sum() / (alpha | gt).sum() > 0.45


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_safety_replay_script_runs():
    import subprocess

    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, str(root / "bench" / "video_safety.py"), "--case", "mask-pipe"],
                          capture_output=True, text=True, timeout=300, cwd=root)  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.startswith("PASS  mask-pipe: exit 2"), proc.stdout + proc.stderr
