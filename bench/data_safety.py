"""Replay the data-loss cases of "Your files are safe" with the real ``ldmatte`` commands; check every user file.

Each case builds its folders in a temp directory, runs ``python -m ldmatte ...``
as a user would (a subprocess), and compares the SHA-256 of every file the
user had before with what is there after. A case passes when every user file
is intact and the command did what the ownership rule asks (refused, exit 2,
or wrote only its own files):

- ``build-into-user-folder``: ``build synthetic -o X`` where X/fg and X/alpha hold the user's images
- ``build-folder-onto-itself``: ``build folder X --recursive -o X``
- ``refine-into-user-folder``: ``refine IN -o OUT`` where OUT holds the user's photo.png, photo.json, index.html
- ``trimap``: ``trimap DS -o DS/alpha``
- ``symlink-loop``: ``build folder SL --recursive -o OUT`` with ``SL/a/loop -> ..`` (one image, one sample)
- ``shard-counts``: ``build synthetic --shard 0/2`` and ``--shard 0/3`` on one folder at the same time
- ``eval-json-onto-ground-truth``: ``eval PRED GT --trimap TRI --json GT/a.png`` (and ``--json TRI/notes.json``)
- ``prompts-onto-manifest``: ``prompts -n 2 -o DS/manifest.jsonl`` on a dataset that ``build`` made
- ``single-file-not-ours``: ``eval ... --json mine.json`` and ``prompts -o mine.jsonl`` where the user's files stand

    python bench/data_safety.py                 # all cases
    python bench/data_safety.py --case trimap   # one (repeatable)
"""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np

from _safety import TIMEOUT, last_line, ldmatte, run_cases, snapshot, verdict

from ldmatte.io import write_png_atomic

