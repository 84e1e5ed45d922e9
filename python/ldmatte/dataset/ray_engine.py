"""The Ray engine of ``ldmatte build``: one actor per worker (per GPU for Layer Diffusion), the driver writes the manifest.

Each worker is a Ray actor that receives the source once (for Layer Diffusion it
loads the SDXL pipeline, the LayerDiffuse weights and the decoder on its own GPU
at its first batch and keeps them) and then turns batches of sample ids into
files: generation, decoding, refinement, quality control and the atomic PNG
writes all run in the worker, which writes straight into the dataset folder (on
several machines that folder must be on a filesystem every node sees at the same
path). Only the manifest rows travel back; the driver is the single writer of
the manifest and appends each row after its files exist, so the guarantees of
the local engine hold: a SIGKILLed driver leaves a manifest whose lines all
have their files, and the rerun's start-up repair deletes temp files and the
files of ids without a line (a worker finished them but the line never came),
then redoes those ids.

Faults. A sample that raises is reported with its reason and the run goes on.
A worker that dies (a crash, a lost node) is restarted by Ray
(``max_restarts``) and the ids it had in flight are redone, each alone on a
worker with nothing else in flight; an id that kills a worker twice that way is
reported as failed. Workers check a run token in the folder before each sample,
so a worker left over from a killed driver stops writing once a new run starts.

``import ldmatte`` never imports Ray; :func:`require_ray` names the install
command when it is missing.
"""
from __future__ import annotations

import collections
import dataclasses
import os
import socket
import sys
import time
import uuid

from .builder import BuildSummary

__all__ = ["RayOptions", "RayBuildSummary", "RayUnavailableError", "RayExecutor", "Outcome", "WorkerDiedError",
           "BuildBatches", "require_ray", "cluster_resources", "plan_workers", "format_resources", "dry_run",
           "build_on_ray", "probe_cluster"]  # fmt: skip

RUN_TOKEN = ".ldmatte-ray-run"  # the current run's token; workers of an earlier run stop when it changes
INSTALL_HINT = 'pip install "ldmatte[ray]"'
_LONE_DEATHS = 2  # an id alone on a worker that died this many times is reported as failed


class RayUnavailableError(RuntimeError):
    """The Ray engine was asked for but Ray is not installed (or the cluster cannot be reached)."""


def require_ray():
    """Import and return the ``ray`` module, or raise :class:`RayUnavailableError` naming the install command."""
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailableError(f"the ray engine needs Ray: {INSTALL_HINT} ({exc})") from None
    return ray


@dataclasses.dataclass(frozen=True)
class RayOptions:
    """Where and how wide the Ray engine runs.

    Attributes
    ----------
    address : str, optional
        Cluster to join (``"auto"``, ``"ray://head:10001"`` or ``"head:6379"``); None starts a
        local Ray instance on this machine (or joins the one ``RAY_ADDRESS`` names).
    workers : int, optional
        Actors to start; default: as many as the cluster's GPUs allow at ``gpus_per_worker``,
        else one per CPU.
    gpus_per_worker : float, optional
        GPUs reserved per actor (fractions share a GPU); default 1 for sources that generate on a
        GPU (layerdiffusion) when the cluster has GPUs, else 0.
    cpus_per_worker : float
        CPUs reserved per actor (default 1); the actor's Numba kernels use that many threads.
    batch_size : int, optional
        Ids per call to a worker; default the source's ``batch_size`` (layerdiffusion) or 4.
    max_restarts : int
        How often Ray restarts a worker that died (default 3).
    """

    address: str | None = None
    workers: int | None = None
    gpus_per_worker: float | None = None
    cpus_per_worker: float = 1.0
    batch_size: int | None = None
    max_restarts: int = 3

    def __post_init__(self):
        if self.workers is not None and (isinstance(self.workers, bool) or int(self.workers) < 1):
            raise ValueError(f"the number of ray workers must be >= 1, got {self.workers!r}")
        if self.gpus_per_worker is not None and not float(self.gpus_per_worker) >= 0:
            raise ValueError(f"gpus per worker must be >= 0, got {self.gpus_per_worker!r}")
        if not float(self.cpus_per_worker) > 0:
            raise ValueError(f"cpus per worker must be > 0, got {self.cpus_per_worker!r}")
        if self.batch_size is not None and int(self.batch_size) < 1:
            raise ValueError(f"the batch size must be >= 1, got {self.batch_size!r}")
        if int(self.max_restarts) < 0:
            raise ValueError(f"max_restarts must be >= 0, got {self.max_restarts!r}")


