"""Key-frame masks (``--masks`` with fewer masks than frames, named by frame number): carried, re-anchored."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("av")
pytest.importorskip("pymatting")

from ldmatte.cli import main  # noqa: E402
from ldmatte.video.carried import CarriedSegmenter  # noqa: E402
from ldmatte.video.masks import FolderMasks  # noqa: E402
from ldmatte.video.synthetic import make_video, write_video  # noqa: E402

N = 6
KEY = 3  # the second key frame of the tests' folders
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "video"


def _binary(alpha) -> np.ndarray:
    return np.where(alpha > 127, 255, 0).astype(np.uint8)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    work = tmp_path_factory.mktemp("keyframes")
    c = make_video(N, 48, seed=2)
    write_video(work / "clip.mkv", c.frames, fps=12)
    keys = work / "keys"
    keys.mkdir()
    for i in (0, KEY):
        cv2.imwrite(str(keys / f"{i:05d}.png"), _binary(c.alphas[i]))
    return {"clip": c, "dir": work, "mkv": work / "clip.mkv", "keys": keys}


def _run(clip, out, *extra):
    return main(["video", str(clip["mkv"]), "-o", str(out), "--format", "png", "-q", *extra])


def _hashes(folder) -> dict:
    return {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in sorted(os.listdir(folder))}


def _iou(a, b) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def _discs(centres, size=48, radius=8):
    """A textured red disc on a grey textured background at the given x positions, and its masks."""
    from test_video_carried import _disc_clip

    frames, masks = _disc_clip(centres, size, radius)
    return list(frames), masks


def test_a_key_frame_corrects_a_drifted_carry():
    frames, masks = _discs([14, 16, 18, 20, 22, 24, 26])
    # A drifted carry: the mask given for frame 0 is the disc cut in half, which the carry keeps carrying.
    drifted = masks[0] & (np.arange(48)[None, :] < 14)
    key = 4
    plain, keyed = CarriedSegmenter(drifted), CarriedSegmenter(drifted, key_masks={key: masks[key]})
    for i, f in enumerate(frames):
        p, k = plain.segment(f, i) > 127, keyed.segment(f, i) > 127
        if i < key:
            assert np.array_equal(p, k), i  # nothing changes before the key frame
        elif i == key:
            assert np.array_equal(k, masks[key]) and keyed.note is None  # the key frame's mask is its segmentation
        else:
            assert _iou(k, masks[i]) > 0.85 > _iou(p, masks[i]) + 0.2, i
    # The first frame's colour samples stay in the anchor beside the key frame's.
    first = keyed._first_anchor
    for kept, was in zip(keyed._anchor, first):
        assert len(kept) > len(was) and np.array_equal(kept[:len(was)], was)
    # An empty key-frame mask: the subject is gone there (noted), the anchors kept.
    gone = CarriedSegmenter(masks[0], key_masks={2: np.zeros((48, 48), bool)})
    out = [gone.segment(f, i) for i, f in enumerate(frames[:3])]
    assert not out[2].any() and gone.note[0] == "lost"


def test_key_frames_through_the_command(clip, tmp_path, capsys):
    c, out = clip["clip"], tmp_path / "out"
    assert main(["video", str(clip["mkv"]), "-o", str(out), "--format", "png", "--masks", str(clip["keys"])]) == 0
    io = capsys.readouterr()
    assert f"key frames: 2 masks for {N} frames (frames 0, {KEY})" in io.err and f"{N} frames ({N} matted" in io.out
    summary = json.loads((out / "video.json").read_text())
    assert summary["info"]["key_frames"] == [0, KEY]
    a = cv2.imread(str(out / "alpha" / f"{KEY:06d}.png"), 0) > 127
    assert _iou(a, c.alphas[KEY] > 127) > 0.9
    # Only frame 0 given: exactly what --mask with that mask gives.
    only = tmp_path / "only"
    only.mkdir()
    (only / "0.png").write_bytes((clip["keys"] / "00000.png").read_bytes())
    assert _run(clip, tmp_path / "o1", "--masks", str(only)) == 0
    assert _run(clip, tmp_path / "o2", "--mask", str(only / "0.png")) == 0
    assert _hashes(tmp_path / "o1" / "alpha") == _hashes(tmp_path / "o2" / "alpha")


def _bad(clip, folder, case):
    keys = clip["keys"]
    first, key = (keys / "00000.png").read_bytes(), (keys / f"{KEY:05d}.png").read_bytes()
    files = {"beyond": {"00000.png": first, f"{N:05d}.png": key},
             "duplicate": {"00000.png": first, f"{KEY}.png": key, f"{KEY:05d}.png": key},
             "no-first": {"00001.png": first, f"{KEY:05d}.png": key},
             "unreadable": {"00000.png": first, f"{KEY:05d}.png": b"not an image"},
             "aspect": {"00000.png": first, f"{KEY:05d}.png": cv2.imencode(".png", np.zeros((48, 96), np.uint8))[1]},
             "empty-first": {"00000.png": cv2.imencode(".png", np.zeros((48, 48), np.uint8))[1], "00003.png": key},
             "not-numbers": {"a.png": first, "b.png": key}}[case]  # fmt: skip
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(bytes(data))


@pytest.mark.parametrize(("case", "says"), [
    ("beyond", f"a key-frame mask for frame {N}, but the video has {N} frames (0 to {N - 1})"),
    ("duplicate", f"{KEY:05d}.png and {KEY}.png are both the mask of frame {KEY}"),
    ("no-first", "key-frame masks start at frame 1: the first frame needs one"),
    ("unreadable", f"{KEY:05d}.png"),
    ("aspect", "another aspect ratio"),
    ("empty-first", "the mask selects no pixel"),
    ("not-numbers", f"2 masks for {N} frames: give one mask per frame (paired in natural name order, a.png ... "
                    "b.png), or key-frame masks named by frame number"),
])  # fmt: skip
def test_each_bad_key_frame_folder_gets_one_line_before_frame_0(clip, tmp_path, capsys, case, says):
    _bad(clip, tmp_path / "masks", case)
    out = tmp_path / "out"
    assert _run(clip, out, "--masks", str(tmp_path / "masks")) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_resume_equals_an_uninterrupted_run_and_a_changed_key_mask_redoes_from_it(clip, tmp_path, capsys):
    keys = tmp_path / "keys"  # a copy: its key frame's mask is changed below
    keys.mkdir()
    for name in os.listdir(clip["keys"]):
        (keys / name).write_bytes((clip["keys"] / name).read_bytes())
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    assert _run(clip, whole, "--masks", str(keys)) == 0
    assert _run(clip, resumed, "--masks", str(keys), "--max-frames", "2") == 0  # stopped before the key frame
    assert main(["video", str(clip["mkv"]), "-o", str(resumed), "--format", "png", "--masks", str(keys)]) == 0
    assert f"{N} frames ({N - 2} matted, 2 already done)" in capsys.readouterr().out
    for sub in ("alpha", "rgba"):
        assert _hashes(whole / sub) == _hashes(resumed / sub)
    # The key frame's mask changes: the frames from it on are redone, the earlier ones kept.
    cv2.imwrite(str(keys / f"{KEY:05d}.png"), np.roll(cv2.imread(str(keys / f"{KEY:05d}.png"), 0), 5, axis=1))
    assert main(["video", str(clip["mkv"]), "-o", str(resumed), "--format", "png", "--masks", str(keys)]) == 0
    io = capsys.readouterr()
    assert f"frames {KEY} on are redone ({KEY} kept)" in io.err and f"{N} frames ({N - KEY} matted" in io.out
    before, after = _hashes(whole / "alpha"), _hashes(resumed / "alpha")
    assert [after[n] == before[n] for n in sorted(before)] == [True] * KEY + [False] * (N - KEY)
    # ... and the frames equal those of a run that never saw the old mask.
    assert _run(clip, tmp_path / "fresh", "--masks", str(keys)) == 0
    assert _hashes(tmp_path / "fresh" / "alpha") == after
    # The first frame's mask changes: every frame is redone.
    cv2.imwrite(str(keys / "00000.png"), np.roll(cv2.imread(str(keys / "00000.png"), 0), 2, axis=0))
    assert main(["video", str(clip["mkv"]), "-o", str(resumed), "--format", "png", "--masks", str(keys)]) == 0
    assert f"{N} frames ({N} matted" in capsys.readouterr().out


def test_frames_named_by_number_pair_with_masks_of_the_same_number(clip, tmp_path):
    frames = tmp_path / "frames"  # as YouTube-VOS ships a clip: every 5th frame, named by its number
    frames.mkdir()
    for i, f in enumerate(clip["clip"].frames):
        cv2.imwrite(str(frames / f"{5 * i:05d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    masks = tmp_path / "masks"
    masks.mkdir()
    (masks / "00000.png").write_bytes((clip["keys"] / "00000.png").read_bytes())
    (masks / "00015.png").write_bytes((clip["keys"] / f"{KEY:05d}.png").read_bytes())
    keys = FolderMasks(masks)
    keys.check(N, (48, 48), source=frames)
    assert sorted(keys.key_frames) == [0, KEY]
    # A later key frame's empty mask is told (the subject is gone there), not refused.
    cv2.imwrite(str(masks / "00015.png"), np.zeros((48, 48), np.uint8))
    notes = FolderMasks(masks).check(N, (48, 48), source=frames)
    assert notes[1] == f"key-frame masks of frames {KEY} select no pixel: the subject is taken as gone there"
    os.rename(masks / "00015.png", masks / "00016.png")
    with pytest.raises(ValueError, match="frame 16, but the video has frames named 0 to 25, none 16"):
        FolderMasks(masks).check(N, (48, 48), source=frames)


@pytest.mark.skipif(not (DATA / "caps" / "masks").is_dir(), reason="real clips not present")
def test_real_caps_key_frames_are_accepted_and_only_read(tmp_path, capsys):
    caps = DATA / "caps"

    def listing():
        return {str(p.relative_to(caps)): (p.stat().st_size, p.stat().st_mtime_ns) for p in caps.rglob("*")}

    before = listing()
    out = tmp_path / "caps"
    assert main(["video", str(caps / "frames"), "-o", str(out), "--masks", str(caps / "masks"), "--max-frames", "2",
                 "--format", "png"]) == 0  # fmt: skip
    assert "key frames: 5 masks for 87 frames (frames 0, 14, 33, 43, 66)" in capsys.readouterr().err
    assert json.loads((out / "video.json").read_text())["info"]["key_frames"] == [0, 14, 33, 43, 66]
    assert sorted(os.listdir(out / "alpha")) == ["000000.png", "000001.png"]
    assert listing() == before


@pytest.mark.skipif(not (DATA / "chair" / "masks").is_dir(), reason="real clips not present")
def test_real_bench_key_frame_mode_scores_only_the_frames_not_given(tmp_path):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, str(root / "bench" / "video_real.py"), "--clips", "chair", "--frames", "4",
                           "--keys", "0,2", "--json", str(out)], capture_output=True, text=True, timeout=300,
                          cwd=root)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    clip = json.loads(out.read_text())["clips"][0]
    assert clip["keys"] == [0, 2] and "key frames 0, 2; scored: 1, 3" in proc.stdout
    assert clip["iou"]["carried mask"]["per_frame"][2] == 1.0 and clip["iou"]["carried mask"]["mean"] > 0.8
