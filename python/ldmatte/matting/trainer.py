"""Training a ViTMatte on ldmatte datasets: the loop, checkpoints, resume, logs and the training curve.

A run folder holds::

    .ldmatte-output.json     marks the folder as a training run (kind "train-run", model/seed/val/datasets)
    run.json                 the settings of the run
    split.json               the samples trained on and the held-out ones (never trained on)
    checkpoint/              config.json + model.safetensors (a save_pretrained folder: load_predictor,
                             VitMatteForImageMatting.from_pretrained), optimizer.safetensors, trainer_state.json
    log.jsonl                one JSON line per logged step and per validation
    curve.png                training loss and held-out SAD against the step

The checkpoint folder is replaced as a whole (written beside it, then renamed),
so a run killed at any moment resumes from its last complete checkpoint: the
same command again continues where it stopped. ``steps`` and ``minutes`` are
totals for the run, counted across resumes; the learning rate follows warm-up
then a cosine decay over the fraction of that budget already spent.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
import sys
import threading
import time

import numpy as np

from .data import (AugmentConfig, BackgroundPool, SampleReader, collect_samples, dumps, fixed_example,
                   nested_subset, seeded_rng, split_samples, to_model_input, training_example)  # fmt: skip

__all__ = ["TrainConfig", "TrainResult", "train", "plot_curve", "read_log", "RUN_KIND"]

RUN_KIND = "train-run"
MAX_CROP = 2048  # 16x the pixels of ViTMatte's 512 crops; a larger crop of a batch does not fit a GPU
_CKPT, _CKPT_NEW, _CKPT_OLD = "checkpoint", "checkpoint.new", "checkpoint.old"


@dataclasses.dataclass
class TrainConfig:
    """Settings of a training run (see ``ldmatte train --help``)."""

    datasets: list
    output: str
    backgrounds: str = "synthetic"
    model: str = "vitmatte-tiny"
    init: str | None = None
    steps: int | None = None
    minutes: float | None = None
    batch: int = 4
    crop: int = 512
    device: str = "auto"
    val: float = 0.1
    seed: int = 0
    limit: int | None = None  # train on the first N samples of a seeded order (nested subsets: capacity studies)
    lr: float | None = None  # peak learning rate; default see default_lr()
    weight_decay: float = 0.01
    warmup: int | None = None  # steps; default 5 % of --steps (at most 500), or 20 for a time budget
    log_every: int = 10
    val_every: int = 100
    save_every: int = 200
    val_max: int = 64  # held-out samples evaluated at each validation
    workers: int = 1  # threads preparing batches ahead of the model
    progress: bool = True

    def check(self) -> None:
        if not self.datasets:
            raise ValueError("give at least one dataset folder")
        if self.steps is None and self.minutes is None:
            raise ValueError("give --steps N or --minutes M (or both: whichever comes first)")
        if self.steps is not None and (isinstance(self.steps, bool) or int(self.steps) < 1):
            raise ValueError(f"steps must be >= 1, got {self.steps!r}")
        if self.minutes is not None and not float(self.minutes) > 0:
            raise ValueError(f"minutes must be > 0, got {self.minutes!r}")
        if int(self.batch) < 1:
            raise ValueError(f"batch must be >= 1, got {self.batch!r}")
        if int(self.crop) < 64 or int(self.crop) > MAX_CROP or int(self.crop) % 32:
            raise ValueError(f"crop must be a multiple of 32 from 64 to {MAX_CROP}, got {self.crop!r}")
        if self.limit is not None and int(self.limit) < 1:
            raise ValueError(f"limit must be >= 1, got {self.limit!r}")
        for name in ("log_every", "val_every", "save_every", "val_max", "workers"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")


def default_lr(model: str, init) -> float:
    """5e-4 (ViTMatte's fine-tuning rate) for ``vitmatte-small``, a config folder or any ``init``; 5e-3 for
    ``vitmatte-tiny`` from scratch, whose 0.45 M parameters learn too slowly at 5e-4 for a CPU demo
    (held-out SAD still at the trimap-only baseline after 3 minutes, 23 % below it at 5e-3)."""
    return 5e-3 if model == "vitmatte-tiny" and init is None else 5e-4


@dataclasses.dataclass
class TrainResult:
    """What a call of :func:`train` did."""

    output: str
    step: int
    seconds: float  # training time of the run, all invocations
    resumed_from: int  # step the call started at (0 for a new run)
    val: dict | None  # last held-out metrics (mean over the held-out samples)
    baseline: dict | None  # the same metrics of the trimap-only baseline (unknown = 0.5)
    interrupted: bool = False


def read_log(run) -> list[dict]:
    """The records of a run's ``log.jsonl`` (a torn last line, from a kill, is skipped)."""
    path = os.path.join(os.fspath(run), "log.jsonl")
    out = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
    return out


def plot_curve(run, path=None) -> str:
    """Write the training curve of a run (loss per step; held-out SAD and the baseline's) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..fileio.readwrite import write_bytes_atomic

    run = os.fspath(run)
    path = path or os.path.join(run, "curve.png")
    records = read_log(run)
    train = [r for r in records if "loss" in r]
    val = [r for r in records if "val" in r]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), dpi=100)
    if train:
        steps = np.array([r["step"] for r in train])
        axes[0].plot(steps, [r["loss"] for r in train], lw=1, label="total")
        for key in ("l1", "laplacian", "gradient"):
            axes[0].plot(steps, [r.get(key, np.nan) for r in train], lw=0.8, alpha=0.7, label=key)
        axes[0].set_yscale("log")
        axes[0].legend(fontsize=8)
    axes[0].set(xlabel="step", ylabel="training loss", title="loss (unknown region)")
    if val:
        steps = [r["step"] for r in val]
        axes[1].plot(steps, [r["val"]["sad"] for r in val], "o-", label="model")
        axes[1].plot(steps, [r["baseline"]["sad"] for r in val], "--", color="grey", label="trimap only (0.5)")
        axes[1].set_ylim(bottom=0)
        axes[1].legend(fontsize=8)
    axes[1].set(xlabel="step", ylabel="SAD / image (unknown region)", title="held-out samples")
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    write_bytes_atomic(path, buf.getvalue(), durable=False)
    return path


# --- checkpoints --------------------------------------------------------------------------------------------------


def _optimizer_tensors(optimizer) -> tuple[dict, dict]:
    """AdamW state as flat safetensors-ready tensors plus the JSON-able rest."""
    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            if hasattr(v, "detach"):
                tensors[f"{pid}.{k}"] = v.detach().to("cpu").contiguous()
            else:
                scalars[f"{pid}.{k}"] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _restore_optimizer(optimizer, tensors: dict, meta: dict) -> None:
    state: dict = {}
    for key, v in tensors.items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = v
    for key, v in meta["scalars"].items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = v
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def _rng_tensors() -> dict:
    """torch's random states (CPU and every GPU), so a resumed run draws what the uninterrupted one would."""
    import torch

    out = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out.update({f"cuda{i}": t for i, t in enumerate(torch.cuda.get_rng_state_all())})
    return out


def _restore_rng(tensors: dict) -> None:
    import torch

    if "cpu" in tensors:
        torch.set_rng_state(tensors["cpu"])
    cuda = [tensors[k] for k in sorted(tensors, key=lambda k: int(k[4:]) if k[4:].isdigit() else -1)
            if k.startswith("cuda") and k[4:].isdigit()]  # fmt: skip
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


def _save_checkpoint(run: str, model, optimizer, trainer_state: dict) -> None:
    from safetensors.torch import save

    from ..fileio.readwrite import write_bytes_atomic
    from .model import save_model

    new, cur, old = (os.path.join(run, n) for n in (_CKPT_NEW, _CKPT, _CKPT_OLD))
    shutil.rmtree(new, ignore_errors=True)
    save_model(model, new)
    tensors, meta = _optimizer_tensors(optimizer)
    write_bytes_atomic(os.path.join(new, "optimizer.safetensors"), save(tensors) if tensors else save({}))
    write_bytes_atomic(os.path.join(new, "rng_state.safetensors"), save(_rng_tensors()))
    write_bytes_atomic(os.path.join(new, "trainer_state.json"),
                       (json.dumps({**trainer_state, "optimizer": meta}, indent=1) + "\n").encode())  # fmt: skip
    # Swap whole folders: at every moment checkpoint/ or checkpoint.old/ is complete.
    shutil.rmtree(old, ignore_errors=True)
    if os.path.isdir(cur):
        os.replace(cur, old)
    os.replace(new, cur)
    shutil.rmtree(old, ignore_errors=True)


def _complete_checkpoint(run: str) -> str | None:
    for name in (_CKPT, _CKPT_OLD):
        folder = os.path.join(run, name)
        if os.path.isfile(os.path.join(folder, "trainer_state.json")):
            return folder
    return None


# --- the loop -----------------------------------------------------------------------------------------------------


class _BatchMaker:
    """Prepares training batches in threads (OpenCV releases the GIL) a few steps ahead of the model."""

    def __init__(self, samples, backgrounds, reader, aug, seed, batch, start_step, workers):
        self.samples, self.backgrounds, self.reader, self.aug = samples, backgrounds, reader, aug
        self.seed, self.batch = seed, batch
        self._stop = threading.Event()
        self._next = start_step
        self.bad: set = set()
        self._results: dict[int, object] = {}
        self._cond = threading.Condition()
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(workers)]
        self._ahead = 2 * workers
        self._wanted = start_step
        for t in self._threads:
            t.start()

    def make(self, step: int):
        images, trimaps, alphas = [], [], []
        for slot in range(self.batch):
            rng = seeded_rng(self.seed, "train", step, slot)
            while True:
                # Draws from all samples, a bad one drawn again: the same draws whether or not this run has met
                # the bad sample yet, so a resumed run sees the data of the uninterrupted one.
                with self._cond:
                    if len(self.bad) >= len(self.samples):
                        raise ValueError("no training sample could be read")
                sample = self.samples[int(rng.integers(len(self.samples)))]
                if sample in self.bad:
                    continue
                try:
                    fg, alpha = self.reader.read(sample)
                    break
                except ValueError as exc:  # one unreadable sample is left out (said once), training goes on
                    with self._cond:
                        if sample not in self.bad:
                            self.bad.add(sample)
                            print(f"ldmatte train: skipping {exc}", file=sys.stderr)
            im, tri, a = training_example(fg, alpha, self.backgrounds, rng, self.aug)
            images.append(im), trimaps.append(tri), alphas.append(a)
        return np.stack(images), np.stack(trimaps), np.stack(alphas)

    def _work(self):
        while not self._stop.is_set():
            with self._cond:
                while not self._stop.is_set() and self._next >= self._wanted + self._ahead:
                    self._cond.wait(0.1)
                if self._stop.is_set():
                    return
                step = self._next
                self._next += 1
            try:
                result = self.make(step)
            except BaseException as exc:  # handed to the consumer, which raises it
                result = exc
            with self._cond:
                self._results[step] = result
                self._cond.notify_all()

    def get(self, step: int, stop=None):
        """The batch of ``step``; None when ``stop`` is set while waiting (a reader stuck on a slow file
        does not keep Ctrl-C or SIGTERM from ending the run: the threads are daemons)."""
        with self._cond:
            self._wanted = step
            self._cond.notify_all()
            while step not in self._results:
                if stop is not None and stop.is_set():
                    return None
                self._cond.wait(0.1)
            result = self._results.pop(step)
        if isinstance(result, BaseException):
            raise result
        return result

    def close(self):
        self._stop.set()
        with self._cond:
            self._cond.notify_all()


