"""Kill a dataset build with SIGKILL at random moments, resume it, and check the result.

Builds ``-n`` synthetic samples with ``ldmatte build synthetic`` in a subprocess,
kills it ``--kills`` times once a random number of new samples are done (and a
random few milliseconds later, inside the next sample's work), runs it to the
end, then checks: exactly the expected ids, one manifest line each, every line
with its files and every file with its line, no temp files left, and the same
manifest (but the time stamps) and the same pixels as an uninterrupted build.

    python bench/kill_resume.py -n 300 --kills 2 --size 128
"""
from __future__ import annotations

import argparse
import pathlib
import random
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

from ldmatte.dataset import SyntheticSource, build, read_manifest
from ldmatte.dataset.layout import paths, read_sample
from ldmatte.dataset.manifest import read_lines

SAMPLE_DIRS = ("fg", "alpha", "rejected/fg", "rejected/alpha")


def spawn(out, n, size):
    cmd = [sys.executable, "-m", "ldmatte", "build", "synthetic", "-o", str(out), "-n", str(n), "--size", str(size),
           "--bad-fraction", "0.3", "--no-progress", "--workers", "2"]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def lines(out) -> int:
    try:
        return (pathlib.Path(out) / "manifest.jsonl").read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def kill_at_random(out, n, size, rng) -> int:
    """Start a build, SIGKILL it after a random number of new samples; return the lines it left."""
    proc = spawn(out, n, size)
    target = lines(out) + rng.randint(1, max(2, n // 4))
    deadline = time.monotonic() + 300
    while lines(out) < target and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(rng.uniform(0, 0.03))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if proc.returncode != -signal.SIGKILL:
        raise SystemExit(f"the build ended before it was killed (exit {proc.returncode}): use a larger -n")
    return lines(out)


def problems(root: pathlib.Path, expected_ids) -> list[str]:
    """Everything that breaks the dataset's invariants (empty when it is consistent)."""
    recs = [rec for path in sorted(root.glob("manifest*.jsonl")) for rec in read_lines(str(path))]
    ids = [rec["id"] for rec in recs]
    out = []
    if len(ids) != len(set(ids)):
        out.append(f"{len(ids) - len(set(ids))} duplicate manifest lines")
    if set(ids) != set(expected_ids):
        out.append(f"ids differ: {len(set(expected_ids) - set(ids))} missing, {len(set(ids) - set(expected_ids))} extra")
    listed = {p for rec in recs for p in rec["files"].values()}
    on_disk = {str(p.relative_to(root)) for d in SAMPLE_DIRS if (root / d).is_dir() for p in (root / d).iterdir()}
    if on_disk != listed:
        out.append(f"{len(on_disk - listed)} files without a line, {len(listed - on_disk)} lines without files")
    temps = [p for p in root.rglob("*") if ".tmp" in p.name]
    if temps:
        out.append(f"{len(temps)} temp files left")
    out += [f"{rec['id']}: files {rec['files']}" for rec in recs if rec["files"] != paths(rec["status"], rec["id"])]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=300, help="samples (default 300)")
    ap.add_argument("--kills", type=int, default=2)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        out, clean = pathlib.Path(tmp) / "killed", pathlib.Path(tmp) / "clean"
        t0 = time.perf_counter()
        for k in range(args.kills):
            print(f"kill {k + 1}: {kill_at_random(out, args.n, args.size, rng)} of {args.n} samples had a line")
        proc = spawn(out, args.n, args.size)
        _, err = proc.communicate(timeout=3600)
        if proc.returncode != 0:
            print(err.decode()[-2000:], file=sys.stderr)
            return 1
        print(f"resumed and finished in {time.perf_counter() - t0:.1f} s in all")
        source = SyntheticSource(args.n, size=args.size, bad_fraction=0.3)
        found = problems(out, source.ids())
        build(source, clean, progress=False)
        got, ref = read_manifest(str(out)), read_manifest(str(clean))
        stable = lambda e: {k: v for k, v in e.items() if k != "created"}  # noqa: E731
        if {i: stable(e) for i, e in got.items()} != {i: stable(e) for i, e in ref.items()}:
            found.append("the manifest differs from an uninterrupted build's")
        differ = [i for i in got if not np.array_equal(read_sample(str(out), got[i]), read_sample(str(clean), ref[i]))]
        if differ:
            found.append(f"{len(differ)} samples differ in pixels from an uninterrupted build's")
        kept = sum(e["status"] == "kept" for e in got.values())
        print(f"{len(got)} samples ({kept} kept, {len(got) - kept} rejected); checks: "
              + ("all passed" if not found else "; ".join(found)))
    return 0 if not found else 1


if __name__ == "__main__":
    sys.exit(main())