@dataclasses.dataclass
class RayBuildSummary(BuildSummary):
    """What a build on Ray did: a :class:`BuildSummary` plus what each worker did and why it stopped early."""

    workers: list = dataclasses.field(default_factory=list)  # per worker: name, node, gpus, samples, busy_seconds, deaths
    startup_seconds: float = 0.0  # until the first batch came back: actors started, source loaded, first batch done


# --- the cluster -------------------------------------------------------------------------------------------------

PROBE_SECONDS = 3.0  # a cluster that does not answer a TCP connect in this long is taken as absent


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of ``head:6379``, ``ray://head:10001`` or ``[::1]:6379``; None for ``auto`` and the like."""
    text = address.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0]
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        return None
    return host.strip("[]"), int(port)


def probe_cluster(address: str | None, timeout: float = PROBE_SECONDS) -> None:
    """Fail within ``timeout`` seconds when nothing listens at a Ray cluster's address.

    ``ray.init`` retries an address where nothing listens for minutes; a TCP
    connect tells at once. Addresses without a port (None: a local instance,
    ``auto``) are left to Ray.

    Raises
    ------
    RayUnavailableError
        "no Ray cluster at ADDRESS (...)", naming the way to start one.

    Examples
    --------
    >>> from ldmatte.dataset.ray_engine import probe_cluster
    >>> probe_cluster(None)  # a local instance: nothing to probe
    """
    import socket

    if not address:
        return
    where = _host_port(address)
    if where is None:
        return
    host, port = where
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except OSError as exc:
        why = "nothing answers" if isinstance(exc, (ConnectionRefusedError, TimeoutError, socket.timeout)) else (
            exc.strerror or str(exc) or type(exc).__name__)  # fmt: skip
        raise RayUnavailableError(f"no Ray cluster at {address} ({why}; start one there with 'ray start --head "
                                  f"--port {port}', or give the address of a running one)") from None


class _Connection:
    """``ray.init`` unless Ray is already initialised in this process; shut down only what we started."""

    def __init__(self, address: str | None):
        self.address = address
        self.started = False

    def __enter__(self):
        ray = require_ray()
        if not ray.is_initialized():
            import logging

            probe_cluster(self.address)  # ray.init would retry an address with nothing there for minutes
            kwargs = dict(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False,
                          configure_logging=True)  # fmt: skip
            try:
                ray.init(address=self.address, **kwargs)
            except Exception as exc:  # Ray raises ConnectionError, RuntimeError or a bare Exception (start timeout)
                where = f"join the Ray cluster at {self.address}" if self.address else "start a local Ray instance"
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise RayUnavailableError(f"could not {where}: {first}") from None
            self.started = True
        return ray

    def __exit__(self, *exc):
        if self.started:
            require_ray().shutdown()
        return False


def _resources(ray) -> dict:
    nodes = []
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        res = node.get("Resources", {})
        gpu_types = [k.split(":", 1)[1] for k in res if k.startswith("accelerator_type:")]
        nodes.append({"address": node.get("NodeManagerAddress"), "cpus": res.get("CPU", 0.0),
                      "gpus": res.get("GPU", 0.0), "gpu_type": ",".join(gpu_types) or None,
                      "memory_gib": round(res.get("memory", 0.0) / 2**30, 1)})  # fmt: skip
    total = ray.cluster_resources()
    free = ray.available_resources()
    return {"nodes": nodes, "cpus": total.get("CPU", 0.0), "gpus": total.get("GPU", 0.0),
            "free_cpus": free.get("CPU", 0.0), "free_gpus": free.get("GPU", 0.0)}  # fmt: skip


