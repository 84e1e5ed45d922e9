"""Shared helpers for the benchmarks: real masks, timing, thread pinning, tables.

The real Layer Diffusion samples live beside the project (``LDMATTE_DATA`` or
``../shared/data/layerdiffuse`` relative to the repository root), never inside it.
"""
from __future__ import annotations

import ast
import dataclasses
import json
import os
import pathlib
import statistics
import time

import numpy as np
from numba import njit, prange

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA_DIR = pathlib.Path(os.environ.get("LDMATTE_DATA", ROOT.parent / "shared" / "data" / "layerdiffuse"))

# The transition region used as the labelling workload (targets.md): 8 < alpha < 247.
TRANSITION_LO, TRANSITION_HI = 8, 247
# Batch size of the batched benchmarks.
BATCH = 8


def real_rgba_paths(size: tuple[int, int] | None = (1024, 1024)) -> list[pathlib.Path]:
    """Real RGBA samples, optionally only those of ``size`` (H, W); sorted by name."""
    from PIL import Image

    paths = []
    for p in sorted(DATA_DIR.glob("*.png")):
        with Image.open(p) as im:
            if im.mode != "RGBA":
                continue
            if size is None or (im.height, im.width) == tuple(size):
                paths.append(p)
    return paths


def load_alpha(path) -> np.ndarray:
    """The alpha channel of an RGBA PNG as a C-contiguous (H, W) uint8 array."""
    from PIL import Image

    with Image.open(path) as im:
        return np.ascontiguousarray(np.asarray(im.convert("RGBA"))[..., 3])


def transition_mask(alpha: np.ndarray) -> np.ndarray:
    """uint8 0/1 mask of the transition region ``8 < alpha < 247``."""
    return ((alpha > TRANSITION_LO) & (alpha < TRANSITION_HI)).astype(np.uint8)


def real_alphas(size=(1024, 1024)) -> dict[str, np.ndarray]:
    """``{stem: alpha}`` for the real samples of ``size``; empty when the data is missing."""
    return {p.stem: load_alpha(p) for p in real_rgba_paths(size)} if DATA_DIR.is_dir() else {}


def noise_mask(shape=(1024, 1024), density: float = 0.5, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random(shape) < density).astype(np.uint8)


def set_threads(n: int) -> None:
    """Pin Numba and OpenCV to ``n`` threads (OpenCV: 1 means no worker threads)."""
    import cv2
    import numba

    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
    cv2.setNumThreads(n if n > 1 else 0)


def median_time(fn, repeat: int = 7, warmup: int = 1, inner: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeat`` samples of ``inner`` calls each."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner)
    return statistics.median(samples)


def interleaved_medians(fns: dict, repeat: int = 7, inner: int = 1) -> dict[str, float]:
    """Median time of each callable, sampled round-robin so machine noise hits all alike."""
    for fn in fns.values():
        fn()
    samples = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(inner):
                fn()
            samples[k].append((time.perf_counter() - t0) / inner)
    return {k: statistics.median(v) for k, v in samples.items()}


def print_table(rows: list[dict], columns: list[str]) -> None:
    """Plain fixed-width table of ``rows`` (dicts) with the given column order."""
    def fmt(v):
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    widths = [max(len(c), *(len(fmt(r.get(c, ""))) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(fmt(r.get(c, "")).ljust(w) for c, w in zip(columns, widths)))


def write_json(path, payload) -> None:
    pathlib.Path(path).write_text(json.dumps(payload, indent=2))


@njit(parallel=True, cache=True)
def _spin(chunks, n):
    """Compute-bound work in ``chunks`` equal parts (the thread-scaling calibration)."""
    out = np.zeros(chunks)
    for c in prange(chunks):
        acc = 0.0
        for k in range(n):
            acc += np.sin(k * 1e-6 + c)
        out[c] = acc
    return out


def machine_scaling_fns(counts, chunks: int = BATCH, n: int = 400_000) -> dict:
    """``{"machine N": fn}``: a compute-bound Numba loop of ``chunks`` equal parts at N threads.

    Timed in the same interleaved run as a workload, its speed-up from 1 to N
    threads says what the machine's threads delivered at that moment (shared
    machines often give far less than N); a batch's thread speed-up is read
    against it.
    """
    _spin(chunks, 10)  # compile before timing

    def at(k):
        def call():
            set_threads(k)
            return _spin(chunks, n)

        return call

    return {f"machine {k}": at(k) for k in counts}


def machine_note(t: dict, threads: int) -> str:
    """Text for the summary line: the calibration loop's speed-up from 1 to ``threads``."""
    if threads <= 1 or f"machine {threads}" not in t:
        return ""
    return (f" (a compute-bound loop timed alongside: {t['machine 1'] / t[f'machine {threads}']:.2f}x, "
            "what this machine's threads gave at the time)")


def with_overrides(settings, overrides=()):
    """``settings`` (a frozen dataclass) with ``"a.b=value"`` overrides: dotted fields into nested settings,
    values as Python literals (``0``, ``None``, ``False``, ``0.5``) or else plain strings (``soft``).

    >>> import dataclasses
    >>> @dataclasses.dataclass(frozen=True)
    ... class Inner:
    ...     x: int = 1
    >>> @dataclasses.dataclass(frozen=True)
    ... class Outer:
    ...     inner: Inner = Inner()
    ...     name: str = "a"
    >>> with_overrides(Outer(), ["inner.x=0", "name=soft"])
    Outer(inner=Inner(x=0), name='soft')
    """
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"an override is KEY=VALUE, got {item!r}")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        settings = _replace_path(settings, key.strip().split("."), value)
    return settings


def _replace_path(obj, path, value):
    names = {f.name for f in dataclasses.fields(obj)}
    if path[0] not in names:
        raise ValueError(f"{type(obj).__name__} has no setting {path[0]!r} (it has {', '.join(sorted(names))})")
    if len(path) > 1:
        value = _replace_path(getattr(obj, path[0]), path[1:], value)
    return dataclasses.replace(obj, **{path[0]: value})