def start(*args) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "ldmatte", *map(str, args)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def user_image(path: pathlib.Path, seed: int) -> None:
    """A small RGBA portrait-like image: an opaque disc with a soft edge, random colour."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:96, :96]
    d = np.hypot(y - 48, x - 48)
    rgba = np.empty((96, 96, 4), np.uint8)
    rgba[..., :3] = rng.integers(0, 256, 3, dtype=np.uint8)
    rgba[..., 3] = np.clip((34 - d) * 40, 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_png_atomic(path, rgba)


def manifest_ids(folder: pathlib.Path) -> list[str]:
    ids = []
    for path in sorted(folder.glob("manifest*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                ids.append(json.loads(line)["id"])
    return ids


# --- the cases --------------------------------------------------------------------------------------------------


def case_build_into_user_folder(tmp: pathlib.Path):
    x = tmp / "X"
    user_image(x / "fg" / "img1.png", 1)
    user_image(x / "alpha" / "img1.png", 2)
    user_image(x / "rejected" / "fg" / "old.png", 3)
    before = snapshot(x)
    proc = ldmatte("build", "synthetic", "-n", 2, "--size", 96, "-o", x, "--no-progress")
    return verdict(proc, before)


def case_build_folder_onto_itself(tmp: pathlib.Path):
    x = tmp / "X"
    for i in range(2):
        user_image(x / "fg" / f"a{i}.png", i)
        user_image(x / "alpha" / f"a{i}.png", 10 + i)
    before = snapshot(x)
    proc = ldmatte("build", "folder", x, "--recursive", "-o", x, "--no-progress")
    return verdict(proc, before, proc.returncode == 2, "refused" if proc.returncode == 2 else "not refused")


def case_refine_into_user_folder(tmp: pathlib.Path):
    src, out = tmp / "IN", tmp / "OUT"
    user_image(src / "photo.png", 1)
    user_image(out / "photo.png", 2)
    (out / "photo.json").write_text('{"mine": true}\n')
    (out / "index.html").write_text("<html>my page</html>\n")
    before = snapshot(src, out)
    proc = ldmatte("refine", src, "-o", out, "-q")
    return verdict(proc, before)


def case_trimap(tmp: pathlib.Path):
    ds = tmp / "DS"
    for i in range(3):
        user_image(ds / "fg" / f"s{i}.png", i)
        user_image(ds / "alpha" / f"s{i}.png", 10 + i)
    before = snapshot(ds)
    proc = ldmatte("trimap", ds, "-o", ds / "alpha", "--no-progress")
    return verdict(proc, before, proc.returncode == 2, "refused" if proc.returncode == 2 else "not refused")


def case_symlink_loop(tmp: pathlib.Path):
    sl, out = tmp / "sl", tmp / "OUT"
    user_image(sl / "img.png", 1)
    (sl / "a").mkdir()
    os.symlink("..", sl / "a" / "loop")
    before = snapshot(sl)
    proc = ldmatte("build", "folder", sl, "--recursive", "-o", out, "--no-progress")
    ids = manifest_ids(out) if out.is_dir() else []
    return verdict(proc, before, len(ids) == 1, f"{len(ids)} samples from 1 image")


def case_shard_counts(tmp: pathlib.Path):
    out = tmp / "D"
    procs = [start("build", "synthetic", "-n", 30, "--size", 96, "--shard", shard, "-o", out, "--no-progress")
             for shard in ("0/2", "0/3")]  # fmt: skip
    results = []
    for p in procs:
        _, err = p.communicate(timeout=TIMEOUT)
        results.append((p.returncode, err))
    ids = manifest_ids(out) if out.is_dir() else []
    codes = sorted(code for code, _ in results)
    errors = " ".join(err for _, err in results)
    unique = len(ids) == len(set(ids))
    refused_one = codes == [0, 2] and "shard" in errors
    both_safe = codes == [0, 0] and unique and "failed" not in errors
    ok = (refused_one or both_safe) and unique and "Traceback" not in errors
    why = [line for _, err in results for line in err.strip().splitlines()[-1:]]
    return ok, (f"exits {[c for c, _ in results]}; {len(ids)} manifest lines, "
                f"{len(ids) - len(set(ids))} duplicate ids; " + " | ".join(w[:120] for w in why))  # fmt: skip


def _eval_folders(tmp: pathlib.Path):
    pred, gt, tri = tmp / "PRED", tmp / "GT", tmp / "TRI"
    tri.mkdir()
    for i in range(2):
        user_image(pred / f"a{i}.png", i)
        user_image(gt / f"a{i}.png", 10 + i)
        tri_image = np.full((96, 96), 128, np.uint8)
        tri_image[:8] = 0
        write_png_atomic(tri / f"a{i}.png", tri_image)
    return pred, gt, tri


def case_eval_json_onto_ground_truth(tmp: pathlib.Path):
    pred, gt, tri = _eval_folders(tmp)
    (tri / "notes.json").write_text('{"mine": true}\n')
    before = snapshot(pred, gt, tri)
    procs = [ldmatte("eval", pred, gt, "--trimap", tri, "--json", target) for target in (gt / "a0.png",
                                                                                          tri / "notes.json")]
    codes = [p.returncode for p in procs]
    ok, what = verdict(procs[0], before, codes == [2, 2], "refused" if codes == [2, 2] else f"exits {codes}")
    return ok and "Traceback" not in procs[1].stderr, what


def case_prompts_onto_manifest(tmp: pathlib.Path):
    ds = tmp / "DS"
    made = ldmatte("build", "synthetic", "-n", 1, "--size", 96, "-o", ds, "--no-progress")
    if made.returncode != 0:
        return False, f"the dataset could not be built: {last_line(made)}"
    before = snapshot(ds)
    proc = ldmatte("prompts", "-n", 2, "-o", ds / "manifest.jsonl")
    return verdict(proc, before, proc.returncode == 2, "refused" if proc.returncode == 2 else "not refused")


def case_single_file_not_ours(tmp: pathlib.Path):
    pred, gt, tri = _eval_folders(tmp)
    mine = tmp / "mine"
    mine.mkdir()
    (mine / "mine.json").write_text('{"results": "of my own"}\n')
    (mine / "mine.jsonl").write_text('{"id": 1, "prompt": "my own prompt"}\n')
    before = snapshot(mine, pred, gt, tri)
    procs = [ldmatte("eval", pred, gt, "--json", mine / "mine.json"), ldmatte("prompts", "-n", 2, "-o",
                                                                            mine / "mine.jsonl")]  # fmt: skip
    codes = [p.returncode for p in procs]
    ok, what = verdict(procs[1], before, codes == [2, 2], "both refused" if codes == [2, 2] else f"exits {codes}")
    return ok and "Traceback" not in procs[0].stderr, what


CASES = {
    "build-into-user-folder": case_build_into_user_folder,
    "build-folder-onto-itself": case_build_folder_onto_itself,
    "refine-into-user-folder": case_refine_into_user_folder,
    "trimap": case_trimap,
    "symlink-loop": case_symlink_loop,
    "shard-counts": case_shard_counts,
    "eval-json-onto-ground-truth": case_eval_json_onto_ground_truth,
    "prompts-onto-manifest": case_prompts_onto_manifest,
    "single-file-not-ours": case_single_file_not_ours,
}


def main(argv=None) -> int:
    return run_cases(CASES, "ldmatte-safety", __doc__.split("\n\n")[0], argv)


if __name__ == "__main__":
    sys.exit(main())