def cluster_resources(address: str | None = None) -> dict:
    """CPUs, GPUs and nodes of a Ray cluster (a local instance when ``address`` is None), without starting a run.

    Returns
    -------
    dict
        ``{"nodes": [{"address", "cpus", "gpus", "gpu_type", "memory_gib"}...], "cpus", "gpus",
        "free_cpus", "free_gpus"}``
    """
    with _Connection(address) as ray:
        return _resources(ray)


def _generates_on_gpu(source) -> bool:
    return getattr(source, "name", "") == "layerdiffusion"


def plan_workers(options: RayOptions, resources: dict, gpu_work: bool = False, items: int | None = None) -> dict:
    """Workers and resources per worker on a cluster with ``resources`` (see :func:`cluster_resources`).

    Examples
    --------
    >>> from ldmatte.dataset.ray_engine import RayOptions, plan_workers
    >>> cluster = {"cpus": 64.0, "gpus": 8.0}
    >>> plan_workers(RayOptions(), cluster, gpu_work=True)
    {'workers': 8, 'gpus_per_worker': 1.0, 'cpus_per_worker': 1.0, 'fits_at_once': 8}
    >>> plan_workers(RayOptions(gpus_per_worker=0.5), cluster, gpu_work=True)["workers"]
    16
    >>> plan_workers(RayOptions(), {"cpus": 2.0, "gpus": 0.0}, items=1)["workers"]
    1
    """
    gpus = options.gpus_per_worker
    if gpus is None:
        gpus = 1.0 if gpu_work and resources["gpus"] >= 1 else 0.0
    gpus, cpus = float(gpus), float(options.cpus_per_worker)
    if gpus > resources["gpus"]:
        raise ValueError(f"{gpus:g} GPUs per worker asked, the Ray cluster has {resources['gpus']:g}")
    if cpus > resources["cpus"]:
        raise ValueError(f"{cpus:g} CPUs per worker asked, the Ray cluster has {resources['cpus']:g}")
    fit = int(resources["cpus"] // cpus)
    if gpus > 0:
        fit = min(fit, int(resources["gpus"] / gpus + 1e-9))
    workers = int(options.workers) if options.workers else max(1, fit)
    if items is not None:
        workers = max(1, min(workers, items))
    return {"workers": workers, "gpus_per_worker": gpus, "cpus_per_worker": cpus, "fits_at_once": fit}


def format_resources(resources: dict) -> list[str]:
    """Lines describing a cluster's resources (for ``ldmatte info --ray`` and ``ldmatte build --dry-run``)."""
    lines = [f"ray cluster: {len(resources['nodes'])} node(s), {resources['cpus']:g} CPUs, {resources['gpus']:g} GPUs "
             f"({resources['free_cpus']:g} CPUs, {resources['free_gpus']:g} GPUs free)"]  # fmt: skip
    for node in resources["nodes"]:
        gpu = ""
        if node["gpus"]:
            gpu = f", {node['gpus']:g} GPUs" + (f" ({node['gpu_type']})" if node["gpu_type"] else "")
        lines.append(f"  node {node['address']}: {node['cpus']:g} CPUs{gpu}, {node['memory_gib']:g} GiB memory")
    return lines


# --- the executor: actors that hold the work function ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What became of one item (the batch engine's executor protocol): ``value`` or ``error``."""

    index: int
    item: object
    value: object = None
    error: BaseException | None = None


class WorkerDiedError(RuntimeError):
    """Every worker that ran an item died with it (the item was redone alone each time)."""


class _Actor:
    """The body of a Ray actor: holds the work function (and what it loads on first use) for all its items."""

    def __init__(self, fn, threads: int = 1):
        import numba

        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
        self.fn = fn

    def describe(self) -> dict:
        """Where this worker runs: host, pid, node address and the GPUs Ray gave it."""
        import ray

        return {"host": socket.gethostname(), "pid": os.getpid(), "node": ray.util.get_node_ip_address(),
                "gpus": [str(g) for g in ray.get_gpu_ids()]}  # fmt: skip

    def call(self, item):
        t0 = time.perf_counter()
        value = self.fn(item)
        return value, time.perf_counter() - t0


@dataclasses.dataclass
class _Slot:
    """The driver's view of one worker."""

    name: str
    actor: object
    info: dict = dataclasses.field(default_factory=dict)
    inflight: int = 0
    lone: bool = False  # running a suspect item alone
    deaths: int = 0
    items: int = 0
    units: int = 0  # samples: the lengths of the items it finished (items are batches of ids)
    busy: float = 0.0
    state: str = "up"  # "up", "restarting" (died; a probe call waits for Ray's restart) or "dead"
    probe_after: float = 0.0

    @property
    def alive(self) -> bool:
        return self.state != "dead"


@dataclasses.dataclass
class _Task:
    index: int
    item: object
    suspect: bool = False  # redone after a worker died with it in flight: runs alone
    deaths: int = 0  # deaths of a worker that ran it alone


class RayExecutor:
    """Runs items on Ray actors, each of which holds the work function for all its items.

    Implements the batch engine's executor protocol (``workers`` and ``map``):
    ``map(fn, items)`` starts the actors with ``fn`` (pickled once per actor: a
    function object that loads a model on first use keeps it for every later
    item), keeps at most two items in flight per actor, and yields one
    :class:`Outcome` per item as they finish (in item order with ``ordered``).
    An item whose actor died (Ray restarts it, up to ``max_restarts``) is redone
    alone on an actor with nothing else in flight, split first into
    ``fn.split(item)`` when ``fn`` offers it (a batch of ids into single ids,
    each then with its own outcome); an item that kills its actor twice while
    alone fails with :class:`WorkerDiedError`. Once ``stop.is_set()`` no new
    items are taken; those in flight finish.

    Parameters
    ----------
    options : RayOptions
    gpu_work : bool
        The work wants a GPU: workers get one each by default when the cluster has GPUs.
    """

    def __init__(self, options: RayOptions | None = None, *, gpu_work: bool = False):
        self.options = options or RayOptions()
        probe_cluster(self.options.address)  # before a build claims its folder: an absent cluster fails at once
        self.gpu_work = gpu_work
        self.workers = int(self.options.workers or 1)  # the planned count once map() has seen the cluster
        self.slots: list[_Slot] = []
        self.layout: dict = {}

    def alive(self) -> int:
        """Workers of the current (or last) map that are alive."""
        return sum(s.alive for s in self.slots)

    def worker_stats(self) -> list[dict]:
        """Per worker: name, host, pid, node, gpus, items, samples, busy_seconds, deaths."""
        return [{"name": s.name, **s.info, "items": s.items, "samples": s.units, "busy_seconds": round(s.busy, 3),
                 "deaths": s.deaths} for s in self.slots]  # fmt: skip

    def run_build(self, source, entries, root, shard, qc, refine_kwargs, limit, progress, durable, stop):
        """Run a build's samples on the workers: the source goes to every worker, manifest rows come back.

        Called by :func:`ldmatte.dataset.build` (which claims, locks and repairs the folder first).
        """
        return _run_build(self, source, entries, root, shard, qc, refine_kwargs, limit, progress, durable, stop)

    def map(self, fn, items, *, ordered: bool = False, stop=None, total: int | None = None):
        """Yield an :class:`Outcome` per item; ``total`` (the item count, if known) caps the workers started."""
        with _Connection(self.options.address) as ray:
            yield from _RayMap(self, ray, fn, items, ordered, stop, total).run()


class _RayMap:
    """One ``RayExecutor.map`` call: the actors, the items in flight and the outcomes held back for order."""

    def __init__(self, ex: RayExecutor, ray, fn, items, ordered: bool, stop, total):
        self.ex, self.ray, self.fn, self.ordered, self.stop = ex, ray, fn, ordered, stop
        ex.layout = plan_workers(ex.options, _resources(ray), ex.gpu_work, total)
        ex.workers = ex.layout["workers"]
        remote = ray.remote(num_cpus=ex.layout["cpus_per_worker"], num_gpus=ex.layout["gpus_per_worker"],
                            max_restarts=int(ex.options.max_restarts), max_task_retries=0)(_Actor)  # fmt: skip
        threads = max(1, int(ex.layout["cpus_per_worker"]))
        ex.slots = [_Slot(f"w{k}", remote.remote(fn, threads)) for k in range(ex.workers)]
        self.probes = {s.actor.describe.remote(): s for s in ex.slots}  # describe calls: where a worker runs
        self.source = iter(enumerate(items))
        self.retry: collections.deque = collections.deque()
        self.inflight: dict = {}  # object ref -> (slot, task)
        self.held: dict = {}  # ordered: outcomes waiting for their turn, by item index
        self.open_pieces: collections.Counter = collections.Counter()  # index -> pieces of a split item not back
        self.next_index = 0
        self.exhausted = False
        self.source_error: BaseException | None = None

    def _taking_no_more(self) -> bool:
        return self.exhausted or (self.stop is not None and self.stop.is_set())

    def _next_task(self):
        if self.retry:
            return self.retry.popleft()
        if self._taking_no_more():
            return None
        try:
            index, item = next(self.source)
        except StopIteration:
            self.exhausted = True
            return None
        except Exception as exc:  # the items themselves failed: no more are taken, the error is raised at the end
            self.exhausted, self.source_error = True, exc
            return None
        self.open_pieces[index] = 1
        return _Task(index, item)

    def _submit(self) -> None:
        for slot in sorted(self.ex.slots, key=lambda s: s.inflight):
            while slot.state == "up" and not slot.lone and slot.inflight < 2:
                if self.retry and self.retry[0].suspect and slot.inflight:
                    break  # a suspect runs on a worker with nothing else in flight
                task = self._next_task()
                if task is None:
                    return
                self.inflight[slot.actor.call.remote(task.item)] = (slot, task)
                slot.inflight += 1
                slot.lone = task.suspect

    def _finished(self, task: _Task, value=None, error=None) -> list:
        out = Outcome(task.index, task.item, value, error)
        self.open_pieces[task.index] -= 1
        if not self.ordered:
            return [out]
        self.held.setdefault(task.index, []).append(out)
        ready = []
        while self.next_index in self.held and self.open_pieces[self.next_index] == 0:
            ready += self.held.pop(self.next_index)
            self.next_index += 1
        return ready

    def _died(self, slot: _Slot, task: _Task, exc) -> list:
        """The worker died with ``task`` in flight: Ray restarts it; the task is redone alone (split) or fails.

        Every call in flight on a dying actor fails, so the first failure marks the death; the actor gets no
        new item until a probe call shows that Ray restarted it.
        """
        if slot.state == "up":
            slot.deaths += 1
            slot.state = "restarting"
            self.probes[slot.actor.describe.remote()] = slot
            if task.suspect:  # it ran alone: the death is its doing
                task.deaths += 1
        if task.deaths >= _LONE_DEATHS:
            return self._finished(task, error=WorkerDiedError(
                f"a worker died on it {task.deaths} times ({_death_reason(exc)})"))  # fmt: skip
        split = getattr(self.fn, "split", None)
        pieces = list(split(task.item)) if split is not None and not task.suspect else [task.item]
        self.open_pieces[task.index] += len(pieces) - 1
        self.retry.extendleft(_Task(task.index, p, True, task.deaths) for p in reversed(pieces))
        return []

    def _probed(self, ref, slot: _Slot) -> None:
        from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError, RayTaskError

        try:
            slot.info = self.ray.get(ref)
            slot.state = "up"
        except ActorUnavailableError:  # still restarting: ask again shortly
            slot.probe_after = time.monotonic() + 0.2
        except ActorDiedError:  # restarts used up (or the node is gone)
            slot.state = "dead"
        except (RayActorError, RayTaskError):
            slot.state = "dead"

    def _reprobe(self) -> None:
        now = time.monotonic()
        for slot in self.ex.slots:
            if slot.state == "restarting" and slot.probe_after and now >= slot.probe_after and \
                    slot not in self.probes.values():  # fmt: skip
                slot.probe_after = 0.0
                self.probes[slot.actor.describe.remote()] = slot

    def run(self):
        from ray.exceptions import RayActorError, RayTaskError

        ray = self.ray
        try:
            self._submit()
            while self.inflight or self.retry or (self.probes and not self._taking_no_more()):
                waiting = list(self.inflight) + list(self.probes)
                done = ray.wait(waiting, num_returns=1, timeout=0.2)[0] if waiting else []
                if not waiting:
                    time.sleep(0.05)
                for ref in done:
                    if ref in self.probes:
                        self._probed(ref, self.probes.pop(ref))
                        continue
                    slot, task = self.inflight.pop(ref)
                    slot.inflight -= 1
                    slot.lone = False
                    try:
                        value, seconds = ray.get(ref)
                    except RayActorError as exc:
                        yield from self._died(slot, task, exc)
                        continue
                    except RayTaskError as exc:  # fn raised: this item failed, the worker goes on
                        yield from self._finished(task, error=_cause(exc))
                        continue
                    slot.items += 1
                    slot.units += len(task.item) if isinstance(task.item, (list, tuple)) else 1
                    slot.busy += seconds
                    yield from self._finished(task, value)
                if not self.ex.alive():
                    while (task := self._next_task()) is not None:
                        yield from self._finished(task, error=WorkerDiedError("no Ray worker left alive"))
                self._reprobe()
                self._submit()
            for index in sorted(self.held):
                yield from self.held.pop(index)
        finally:
            for slot in self.ex.slots:
                ray.kill(slot.actor, no_restart=True)
        if self.source_error is not None:
            raise self.source_error


def _cause(exc) -> BaseException:
    """The exception that the work function raised inside a Ray task."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return cause
    lines = str(exc).strip().splitlines()
    return RuntimeError(lines[-1] if lines else type(exc).__name__)


def _death_reason(exc) -> str:
    lines = str(exc).strip().splitlines()
    for line in lines:
        if any(w in line.lower() for w in ("exit", "died", "killed")):
            return line.strip()[:200]
    return (lines[0] if lines else type(exc).__name__)[:200]


# --- the build: batches of ids produced, refined, judged and written on the workers -------------------------------


class BuildBatches:
    """The work function of a build on Ray: a batch of ids -> files in the dataset folder + one result per id.

    Pickled once to every worker with the source, which loads its model there on
    the first batch (layerdiffusion: the pipeline on the worker's GPU) and keeps it.
    Each result is ``{"id", "entry", "timings"}``, ``{"id", "error"}`` or
    ``{"id", "stale": True}`` (a newer run owns the folder: nothing written).
    """

    def __init__(self, source, root: str, qc, refine_kwargs: dict, durable: bool, token: str):
        self.source, self.root, self.qc, self.durable, self.token = source, root, qc, durable, token
        self.refine_kwargs = dict(refine_kwargs)
        self._placed = False

    @staticmethod
    def split(ids: list) -> list:
        """A batch redone after its worker died: one id at a time, so one bad id fails alone."""
        return [[i] for i in ids]

    def _current(self) -> bool:
        try:
            with open(os.path.join(self.root, RUN_TOKEN), encoding="utf-8") as f:
                return f.read().strip() == self.token
        except OSError:
            return False

    def _place(self) -> None:
        device = str(getattr(self.source, "device", None) or "")
        if _generates_on_gpu(self.source) and device.startswith("cuda:"):
            self.source.device = "cuda"  # Ray shows a worker only its own GPU(s), the first as cuda:0
        self._placed = True

    def __call__(self, ids: list) -> list:
        from .builder import _finish

        if not self._placed:
            self._place()
        results = []
        produced = iter(self.source.produce(list(ids)))
        for sample_id in ids:
            t0 = time.perf_counter()
            try:
                item = next(produced)
            except StopIteration:
                results.append({"id": sample_id, "error": "the source produced nothing for this id"})
                continue
            except Exception as exc:  # the source failed for the rest of this batch (e.g. the pipeline raised)
                message = f"{type(exc).__name__}: {exc}"
                done = {r["id"] for r in results}
                return results + [{"id": i, "error": message} for i in ids if i not in done]
            t1 = time.perf_counter()
            if item.id != sample_id:
                results.append({"id": sample_id, "error": f"the source produced {item.id!r} out of order"})
            elif item.error is not None:
                results.append({"id": sample_id, "error": item.error})
            elif not self._current():
                results.append({"id": sample_id, "stale": True})
            else:
                try:
                    entry, times = _finish(item, self.root, self.qc, self.refine_kwargs, self.durable)
                except Exception as exc:  # refinement or writing broke on this sample: reported, not fatal
                    from ..batch import failure_reason, is_output_fault

                    results.append({"id": sample_id, "error": failure_reason(exc), "fault": is_output_fault(exc)})
                    continue
                results.append({"id": sample_id, "entry": entry, "timings": {"produce": t1 - t0, **times}})
        return results


def _batch_size(source, options: RayOptions) -> int:
    return int(options.batch_size or getattr(source, "batch_size", None) or 4)


def count_todo(source, out_dir, shard=(0, 1), limit: int | None = None) -> dict:
    """How many samples of this shard a build would do, reading the dataset folder without touching it.

    Returns ``{"shard_total", "already_done", "todo"}`` (``todo`` after ``limit``).
    """
    from .builder import _owner
    from .manifest import read_manifest

    root = os.fspath(out_dir)
    done = read_manifest(root) if os.path.isdir(root) else {}
    owns = _owner(shard)
    total = finished = 0
    for sample_id in source.ids():
        if owns(sample_id):
            total += 1
            finished += sample_id in done
    left = total - finished
    return {"shard_total": total, "already_done": finished, "todo": left if limit is None else min(left, limit)}


def dry_run(source, out_dir, *, options: RayOptions | None = None, shard=(0, 1), limit: int | None = None) -> dict:
    """What a build on Ray would do, touching nothing: the cluster's resources, the plan and the counts.

    Returns
    -------
    dict
        ``{"resources": ..., "plan": {workers, gpus_per_worker, cpus_per_worker, fits_at_once, batch_size},
        "shard_total", "already_done", "todo"}``
    """
    options = options or RayOptions()
    counts = count_todo(source, out_dir, shard, limit)
    batch = _batch_size(source, options)
    with _Connection(options.address) as ray:
        resources = _resources(ray)
    layout = plan_workers(options, resources, _generates_on_gpu(source), -(-counts["todo"] // batch))
    return {"resources": resources, "plan": {**layout, "batch_size": batch}, **counts}


def build_on_ray(source, out_dir, *, options: RayOptions | None = None, **kwargs) -> RayBuildSummary:
    """:func:`ldmatte.dataset.build` on a Ray cluster: the same folder, files and manifest as the local engine.

    ``source`` is pickled to every worker (before any model is loaded); ``out_dir`` must be on a filesystem
    that every worker sees at the same path; the other arguments are those of :func:`~ldmatte.dataset.build`
    (``workers`` excepted: see :class:`RayOptions`).

    Returns
    -------
    RayBuildSummary
        A :class:`~ldmatte.dataset.BuildSummary` with ``workers`` (per worker: name, host, pid, node,
        gpus, items, samples, busy_seconds, deaths).
    """
    from .builder import build

    return build(source, out_dir, executor=RayExecutor(options), **kwargs)


class _EitherStop:
    """Set when the caller's flag (Ctrl-C) or the run's own (a write fault) is set."""

    def __init__(self, *flags):
        self.flags = [f for f in flags if f is not None]

    def is_set(self) -> bool:
        return any(f.is_set() for f in self.flags)


def _run_build(executor: RayExecutor, source, entries: dict, root: str, shard, qc, refine_kwargs: dict,
               limit: int | None, progress: bool, durable: bool, stop) -> RayBuildSummary:  # fmt: skip
    """The build's run on Ray (``ldmatte.dataset.build`` calls it through :meth:`RayExecutor.run_build`)."""
    import itertools

    from ..batch import is_output_fault
    from ..fileio.ownership import StopFlag, fault_message
    from .builder import _Count, _owner, _progress, _todo
    from .manifest import append_line, shard_manifest, write_atomic

    start = time.perf_counter()
    owns = _owner(shard)
    ids = source.ids()
    count = _Count()
    todo = list(itertools.islice(_todo(ids, owns, entries, count), limit))
    if not count.exhausted:  # the limit ended the listing early: count the whole shard (ids only, no work)
        taken, rest = set(todo), _Count()
        collections.deque(_todo((i for i in ids if i not in taken), owns, entries, rest), maxlen=0)
        count.mine, count.done = rest.mine + len(todo), rest.done
    summary = RayBuildSummary(count.mine, count.done)
    # Inputs the source could not list (a broken link, a named pipe, no permission) are errors too, named by path.
    summary.errors = [(os.path.basename(p.path), p.reason) for p in getattr(source, "problems", ())]
    if not todo:
        return summary
    token = uuid.uuid4().hex  # workers of an earlier (killed) run stop writing once they see another token
    write_atomic(os.path.join(root, RUN_TOKEN), (token + "\n").encode(), durable)
    manifest = os.path.join(root, shard_manifest(shard))
    size = _batch_size(source, executor.options)
    batches = [todo[k : k + size] for k in range(0, len(todo), size)]
    executor.gpu_work = executor.gpu_work or _generates_on_gpu(source)
    work = BuildBatches(source, root, qc, refine_kwargs, durable, token)
    halt = StopFlag()

    def record(result: dict) -> None:
        if "entry" not in result:
            summary.errors.append((result["id"], result.get("error") or "a newer run took over the dataset folder"))
            if result.get("fault") and not halt.is_set():
                summary.fault = result["error"]
                halt.set("fault")
            return
        entry = result["entry"]
        try:
            append_line(manifest, entry, durable)  # after the worker wrote its files: the line is the commit
        except OSError as exc:
            summary.errors.append((result["id"], fault_message(exc)))
            if is_output_fault(exc) and not halt.is_set():
                summary.fault = fault_message(exc)
                halt.set("fault")
            return
        _drop_other_copies(root, entry)
        setattr(summary, entry["status"], getattr(summary, entry["status"]) + 1)
        for k, v in result["timings"].items():
            summary.timings[k] = summary.timings.get(k, 0.0) + v

    with _progress(len(todo), f"build {source.name} on ray", progress) as bar:
        for out in executor.map(work, batches, stop=_EitherStop(stop, halt), total=len(batches)):
            summary.startup_seconds = summary.startup_seconds or time.perf_counter() - start
            if out.error is None:
                results = out.value
            else:
                reason = str(out.error) if isinstance(out.error, WorkerDiedError) else \
                    f"{type(out.error).__name__}: {out.error}"  # fmt: skip
                results = [{"id": i, "error": reason} for i in out.item]
            for result in results:
                record(result)
            bar.update(len(results))
            bar.set_postfix(workers=f"{executor.alive()}/{executor.workers}", kept=summary.kept,
                            rejected=summary.rejected, errors=len(summary.errors), refresh=False)  # fmt: skip
    summary.seconds = time.perf_counter() - start
    summary.workers = executor.worker_stats()
    if stop is not None and stop.is_set():
        summary.interrupted = getattr(stop, "signal_name", None) or "stop"
    return summary


def _drop_other_copies(root: str, entry: dict) -> None:
    """Delete a listed sample's files at the place of the other status (a killed run wrote them there).

    A redone sample may get another verdict than the run that was killed after
    writing it (generation on a GPU is not bit-exact); its line proves the id is
    ours, and these copies are what the next start would delete as stale anyway.
    """
    import contextlib

    from .layout import STATUSES, paths

    for status in STATUSES:
        if status != entry["status"]:
            for rel in paths(status, entry["id"]).values():
                with contextlib.suppress(FileNotFoundError):
                    os.remove(os.path.join(root, rel))
