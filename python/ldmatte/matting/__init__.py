"""Train, run and evaluate trimap-based matting models (ViTMatte through ``transformers``).

- :func:`train` with a :class:`TrainConfig`: the field's recipe on ldmatte
  datasets (composites over random backgrounds, crops, flips, colour jitter,
  trimaps by random erosion/dilation; L1 + Laplacian + gradient losses on the
  unknown region), safetensors checkpoints, resume, logs and a training curve.
- :func:`load_predictor`: a run folder or checkpoint folder ->
  :class:`Predictor` (``predict(images, trimaps) -> alpha``).
- :func:`evaluate_folders` and :func:`benchmark_items`: metrics of predicted
  mattes against ground truth, folders or public benchmark layouts.
- :func:`build_model`, :data:`PRESETS`: ``vitmatte-small`` (ViTMatte-S) and ``vitmatte-tiny``.

torch and transformers (the ``train`` extra) are imported on first use only.
"""
from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "PRESETS": "model",
    "build_model": "model",
    "load_model": "model",
    "save_model": "model",
    "model_config": "model",
    "Predictor": "predictor",
    "load_predictor": "predictor",
    "TrainConfig": "trainer",
    "TrainResult": "trainer",
    "train": "trainer",
    "plot_curve": "trainer",
    "read_log": "trainer",
    "write_heldout_set": "data",
    "BENCHMARKS": "benchmarks",
    "benchmark_items": "benchmarks",
    "evaluate_folders": "evaluate",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
