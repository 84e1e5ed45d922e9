"""Replay the hang and resume cases of "Your files are safe" with the real ``ldmatte`` commands.

Each case builds its folders in a temp directory and runs ``python -m ldmatte ...`` as a user would (a
subprocess under a timeout, so a command that hangs is a failed case, never a hung script). User files are
checked by their SHA-256 before and after:

- ``fifo-predict``: ``predict RUN IMAGES --trimaps T`` where IMAGES holds a named pipe (it blocked forever)
- ``fifo-eval``: ``eval PRED GT`` where PRED holds a named pipe
- ``fifo-train``: ``train DS --backgrounds BGS`` where BGS holds a named pipe (``train`` also ignored SIGTERM)
- ``sigterm-train``: SIGTERM to a running ``train``: exit 130 within seconds, the same command resumes
- ``ray-unreachable``: ``build ... --engine ray --ray-address 127.0.0.1:PORT`` with nothing listening (it retried
  for 150+ s and left a folder behind): refused within seconds, no folder
- ``train-resume``: ``train`` stopped by SIGTERM and run again ends with the same weights and optimizer state, by
  hash, as the same command run without a stop (CPU, one thread)

    python bench/resume_safety.py                   # all cases
    python bench/resume_safety.py --case fifo-eval  # one (repeatable)
"""
from __future__ import annotations

import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
from _safety import ldmatte, run_cases, sha256, snapshot, verdict

TIMEOUT = 300  # a command still running after this long hangs: the case fails
TRAIN = ["--backgrounds", "synthetic", "--batch", "2", "--crop", "64", "--device", "cpu", "--threads", "1",
         "--no-progress"]  # fmt: skip


def timed(*args, timeout=TIMEOUT):
    t0 = time.monotonic()
    proc = ldmatte(*args, timeout=timeout)
    return proc, time.monotonic() - t0


# --- shared inputs ------------------------------------------------------------------------------------------------


def dataset(tmp: pathlib.Path) -> pathlib.Path:
    from ldmatte.dataset import SyntheticSource, build

    root = tmp / "DS"
    build(SyntheticSource(6, seed=0, size=96), root, progress=False)
    return root


def checkpoint(tmp: pathlib.Path) -> pathlib.Path:
    """An untrained vitmatte-tiny checkpoint: predict needs weights, not good ones."""
    from ldmatte.matting.model import build_model, save_model

    ckpt = tmp / "ckpt"
    save_model(build_model("vitmatte-tiny", seed=0), ckpt)
    return ckpt


def images_and_trimaps(tmp: pathlib.Path, n: int = 2) -> tuple[pathlib.Path, pathlib.Path]:
    from ldmatte.io import write_png_atomic

    rng = np.random.default_rng(0)
    images, trimaps = tmp / "images", tmp / "trimaps"
    for i in range(n):
        tri = np.zeros((64, 64), np.uint8)
        tri[16:48, 16:48], tri[24:40, 24:40] = 128, 255
        images.mkdir(exist_ok=True), trimaps.mkdir(exist_ok=True)
        write_png_atomic(images / f"im{i}.png", rng.integers(0, 256, (64, 64, 3), np.uint8))
        write_png_atomic(trimaps / f"im{i}.png", tri)
    return images, trimaps


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def logged_step(run: pathlib.Path, step: int):
    """True once the run's log has a training line at ``step`` or later (lines every 10 steps)."""
    import json

    def ready():
        log = run / "log.jsonl"
        if not log.is_file():
            return False
        for line in log.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if "loss" in rec and rec["step"] >= step:
                return True
        return False

    return ready