def _lr_factor(step: int, progress: float, warmup: int) -> float:
    warm = min(1.0, (step + 1) / max(1, warmup))
    return warm * (0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress))))


def _validation_set(val_samples, reader, cfg: TrainConfig):
    pool = BackgroundPool(cfg.backgrounds)
    lo, hi = AugmentConfig(crop=cfg.crop).kernel_range()
    out = []
    for sample in val_samples[: cfg.val_max]:
        try:
            fg, alpha = reader.read(sample)
        except ValueError as exc:
            print(f"ldmatte train: validation skips {exc}", file=sys.stderr)
            continue
        out.append(fixed_example(fg, alpha, pool, seeded_rng(cfg.seed, "val", sample.key), cfg.crop, (lo + hi) // 2))
    return out


def _evaluate(predict, examples) -> tuple[dict, dict]:
    """Mean SAD / MSE / Grad over the unknown region, of the model and of the trimap-only baseline."""
    from .. import metrics
    from .predictor import trimap_only

    model_m, base_m = {"sad": [], "mse": [], "grad": []}, {"sad": [], "mse": [], "grad": []}
    for image, tri, gt in examples:
        pred = predict(image[None], tri[None])[0]
        base = trimap_only(tri)
        for store, p in ((model_m, pred), (base_m, base)):
            store["sad"].append(metrics.sad(p, gt, tri))
            store["mse"].append(metrics.mse(p, gt, tri))
            store["grad"].append(metrics.grad(p, gt, tri))
    mean = lambda d: {k: float(np.nanmean(v)) for k, v in d.items()}  # noqa: E731
    return mean(model_m), mean(base_m)


_RUN_FILES = ("split.json", "run.json", "log.jsonl", "curve.png")  # what a run writes before its first checkpoint


def _unstarted(run: str) -> bool:
    """True for a run folder of ours that never saved a checkpoint and holds only the files a run writes first."""
    from ..fileio.ownership import MARKER
    from ..fileio.readwrite import is_temp_name

    try:
        with open(os.path.join(run, MARKER), encoding="utf-8") as f:
            if json.load(f).get("kind") != RUN_KIND:
                return False
        names = os.listdir(run)
    except (OSError, ValueError, AttributeError):
        return False
    if _complete_checkpoint(run) is not None:
        return False
    return all(n in _RUN_FILES or n == _CKPT_NEW or n.startswith(MARKER) or n.startswith(f".{MARKER}.")
               or is_temp_name(n) for n in names)  # fmt: skip


def _claim_run(run: str, settings: dict):
    """Claim the run folder; one that never reached a checkpoint (a run that failed early) takes new settings.

    Its files (split, settings, log, curve) say nothing a new run needs, so the
    corrected command replaces them instead of being refused for settings
    nothing depends on.
    """
    from ..fileio.ownership import MARKER, OutputFault, OutputFolder, UsageError
    from ..fileio.readwrite import write_json_atomic

    try:
        return OutputFolder.claim(run, RUN_KIND, option=None, settings=settings)
    except OutputFault:
        raise
    except UsageError:
        if not _unstarted(run):
            raise
    try:
        for name in _RUN_FILES:
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(run, name))
        shutil.rmtree(os.path.join(run, _CKPT_NEW), ignore_errors=True)
        with open(os.path.join(run, MARKER), encoding="utf-8") as f:
            marker = json.load(f)
        marker["settings"] = {**marker.get("settings", {}), **settings}
        write_json_atomic(os.path.join(run, MARKER), marker)
    except OSError as exc:
        raise OutputFault(exc, run) from exc
    return OutputFolder.claim(run, RUN_KIND, option=None, settings=settings)


def _check_crop(crop: int, samples) -> None:
    """Refuse a crop larger than the shorter side of the smallest sample: it would train on upscaled pixels."""
    from .data import smallest_sample

    found = smallest_sample(samples)
    if found is None or crop <= found[0]:
        return
    side, sample, (h, w) = found
    fits = side // 32 * 32
    hint = (f"use --crop {fits} or less" if fits >= 64 else
            "these samples are too small to train on (crops are at least 64 pixels)")  # fmt: skip
    raise ValueError(f"crop {crop} is larger than the smallest sample ({sample.key}, {w}x{h} pixels): its crops "
                     f"would be upscaled; {hint}")  # fmt: skip


def train(cfg: TrainConfig, stop=None, log=None, *, pause_at: int | None = None) -> TrainResult:
    """Train (or resume) a run; see the module docstring for the run folder.

    ``stop``: an object with ``is_set()`` (e.g. :func:`ldmatte.files.stop_on_signals`'s flag); when set, the
    loop saves a checkpoint and returns with ``interrupted=True``. ``log``: a callable for one-line messages.
    ``pause_at``: stop as ``stop`` would once the run reaches this step (the same command resumes it).

    Every setting, the data and the model are checked before the run folder is
    claimed, so a refused command leaves nothing behind. A resumed run is a
    continuation: the same steps, data, model, optimizer, learning rate and
    random states as the uninterrupted run (bit for bit on the CPU).
    """
    import torch
    from tqdm import tqdm

    from ..fileio.ownership import UsageError
    from ..fileio.readwrite import write_json_atomic
    from .losses import matting_loss
    from .model import build_model, load_model, load_safetensors, parameter_count, resolve_device
    from .predictor import Predictor

    cfg.check()
    if pause_at is not None and (isinstance(pause_at, bool) or int(pause_at) < 0):
        raise ValueError(f"pause_at must be a step >= 0, got {pause_at!r}")
    if cfg.lr is None:
        cfg = dataclasses.replace(cfg, lr=default_lr(os.fspath(cfg.model), cfg.init))
    say = log or (lambda msg: print(msg, file=sys.stderr))
    device = resolve_device(cfg.device)
    samples = collect_samples(cfg.datasets)
    if len(samples) < 2:
        raise ValueError(f"need at least 2 samples, found {len(samples)} in {', '.join(map(str, cfg.datasets))}")
    datasets = [os.path.abspath(os.fspath(d)) for d in cfg.datasets]
    run = os.fspath(cfg.output)
    from ..fileio.ownership import check_disjoint

    check_disjoint(datasets + ([cfg.backgrounds] if cfg.backgrounds != "synthetic" else []), [run])
    # Everything that can be refused is checked before the folder is claimed (a refused command leaves nothing).
    backgrounds = BackgroundPool(cfg.backgrounds)
    train_samples, val_samples = split_samples(samples, cfg.val, cfg.seed)
    if cfg.limit is not None:
        train_samples = nested_subset(train_samples, int(cfg.limit), cfg.seed)
    _check_crop(int(cfg.crop), train_samples)
    model = None
    if _complete_checkpoint(run) is None:  # a new run: its model (preset or config, --init weights) must load
        model = build_model(cfg.model, init=cfg.init, seed=cfg.seed)
    _claim_run(run, {"model": os.fspath(cfg.model), "seed": int(cfg.seed), "val": float(cfg.val),
                     "datasets": datasets, "limit": cfg.limit})  # fmt: skip

    split_path = os.path.join(run, "split.json")
    split = {"train": [s.key for s in train_samples], "val": [s.key for s in val_samples]}
    if os.path.exists(split_path):
        with open(split_path, encoding="utf-8") as f:
            recorded = json.load(f)
        if recorded != split:
            raise UsageError(f"{run}: the datasets changed since this run started (its split.json lists other "
                             "samples); train into a new output folder")  # fmt: skip
    else:
        write_json_atomic(split_path, split)

    ckpt = _complete_checkpoint(run)
    state = {"step": 0, "seconds": 0.0}
    if ckpt is not None:
        torch.manual_seed(cfg.seed)  # as before the first run's model (a checkpoint without random states)
        model = load_model(ckpt)
        with open(os.path.join(ckpt, "trainer_state.json"), encoding="utf-8") as f:
            state = json.load(f)
        rng_file = os.path.join(ckpt, "rng_state.safetensors")
        if os.path.isfile(rng_file):
            _restore_rng(load_safetensors(rng_file))
    elif model is None:  # a checkpoint seen before the claim is gone: start as a new run
        model = build_model(cfg.model, init=cfg.init, seed=cfg.seed)
    model.to(device).train()
    settings = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("progress",)}
    settings["datasets"] = datasets
    write_json_atomic(os.path.join(run, "run.json"), {**settings, "parameters": parameter_count(model),
                                                       "samples": {"train": len(train_samples),
                                                                   "val": len(val_samples)}})  # fmt: skip

    # no weight decay on biases, norms and position embeddings (as ViTMatte's recipe)
    decays = [(p, p.ndim > 1 and "pos_embed" not in n and "rel_pos" not in n) for n, p in model.named_parameters()]
    optimizer = torch.optim.AdamW([{"params": [p for p, d in decays if d], "weight_decay": cfg.weight_decay},
                                   {"params": [p for p, d in decays if not d], "weight_decay": 0.0}],
                                  lr=cfg.lr, betas=(0.9, 0.999))  # fmt: skip
    if ckpt is not None and os.path.isfile(os.path.join(ckpt, "optimizer.safetensors")):
        tensors = {k: v.to(device) for k, v in load_safetensors(os.path.join(ckpt, "optimizer.safetensors")).items()}
        _restore_optimizer(optimizer, tensors, state["optimizer"])
    start_step, done_seconds = int(state["step"]), float(state["seconds"])
    _truncate_log(run, start_step)

    use_amp = device.startswith("cuda")
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    if state.get("scaler") and scaler.is_enabled():
        scaler.load_state_dict(state["scaler"])
    warmup = cfg.warmup if cfg.warmup is not None else (min(500, max(1, cfg.steps // 20)) if cfg.steps else 20)
    total_steps = int(cfg.steps) if cfg.steps else None
    budget = float(cfg.minutes) * 60 if cfg.minutes else None

    reader = SampleReader()
    aug = AugmentConfig(crop=int(cfg.crop))
    val_examples = _validation_set(val_samples, reader, cfg)
    predictor = Predictor(model, device, batch_size=cfg.batch)
    model.train()  # Predictor() put it in eval mode: BatchNorm trains from the first step, resumed or not

    def predict(images, trimaps):
        model.eval()
        try:
            return predictor.predict(images, trimaps)
        finally:
            model.train()

    def finished(step, seconds):
        return (total_steps is not None and step >= total_steps) or (budget is not None and seconds >= budget)

    def progress_of(step, seconds):
        fractions = [step / total_steps] if total_steps else []
        fractions += [seconds / budget] if budget else []
        return max(fractions)

    say(f"training {cfg.model} ({parameter_count(model) / 1e6:.2f} M parameters) on {device}: "
        f"{len(train_samples)} samples, {len(val_samples)} held out"
        + (f"; resuming at step {start_step}" if start_step else ""))  # fmt: skip
    maker = _BatchMaker(train_samples, backgrounds, reader, aug, cfg.seed, int(cfg.batch), start_step,
                        int(cfg.workers))  # fmt: skip
    log_file = open(os.path.join(run, "log.jsonl"), "a", encoding="utf-8")
    step, seconds, last_val, baseline, interrupted = start_step, done_seconds, None, None, False
    bar = tqdm(total=total_steps, initial=start_step, unit="step", desc="train", disable=not cfg.progress,
               file=sys.stderr, dynamic_ncols=True)  # fmt: skip
    running: dict = {}
    last_saved = step

    def validate():
        nonlocal last_val, baseline
        if not val_examples:
            return
        last_val, baseline = _evaluate(predict, val_examples)
        record = {"step": step, "seconds": round(seconds, 2), "val": last_val, "baseline": baseline}
        log_file.write(dumps(record) + "\n")
        log_file.flush()

    def save():
        nonlocal last_saved
        _save_checkpoint(run, model, optimizer, {"step": step, "seconds": seconds, "model": os.fspath(cfg.model),
                                                 **({"scaler": scaler.state_dict()} if scaler.is_enabled() else {})})
        last_saved = step
        plot_curve(run)

    try:
        if start_step == 0 and val_examples:
            validate()
        while not finished(step, seconds):
            if (stop is not None and stop.is_set()) or (pause_at is not None and step >= pause_at):
                interrupted = True
                break
            t0 = time.perf_counter()
            batch = maker.get(step, stop)
            if batch is None:  # stopped while the batch was being prepared
                interrupted = True
                break
            images, trimaps, alphas = batch
            factor = _lr_factor(step, progress_of(step, seconds), warmup)
            for group in optimizer.param_groups:
                group["lr"] = cfg.lr * factor
            x = to_model_input(images, trimaps, device)
            gt = torch.as_tensor(alphas, device=device)[:, None].float() / 255.0
            unknown = (torch.as_tensor(trimaps, device=device)[:, None] == 128).float()
            with torch.autocast("cuda", dtype=amp_dtype, enabled=use_amp):
                pred = model(pixel_values=x).alphas[..., : gt.shape[-2], : gt.shape[-1]]
            terms = matting_loss(pred.float(), gt, unknown)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(terms["loss"]).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(optimizer)
            scaler.update()
            step += 1
            seconds += time.perf_counter() - t0
            for k, v in terms.items():
                running[k] = running.get(k, 0.0) + float(v.detach())
            running["n"] = running.get("n", 0) + 1
            bar.update(1)
            if step % cfg.log_every == 0 or finished(step, seconds):
                n = running.pop("n")
                record = {"step": step, "seconds": round(seconds, 2), "lr": cfg.lr * factor,
                          **{k: v / n for k, v in running.items()}}  # fmt: skip
                running.clear()
                log_file.write(dumps(record) + "\n")
                log_file.flush()
                bar.set_postfix(loss=f"{record['loss']:.4f}")
            if step % cfg.val_every == 0 and not finished(step, seconds):
                validate()
            if step % cfg.save_every == 0:
                save()
        if step != start_step:
            validate()
        elif val_examples:  # nothing left to do: report the checkpoint's held-out figures without logging
            last_val, baseline = _evaluate(predict, val_examples)
        if step != last_saved or _complete_checkpoint(run) is None:
            save()
        else:
            plot_curve(run)
    finally:
        bar.close()
        maker.close()
        log_file.close()
    return TrainResult(run, step, seconds, start_step, last_val, baseline, interrupted)


def _truncate_log(run: str, step: int) -> None:
    """Drop log lines past the checkpoint a resumed run restarts from (they will be written again)."""
    from ..fileio.readwrite import write_bytes_atomic

    path = os.path.join(run, "log.jsonl")
    if not os.path.exists(path):
        return
    keep = [r for r in read_log(run) if r.get("step", 0) <= step and not (step == 0 and "loss" in r)]
    if step == 0:
        keep = []
    write_bytes_atomic(path, "".join(dumps(r) + "\n" for r in keep).encode(), durable=False)
