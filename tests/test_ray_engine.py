"""The Ray engine of ``ldmatte build``: same result as the local engine, resume after SIGKILL, worker deaths, errors.

One local Ray instance (2 CPUs) serves the whole module; the CLI runs in
subprocesses join it with ``--ray-address``.
"""
from __future__ import annotations

import json
import os
import pathlib
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from ldmatte.cli import main
from ldmatte.dataset import SyntheticSource, build, read_manifest
from ldmatte.dataset.layout import paths, read_sample, write_sample
from ldmatte.dataset.manifest import read_lines

ray = pytest.importorskip("ray")

from ldmatte.dataset.ray_engine import (RayExecutor, RayOptions, WorkerDiedError, build_on_ray,  # noqa: E402
                                        cluster_resources, plan_workers)  # fmt: skip

SIZE = 96
SAMPLE_DIRS = ("fg", "alpha", "rejected/fg", "rejected/alpha")


@pytest.fixture(scope="module")
def cluster():
    """One local Ray instance for the module; classes of this module travel to the workers by value."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
        ray.shutdown()


def _consistent(root, expected_ids) -> dict:
    """Exactly the expected ids, one line each, files <=> lines, no temp files."""
    recs = [r for path in sorted(root.glob("manifest*.jsonl")) for r in read_lines(str(path))]
    ids = [r["id"] for r in recs]
    assert len(ids) == len(set(ids)), "duplicate manifest lines"
    assert set(ids) == set(expected_ids)
    listed = {p for r in recs for p in r["files"].values()}
    on_disk = {f"{d}/{n}" for d in SAMPLE_DIRS if (root / d).is_dir() for n in os.listdir(root / d)}
    assert on_disk == listed
    assert not [p for p in root.rglob("*") if ".tmp" in p.name]
    assert all(r["files"] == paths(r["status"], r["id"]) for r in recs)
    return {r["id"]: r for r in recs}


def _same_as(root, reference_root) -> None:
    """Same ids, the same manifest entries but the time stamps, the same pixels."""
    got, ref = read_manifest(str(root)), read_manifest(str(reference_root))
    stable = lambda e: {k: v for k, v in e.items() if k != "created"}  # noqa: E731
    assert {i: stable(e) for i, e in got.items()} == {i: stable(e) for i, e in ref.items()}
    for i in got:
        assert np.array_equal(read_sample(str(root), got[i]), read_sample(str(reference_root), ref[i])), i


# --- without a cluster -------------------------------------------------------------------------------------------


def test_import_ldmatte_never_imports_ray():
    code = ("import sys, ldmatte, ldmatte.dataset, ldmatte.dataset.ray_engine, ldmatte.cli; "
            "ldmatte.cli.build_parser(); ldmatte.dataset.build; print('ray' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr[-2000:]


def test_engine_without_ray_names_the_install_command(tmp_path):
    code = ("import sys; sys.modules['ray'] = None; from ldmatte.cli import main; "
            f"sys.exit(main(['build', 'synthetic', '-n', '2', '-o', {str(tmp_path / 'd')!r}, '--engine', 'ray']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and 'pip install "ldmatte[ray]"' in out.stderr, out.stderr[-2000:]
    assert "Traceback" not in out.stderr


def test_plan_and_flags(capsys):
    assert plan_workers(RayOptions(), {"cpus": 32.0, "gpus": 8.0}, gpu_work=True)["workers"] == 8
    assert plan_workers(RayOptions(), {"cpus": 32.0, "gpus": 8.0})["gpus_per_worker"] == 0.0
    assert plan_workers(RayOptions(workers=3), {"cpus": 2.0, "gpus": 0.0}, items=10)["workers"] == 3
    with pytest.raises(ValueError, match="GPUs per worker asked"):
        plan_workers(RayOptions(gpus_per_worker=1), {"cpus": 2.0, "gpus": 0.0})
    with pytest.raises(ValueError, match="ray workers must be >= 1"):
        RayOptions(workers=0)
    assert main(["build", "synthetic", "-n", "2", "-o", "x", "--ray-workers", "2"]) == 2
    assert "--ray-workers only apply with --engine ray" in capsys.readouterr().err


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_cluster_at_the_address_fails_within_seconds(tmp_path):
    """``ray.init`` retried an address with nothing there for 150+ s and a folder was left behind."""
    from ldmatte.dataset.ray_engine import RayUnavailableError, probe_cluster

    address = f"127.0.0.1:{_free_port()}"
    out = tmp_path / "ds"
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "ldmatte", "build", "synthetic", "-n", "2", "-o", str(out),
                           "--engine", "ray", "--ray-address", address, "--no-progress"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2 and time.monotonic() - t0 < 60, proc.stderr
    assert f"no Ray cluster at {address}" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()  # refused before the folder is claimed
    for bad in (address, f"ray://{address}"):
        with pytest.raises(RayUnavailableError, match="nothing answers"):
            probe_cluster(bad, timeout=2)
    probe_cluster("auto")  # no port: left to Ray


# --- on the module's cluster ---------------------------------------------------------------------------------------


def test_same_ids_verdicts_and_pixels_as_the_local_engine(cluster, tmp_path):
    source = SyntheticSource(24, seed=5, size=SIZE, bad_fraction=0.3)
    summary = build_on_ray(source, tmp_path / "ray", progress=False)
    build(source, tmp_path / "local", progress=False)
    entries = _consistent(tmp_path / "ray", source.ids())
    assert summary.processed == 24 and summary.errors == [] and 0 < summary.rejected < 24
    assert summary.kept == sum(e["status"] == "kept" for e in entries.values())
    _same_as(tmp_path / "ray", tmp_path / "local")
    assert len(summary.workers) == 2 and sum(w["samples"] for w in summary.workers) == 24
    assert all(w["pid"] != os.getpid() and w["deaths"] == 0 for w in summary.workers)
    again = build_on_ray(source, tmp_path / "ray", progress=False)
    assert again.processed == 0 and again.already_done == 24


def test_resume_replaces_orphans_and_removes_temp_files(cluster, tmp_path):
    source = SyntheticSource(10, seed=2, size=SIZE, bad_fraction=0.3)
    root = tmp_path / "d"
    assert build_on_ray(source, root, limit=4, progress=False).processed == 4
    done = read_manifest(str(root))
    orphan = next(i for i in source.ids() if i not in done)
    # What a SIGKILLed driver leaves: a worker's finished files without a line (here with wrong pixels, at both
    # places), a temp file of a worker's write in progress (the worker is dead), a torn last line.
    for status in ("kept", "rejected"):
        write_sample(str(root), status, orphan, np.full((SIZE, SIZE, 4), 7, np.uint8))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (root / "alpha" / f".{orphan}.png.ldmatte-tmp-{int(dead.stdout)}-0123abcd").write_bytes(b"half")
    with open(root / "manifest.jsonl", "ab") as f:
        f.write(b'{"id": "' + orphan.encode() + b'", "stat')
    summary = build_on_ray(source, root, progress=False)
    assert summary.already_done == 4 and summary.processed == 6
    _consistent(root, source.ids())
    build(source, tmp_path / "local", progress=False)
    _same_as(root, tmp_path / "local")


def _lines(root) -> int:
    try:
        return (root / "manifest.jsonl").read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_driver_sigkilled_then_rerun(cluster, tmp_path):
    n, root = 40, tmp_path / "killed"
    cmd = [sys.executable, "-m", "ldmatte", "build", "synthetic", "-n", str(n), "--size", str(SIZE),
           "--bad-fraction", "0.3", "-o", str(root), "--engine", "ray", "--ray-address", cluster,
           "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    target = random.Random(7).randint(4, 16)
    deadline = time.monotonic() + 120
    while _lines(root) < target and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    left = len(read_manifest(str(root)))
    assert 0 < left < n, "the run finished before it was killed: make it longer"
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"{left} of {n} samples of this shard were done before" in rerun.stderr
    _consistent(root, [f"syn0-{i:06d}" for i in range(n)])
    build(SyntheticSource(n, size=SIZE, bad_fraction=0.3), tmp_path / "local", progress=False)
    _same_as(root, tmp_path / "local")


class StopAfterFirstLine:
    """A stop flag (as Ctrl-C sets it) that is set once the manifest has a line."""

    signal_name = "SIGINT"

    def __init__(self, root):
        self.root = root

    def is_set(self) -> bool:
        return _lines(self.root) > 0


def test_stop_finishes_the_batches_in_flight_and_a_rerun_continues(cluster, tmp_path):
    source, root = SyntheticSource(40, seed=4, size=SIZE), tmp_path / "d"
    summary = build_on_ray(source, root, stop=StopAfterFirstLine(root), progress=False,
                           options=RayOptions(workers=2, batch_size=2))  # fmt: skip
    assert summary.interrupted == "SIGINT" and 0 < summary.processed < 40 and summary.errors == []
    _consistent(root, list(read_manifest(str(root))))
    rest = build_on_ray(source, root, progress=False)
    assert rest.already_done == summary.processed and rest.processed == 40 - summary.processed
    _consistent(root, source.ids())


class CrashingSource(SyntheticSource):
    """Kills the worker process on ``once`` the first time (a marker file remembers) and on ``always`` every time."""

    def __init__(self, n, marker, once, always):
        super().__init__(n, seed=1, size=SIZE)
        self.marker, self.once, self.always = str(marker), once, always

    def produce(self, ids):
        for item in super().produce(ids):
            if item.id == self.always:
                os._exit(17)
            if item.id == self.once and not os.path.exists(self.marker):
                open(self.marker, "w").close()
                os._exit(17)
            yield item


def test_dead_workers_are_restarted_and_their_ids_redone(cluster, tmp_path):
    source = CrashingSource(10, tmp_path / "crashed", once="syn1-000002", always="syn1-000006")
    root = tmp_path / "d"
    summary = build_on_ray(source, root, options=RayOptions(workers=2, batch_size=3), progress=False)
    assert (tmp_path / "crashed").exists()
    assert [i for i, _ in summary.errors] == ["syn1-000006"], summary.errors
    assert "a worker died on it 2 times" in summary.errors[0][1]
    _consistent(root, [i for i in source.ids() if i != "syn1-000006"])
    # a death for the once-crash, one for the bad id in its batch, two for the bad id alone
    assert sum(w["deaths"] for w in summary.workers) == 4
    errors = {r["id"]: r["error"] for r in read_lines(str(root / "errors.jsonl"))}
    assert set(errors) == {"syn1-000006"}


def test_failing_samples_are_reported_and_the_run_goes_on(cluster, tmp_path, capsys):
    import cv2

    from ldmatte.synth import make_sample

    folder = tmp_path / "in"
    folder.mkdir()
    for k in range(3):
        cv2.imwrite(str(folder / f"good{k}.png"), cv2.cvtColor(make_sample(k, SIZE).rgba, cv2.COLOR_RGBA2BGRA))
    (folder / "broken.png").write_bytes(b"not an image")
    os.symlink(folder / "gone.png", folder / "dangling.png")  # listed by the source as a problem, not an id
    out = tmp_path / "out"
    argv = ["build", "folder", str(folder), "-o", str(out), "--engine", "ray", "--no-progress"]
    assert main(argv) == 1  # the CLI in this process reuses the running Ray instance
    err = capsys.readouterr().err
    assert "3 processed now" in err and "skipped broken" in err and "per worker" in err and "w0 (" in err
    errors = {r["id"]: r["error"] for r in read_lines(str(out / "errors.jsonl"))}
    assert sorted(errors) == ["broken", "dangling.png"]
    _consistent(out, ["good0", "good1", "good2"])


def test_executor_protocol_outcomes_in_order(cluster):
    def work(x):
        if x == 3:
            raise ValueError("three")
        return x * x

    ex = RayExecutor(RayOptions(workers=2))
    outs = list(ex.map(work, range(6), ordered=True))
    assert [o.index for o in outs] == list(range(6))
    assert [o.value for o in outs if o.error is None] == [0, 1, 4, 16, 25]
    assert isinstance(outs[3].error, ValueError) and str(outs[3].error) == "three"
    assert ex.alive() == 2 and sum(w["items"] for w in ex.worker_stats()) == 5
    assert WorkerDiedError.__mro__[1] is RuntimeError


def test_info_ray_and_dry_run_show_the_cluster(cluster, tmp_path, capsys):
    facts = cluster_resources()
    assert facts["cpus"] == 2 and facts["gpus"] == 0 and len(facts["nodes"]) == 1
    assert main(["info", "--ray"]) == 0
    assert "ray cluster: 1 node(s), 2 CPUs, 0 GPUs" in capsys.readouterr().out
    assert main(["info", "--ray", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ray"]["cpus"] == 2
    out = tmp_path / "dry"
    assert main(["build", "synthetic", "-n", "9", "-o", str(out), "--engine", "ray", "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "plan: 2 Ray worker(s) x (1 CPUs, 0 GPUs), batches of 4 ids" in text and "9 to do" in text
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize("script, args, expect", [
    ("bench_ray.py", ["-n", 4, "--size", SIZE, "--repeat", 1, "--no-warmup", "--generation-seconds", 2.0],
     "GPU-hours"),
    ("ray_kill_resume.py", ["-n", 24, "--size", SIZE, "--kills", 1], "checks: all passed"),
])  # fmt: skip
def test_bench_scripts_smallest_settings(cluster, tmp_path, script, args, expect):
    root = pathlib.Path(__file__).resolve().parents[1]
    argv = [sys.executable, str(root / "bench" / script), *map(str, args), "--ray-address", cluster,
            "--json", str(tmp_path / "r.json")]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=root)
    assert out.returncode == 0, f"{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    assert expect in out.stdout and json.loads((tmp_path / "r.json").read_text())


@pytest.mark.slow
def test_layerdiffusion_on_ray_matches_the_local_engine(cluster, tmp_path):
    """The tiny random-weight SDXL: each worker loads the pipeline once; same ids, verdicts and pixels."""
    pytest.importorskip("diffusers")
    from ldmatte.generate.tiny_model import save_tiny_model

    from ldmatte.prompts import make_prompts, write_jsonl

    base, weights, config = save_tiny_model(tmp_path / "model")
    prompts = tmp_path / "prompts.jsonl"
    write_jsonl(make_prompts(4, seed=0), prompts)
    argv = ["build", "layerdiffusion", "--prompts", str(prompts), "--base-model", str(base),
            "--layerdiffuse-weights", str(weights), "--decoder-config", str(config), "--steps", "2",
            "--height", "64", "--width", "64", "--device", "cpu", "--batch-size", "2", "--seed", "4",
            "--no-progress"]  # fmt: skip
    assert main(argv + ["-o", str(tmp_path / "local")]) == 0
    assert main(argv + ["-o", str(tmp_path / "ray"), "--engine", "ray", "--ray-workers", "2"]) == 0
    _consistent(tmp_path / "ray", [f"s0-{i:06d}" for i in range(4)])
    _same_as(tmp_path / "ray", tmp_path / "local")