def train_until_stopped(args, ready, timeout=TIMEOUT):
    """Start ``ldmatte train``, SIGTERM it once ``ready()``; (exit status, stderr, seconds from the signal to the
    exit)."""
    proc = subprocess.Popen([sys.executable, "-m", "ldmatte", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None and not ready():
        time.sleep(0.02)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        return None, err + f"\nstill running {timeout} s after SIGTERM", time.monotonic() - t0
    return proc.returncode, err, time.monotonic() - t0


# --- the cases ----------------------------------------------------------------------------------------------------


def case_fifo_predict(tmp: pathlib.Path):
    ckpt = checkpoint(tmp)
    images, trimaps = images_and_trimaps(tmp)
    os.mkfifo(images / "pipe.png")
    shutil.copy(trimaps / "im0.png", trimaps / "pipe.png")
    before = snapshot(images, trimaps, ckpt)
    proc, s = timed("predict", ckpt, images, "--trimaps", trimaps, "-o", tmp / "OUT", "--device", "cpu",
                    "--no-progress")  # fmt: skip
    written = sorted(p.name for p in (tmp / "OUT").glob("*.png")) if (tmp / "OUT").is_dir() else []
    ok = proc.returncode == 1 and "pipe: cannot read the image: not a regular file (a named pipe)" in proc.stderr
    return verdict(proc, before, ok and written == ["im0.png", "im1.png"], f"{len(written)} mattes written", seconds=s)


def case_fifo_eval(tmp: pathlib.Path):
    images, trimaps = images_and_trimaps(tmp, 3)
    pred = tmp / "PRED"
    shutil.copytree(trimaps, pred)
    (pred / "im2.png").unlink()
    os.mkfifo(pred / "im2.png")
    before = snapshot(pred, trimaps)
    proc, s = timed("eval", pred, trimaps, "--quiet")
    ok = proc.returncode == 1 and "not a regular file (a named pipe)" in proc.stderr
    return verdict(proc, before, ok, seconds=s)


def case_fifo_train(tmp: pathlib.Path):
    ds = dataset(tmp)
    bgs = tmp / "BGS"
    images, _ = images_and_trimaps(tmp, 1)
    shutil.copytree(images, bgs)
    os.mkfifo(bgs / "pipe.jpg")
    before = snapshot(ds, bgs)
    proc, s = timed("train", ds, "-o", tmp / "RUN", *TRAIN, "--backgrounds", bgs, "--steps", 2, "--val", 0)
    ok = proc.returncode == 0 and "pipe.jpg: not a regular file (a named pipe)" in proc.stderr
    return verdict(proc, before, ok, seconds=s)


def case_sigterm_train(tmp: pathlib.Path):
    ds = dataset(tmp)
    run = tmp / "RUN"
    before = snapshot(ds)
    args = ["train", ds, "-o", run, *TRAIN, "--steps", 100000, "--val", 0]
    code, err, s = train_until_stopped(args, lambda: (run / "run.json").is_file())  # written before the first step
    proc = subprocess.CompletedProcess(args, code, "", err)
    ok = code == 130 and "stopped by SIGTERM" in err and (run / "checkpoint" / "trainer_state.json").is_file()
    return verdict(proc, before, ok and s < 60, f"{s:.1f} s from SIGTERM to the exit", seconds=s)


def case_ray_unreachable(tmp: pathlib.Path):
    try:
        import ray  # noqa: F401
    except ImportError:
        return True, "skipped: Ray is not installed (pip install 'ldmatte[ray]')"
    address = f"127.0.0.1:{free_port()}"
    out = tmp / "DS"
    proc, s = timed("build", "synthetic", "-n", 2, "--size", 96, "-o", out, "--engine", "ray", "--ray-address",
                    address, "--no-progress", timeout=120)  # fmt: skip
    ok = proc.returncode == 2 and f"no Ray cluster at {address}" in proc.stderr and not out.exists() and s < 30
    return verdict(proc, {}, ok, "no folder left" if not out.exists() else "a folder was left behind", seconds=s)


def case_train_resume(tmp: pathlib.Path):
    ds = dataset(tmp)
    before = snapshot(ds)
    common = [*TRAIN, "--steps", 40, "--val", 0.34, "--val-every", 100, "--save-every", 100]
    whole, s = timed("train", ds, "-o", tmp / "WHOLE", *common)
    if whole.returncode != 0:
        return verdict(whole, before, False, "the uninterrupted run failed", seconds=s)
    code, err, _ = train_until_stopped(["train", ds, "-o", tmp / "RESUMED", *common], logged_step(tmp / "RESUMED", 10))
    if code != 130:
        return verdict(subprocess.CompletedProcess([], code, "", err), before, False, "the stop failed", seconds=s)
    import json

    stopped_at = int(json.loads((tmp / "RESUMED" / "checkpoint" / "trainer_state.json").read_text())["step"])
    proc, s = timed("train", ds, "-o", tmp / "RESUMED", *common)
    same = {name: sha256(tmp / "WHOLE" / "checkpoint" / name) == sha256(tmp / "RESUMED" / "checkpoint" / name)
            for name in ("model.safetensors", "optimizer.safetensors")}  # fmt: skip
    weights, optimizer = ("equal" if same[n] else "DIFFER" for n in ("model.safetensors", "optimizer.safetensors"))
    detail = (f"stopped at step {stopped_at} of 40, resumed; weights {weights}, optimizer state {optimizer} "
              f"(SHA-256; weights "
              f"{sha256(tmp / 'RESUMED' / 'checkpoint' / 'model.safetensors')[:12]})")  # fmt: skip
    return verdict(proc, before, proc.returncode == 0 and all(same.values()) and 0 < stopped_at < 40, detail, seconds=s)


CASES = {
    "fifo-predict": case_fifo_predict,
    "fifo-eval": case_fifo_eval,
    "fifo-train": case_fifo_train,
    "sigterm-train": case_sigterm_train,
    "ray-unreachable": case_ray_unreachable,
    "train-resume": case_train_resume,
}


def main(argv=None) -> int:
    return run_cases(CASES, "ldmatte-resume", __doc__.split("\n\n")[0], argv)


if __name__ == "__main__":
    sys.exit(main())
