"""The Ray engine gives the local engine's dataset, and survives a SIGKILL of its whole process group.

Runs ``ldmatte build synthetic`` as a user would (subprocesses):

1. with the local engine, into ``local/``;
2. with ``--engine ray``, uninterrupted, into ``ray/``: same ids, verdicts (status and QC reasons and
   measures) and pixels (alpha and fg) as ``local/``;
3. with ``--engine ray`` into ``killed/``, SIGKILLed (the whole process group: the driver and the Ray
   instance it started) ``--kills`` times once a random number of samples have a line, then rerun to the
   end: every id once, every manifest line with its files and every file with its line, no temp files,
   and the same dataset as ``local/``.

    python bench/ray_kill_resume.py -n 120 --seed 5 --size 256 --kills 1

With ``--ray-address`` the builds join a running cluster and only the driver's
process group is killed (the cluster then ends the dead driver's workers).
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

from kill_resume import problems  # the dataset invariants, shared with the local kill test
from ldmatte.dataset import SyntheticSource, read_manifest
from ldmatte.dataset.layout import read_sample


def command(out, args, engine: str) -> list:
    cmd = [sys.executable, "-m", "ldmatte", "build", "synthetic", "-n", str(args.n), "--seed", str(args.seed),
           "--size", str(args.size), "--bad-fraction", str(args.bad_fraction), "-o", str(out), "--no-progress"]
    if engine == "ray":
        cmd += ["--engine", "ray"] + (["--ray-address", args.ray_address] if args.ray_address else [])
    return cmd


def run_to_end(out, args, engine: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(command(out, args, engine), capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"{engine} build failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t0, proc.stderr


def lines(out) -> int:
    try:
        return (pathlib.Path(out) / "manifest.jsonl").read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def kill_group_at_random(out, args, rng) -> int:
    """Start a ray build in its own process group, SIGKILL the group after some new lines; return the lines left."""
    proc = subprocess.Popen(command(out, args, "ray"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip
    target = lines(out) + rng.randint(1, max(2, args.n // 3))
    deadline = time.monotonic() + 600
    while lines(out) < target and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(rng.uniform(0, 0.05))
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    if proc.returncode != -signal.SIGKILL:
        raise SystemExit(f"the build ended before it was killed (exit {proc.returncode}): use a larger -n")
    deadline = time.monotonic() + 10
    while group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if group_alive(proc.pid):
        raise SystemExit("processes of the killed build's group are still running")
    return lines(out)


def compare(root, reference) -> list[str]:
    """Differences in ids, verdicts and pixels between two datasets (empty when they agree)."""
    got, ref = read_manifest(str(root)), read_manifest(str(reference))
    found = []
    if set(got) != set(ref):
        found.append(f"ids differ: {len(set(ref) - set(got))} missing, {len(set(got) - set(ref))} extra")
    common = sorted(set(got) & set(ref))
    verdict = lambda e: (e["status"], e["qc"])  # noqa: E731
    if [i for i in common if verdict(got[i]) != verdict(ref[i])]:
        found.append("verdicts differ")
    stable = lambda e: {k: v for k, v in e.items() if k != "created"}  # noqa: E731
    if [i for i in common if stable(got[i]) != stable(ref[i])]:
        found.append("manifest entries differ (time stamps aside)")
    differ = [i for i in common if not np.array_equal(read_sample(str(root), got[i]), read_sample(str(reference), ref[i]))]
    if differ:
        found.append(f"{len(differ)} samples differ in pixels")
    return found


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=120, help="samples (default 120)")
    ap.add_argument("--seed", type=int, default=5, help="seed of the synthetic source (default 5)")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--bad-fraction", type=float, default=0.3, help="share of constructed bad samples (QC has work)")
    ap.add_argument("--kills", type=int, default=1)
    ap.add_argument("--kill-seed", type=int, default=0, help="seed of the kill moments")
    ap.add_argument("--ray-address", default=None, help="join this Ray cluster instead of starting one per build")
    ap.add_argument("--json", default=None, help="write the figures here")
    args = ap.parse_args(argv)
    rng = random.Random(args.kill_seed)
    figures: dict = {"n": args.n, "seed": args.seed, "size": args.size}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        figures["local_s"], _ = run_to_end(tmp / "local", args, "local")
        figures["ray_s"], err = run_to_end(tmp / "ray", args, "ray")
        same = compare(tmp / "ray", tmp / "local")
        kept = sum(e["status"] == "kept" for e in read_manifest(str(tmp / "local")).values())
        print(f"local build {figures['local_s']:.1f} s, ray build {figures['ray_s']:.1f} s (with Ray's start-up); "
              f"{args.n} samples, {kept} kept; ray vs local: " + ("same ids, verdicts and pixels" if not same
                                                                  else "; ".join(same)))  # fmt: skip
        print("\n".join(line for line in err.splitlines() if line.startswith(("per worker", "  w"))))
        t0 = time.perf_counter()
        figures["left_after_kill"] = []
        for k in range(args.kills):
            left = kill_group_at_random(tmp / "killed", args, rng)
            figures["left_after_kill"].append(left)
            print(f"kill {k + 1} (SIGKILL to the process group): {left} of {args.n} samples had a line")
        _, err = run_to_end(tmp / "killed", args, "ray")
        figures["resume_s"] = time.perf_counter() - t0
        found = problems(tmp / "killed", SyntheticSource(args.n, seed=args.seed).ids())
        found += compare(tmp / "killed", tmp / "local")
        print("rerun: " + next((line for line in err.splitlines() if "were done before" in line), ""))
        print(f"killed and resumed: {len(read_manifest(str(tmp / 'killed')))} unique ids; checks: "
              + ("all passed" if not found else "; ".join(found)))  # fmt: skip
    figures["same_as_local"] = not same
    figures["problems_after_resume"] = found
    if args.json:
        pathlib.Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if not same and not found else 1


if __name__ == "__main__":
    sys.exit(main())
