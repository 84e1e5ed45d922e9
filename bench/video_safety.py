"""Replay the ``ldmatte video`` input cases that used to hang, lose frames silently or reuse stale frames.

The helpers of ``bench/_safety.py`` run each command as a user would (a
subprocess) and compare the SHA-256 of every user file before and after. A case
passes when the user's files are intact, no traceback is printed and the
command did what "Your files are safe" asks:

- ``mask-pipe``: ``--mask FIFO`` ends at once (exit 2), no output folder left
- ``masks-pipe``: a named pipe inside ``--masks DIR``: the same
- ``mask-count``: 7 masks for 6 frames: refused before the first frame (exit 2), no folder left
- ``changed-mask``: a rerun after the mask changed at the same path redoes the frames (equal to a fresh run)
- ``truncated``: a video cut to a third: ``decoded N of 12 frames``, exit 1
- ``failed-start``: a start refused for a bad option, then the corrected command into the same folder: exit 0

    python bench/video_safety.py                  # all cases
    python bench/video_safety.py --case truncated # one (repeatable)
"""
from __future__ import annotations

import os
import pathlib
import sys

import cv2
import numpy as np
from _safety import ldmatte, run_cases, snapshot, verdict

from ldmatte.video.synthetic import make_video, write_video

N = 6


def clip(tmp: pathlib.Path, frames: int = N):
    """The user's files in ``tmp/user`` (hashed; named pipes live elsewhere: hashing one would block)."""
    c = make_video(frames, 48, seed=2)
    (tmp / "user").mkdir()
    write_video(tmp / "user" / "clip.mkv", c.frames, fps=12)
    cv2.imwrite(str(tmp / "user" / "mask.png"), c.first_mask)
    return c


def video(tmp, out, *extra, source=None):
    return ldmatte("video", source or tmp / "user" / "clip.mkv", "-o", out, "--format", "png", "-q", *extra)


def case_mask_pipe(tmp):
    clip(tmp)
    os.mkfifo(tmp / "pipe.png")
    before = snapshot(tmp / "user")
    proc = video(tmp, tmp / "out", "--mask", tmp / "pipe.png")
    return verdict(proc, before, proc.returncode == 2 and not (tmp / "out").exists())


def case_masks_pipe(tmp):
    c = clip(tmp)
    (tmp / "masks").mkdir()
    for i, a in enumerate(c.alphas[:-1]):
        cv2.imwrite(str(tmp / "masks" / f"{i}.png"), np.where(a > 127, 255, 0).astype(np.uint8))
    os.mkfifo(tmp / "masks" / f"{N - 1}.png")
    before = snapshot(tmp / "user")
    proc = video(tmp, tmp / "out", "--masks", tmp / "masks")
    return verdict(proc, before, proc.returncode == 2 and not (tmp / "out").exists())


def case_mask_count(tmp):
    c = clip(tmp)
    (tmp / "masks").mkdir()
    for i in range(N + 1):
        cv2.imwrite(str(tmp / "masks" / f"frame_{i}.png"), np.where(c.alphas[min(i, N - 1)] > 127, 255, 0)
                    .astype(np.uint8))  # fmt: skip
    before = snapshot(tmp / "user")
    proc = video(tmp, tmp / "out", "--masks", tmp / "masks")
    return verdict(proc, before, proc.returncode == 2 and not (tmp / "out").exists())


def case_changed_mask(tmp):
    c = clip(tmp)
    first = video(tmp, tmp / "out", "--mask", tmp / "user" / "mask.png")
    cv2.imwrite(str(tmp / "user" / "mask.png"), np.roll(c.first_mask, 6, axis=1))
    before = snapshot(tmp / "user")
    proc = video(tmp, tmp / "out", "--mask", tmp / "user" / "mask.png")
    fresh = video(tmp, tmp / "fresh", "--mask", tmp / "user" / "mask.png")
    names = [f"{i:06d}.png" for i in range(N)]
    same = all(np.array_equal(cv2.imread(str(tmp / "out" / "alpha" / n), 0),
                              cv2.imread(str(tmp / "fresh" / "alpha" / n), 0)) for n in names)  # fmt: skip
    ok = first.returncode == proc.returncode == fresh.returncode == 0 and same
    return verdict(proc, before, ok, "" if same else "the rerun kept frames of the old mask")


def case_truncated(tmp):
    c = clip(tmp, 2 * N)
    data = (tmp / "user" / "clip.mkv").read_bytes()
    (tmp / "user" / "cut.mkv").write_bytes(data[: len(data) // 3])
    del c
    before = snapshot(tmp / "user")
    proc = video(tmp, tmp / "out", "--mask", tmp / "user" / "mask.png", source=tmp / "user" / "cut.mkv")
    return verdict(proc, before, proc.returncode == 1 and f"of {2 * N} frames" in proc.stderr)


def case_failed_start(tmp):
    clip(tmp)
    before = snapshot(tmp / "user")
    bad = video(tmp, tmp / "out", "--mask", tmp / "user" / "mask.png", "--detail-reach", "1e9")
    proc = video(tmp, tmp / "out", "--mask", tmp / "user" / "mask.png")
    return verdict(proc, before, bad.returncode == 2 and proc.returncode == 0)


CASES = {"mask-pipe": case_mask_pipe, "masks-pipe": case_masks_pipe, "mask-count": case_mask_count,
         "changed-mask": case_changed_mask, "truncated": case_truncated, "failed-start": case_failed_start}  # fmt: skip


def main(argv=None) -> int:
    return run_cases(CASES, "ldmatte-video-safety", __doc__.split("\n\n")[0], argv)


if __name__ == "__main__":
    sys.exit(main())
