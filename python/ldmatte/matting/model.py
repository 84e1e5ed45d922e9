"""ViTMatte models from ``transformers``: presets, local folders, safetensors checkpoints, device choice.

A model is ``transformers.VitMatteForImageMatting`` built from a
``VitMatteConfig``: a ViTDet backbone over the 4-channel input (RGB normalised
to [-1, 1] and the trimap scaled to [0, 1]), a convolutional detail stream and
fusion decoder, and a sigmoid alpha. Presets:

- ``vitmatte-small``: the ViTMatte-S configuration of the paper (ViTDet hidden
  size 384, 12 layers, 6 heads, window attention of 14 in 8 blocks with
  residual conv blocks after every third, relative position embeddings,
  patch 16; about 25.8 M parameters). Train it on a GPU.
- ``vitmatte-tiny``: the same architecture with 4 layers of width 64 and 2
  heads (0.45 M parameters), for CPU demos and tests.

Weights are read and written as safetensors only (``model.safetensors`` next
to ``config.json``, the layout of ``save_pretrained``); nothing is downloaded.
"""
from __future__ import annotations

import copy
import json
import os

__all__ = ["PRESETS", "SIZE_MULTIPLE", "model_config", "build_model", "load_model", "save_model",
           "is_checkpoint_dir", "resolve_device", "parameter_count", "load_safetensors"]  # fmt: skip

SIZE_MULTIPLE = 32  # the decoder halves the size 5 times: inputs are padded to a multiple of 32

_SMALL_BACKBONE = {
    "model_type": "vitdet",
    "hidden_size": 384, "num_hidden_layers": 12, "num_attention_heads": 6, "mlp_ratio": 4, "num_channels": 4,
    "image_size": 512, "pretrain_image_size": 224, "patch_size": 16, "qkv_bias": True, "drop_path_rate": 0.0,
    "window_block_indices": [0, 1, 3, 4, 6, 7, 9, 10], "residual_block_indices": [2, 5, 8, 11],
    "use_absolute_position_embeddings": True, "use_relative_position_embeddings": True, "window_size": 14,
    "out_features": ["stage12"],
}  # fmt: skip
_TINY_BACKBONE = dict(_SMALL_BACKBONE, hidden_size=64, num_hidden_layers=4, num_attention_heads=2,
                      window_block_indices=[0, 2], residual_block_indices=[1, 3], window_size=7,
                      out_features=["stage4"])  # fmt: skip

PRESETS = {
    "vitmatte-small": {"backbone_config": _SMALL_BACKBONE, "hidden_size": 384,
                       "convstream_hidden_sizes": [48, 96, 192], "fusion_hidden_sizes": [256, 128, 64, 32]},
    "vitmatte-tiny": {"backbone_config": _TINY_BACKBONE, "hidden_size": 64,
                      "convstream_hidden_sizes": [16, 32, 64], "fusion_hidden_sizes": [64, 32, 16, 16]},
}  # fmt: skip


def is_checkpoint_dir(path) -> bool:
    """True for a folder with ``config.json`` and ``model.safetensors`` (a ``save_pretrained`` folder)."""
    path = os.fspath(path)
    return os.path.isfile(os.path.join(path, "config.json")) and os.path.isfile(os.path.join(path, "model.safetensors"))


def model_config(spec: str):
    """The ``VitMatteConfig`` of a preset name, or of a folder's ``config.json`` (or a JSON file).

    Examples
    --------
    >>> from ldmatte.matting.model import model_config
    >>> cfg = model_config("vitmatte-small")
    >>> cfg.backbone_config.hidden_size, cfg.backbone_config.num_hidden_layers, cfg.backbone_config.patch_size
    (384, 12, 16)
    """
    from transformers import VitMatteConfig

    spec = os.fspath(spec)
    if spec in PRESETS:
        return VitMatteConfig(**copy.deepcopy(PRESETS[spec]))
    path = os.path.join(spec, "config.json") if os.path.isdir(spec) else spec
    if not os.path.isfile(path):
        raise ValueError(f"model must be one of {sorted(PRESETS)} or a folder with config.json, got {spec!r}")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError: the message alone would not name the file
        raise ValueError(f"{path}: not a valid JSON config ({exc})") from None
    if not isinstance(data, dict) or data.get("model_type") != "vitmatte":
        got = data.get("model_type") if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path}: not a ViTMatte config (model_type {got!r})")
    try:
        return VitMatteConfig.from_dict(data)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:  # fields of the wrong type or shape
        raise ValueError(f"{path}: not a usable ViTMatte config ({type(exc).__name__}: {exc})") from None


def parameter_count(model) -> int:
    """Number of parameters of a torch module."""
    return sum(p.numel() for p in model.parameters())


def build_model(spec: str = "vitmatte-tiny", init=None, seed: int | None = None):
    """A ``VitMatteForImageMatting``: random weights from a preset or config, or weights from a checkpoint.

    Parameters
    ----------
    spec : str
        A preset name (:data:`PRESETS`), a folder with ``config.json`` or a
        checkpoint folder (``config.json`` + ``model.safetensors``, loaded).
    init : path, optional
        A checkpoint folder whose weights initialise the model (e.g. a
        ViTMatte composition-1k checkpoint saved with ``save_pretrained`` in
        safetensors). Its config must describe the same architecture as ``spec``.
    seed : int, optional
        Seed for the random initialisation.
    """
    import torch
    from transformers import VitMatteForImageMatting

    if init is None and not isinstance(spec, str):
        raise TypeError(f"spec must be a preset name or a path, got {type(spec).__name__}")
    if init is None and os.path.isdir(os.fspath(spec)) and is_checkpoint_dir(spec):
        return load_model(spec)
    config = model_config(spec)
    if seed is not None:
        torch.manual_seed(int(seed))
    model = VitMatteForImageMatting(config)
    if init is not None:
        _load_weights(model, init)
    return model


def load_safetensors(path) -> dict:
    """The tensors of a safetensors file (on the CPU).

    Raises
    ------
    ValueError
        One line naming the file when it is damaged (truncated, cut header)
        or no safetensors file at all, instead of safetensors' own error.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = os.fspath(path)
    try:
        return load_file(path)
    except SafetensorError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ValueError(f"{path}: damaged or not a safetensors file ({first})") from None


def _load_weights(model, folder) -> None:
    folder = os.fspath(folder)
    weights = os.path.join(folder, "model.safetensors")
    if not os.path.isfile(weights):
        raise ValueError(f"{folder}: no model.safetensors (weights are read from safetensors files only)")
    state = load_safetensors(weights)
    own = model.state_dict()
    mismatched = [k for k, v in state.items() if k in own and tuple(own[k].shape) != tuple(v.shape)]
    if mismatched:
        raise ValueError(f"{folder}: weights do not fit the model ({len(mismatched)} tensors differ in shape, "
                         f"e.g. {mismatched[0]}); pick the matching --model")  # fmt: skip
    missing, unexpected = model.load_state_dict(state, strict=False)
    if len(missing) > len(own) // 2:
        raise ValueError(f"{folder}: only {len(own) - len(missing)} of {len(own)} tensors found; not a ViTMatte "
                         "checkpoint of this architecture")  # fmt: skip


def load_model(folder):
    """A ``VitMatteForImageMatting`` from a checkpoint folder (``config.json`` + ``model.safetensors``)."""
    from transformers import VitMatteForImageMatting

    folder = os.fspath(folder)
    if not is_checkpoint_dir(folder):
        raise ValueError(f"{folder}: not a checkpoint folder (needs config.json and model.safetensors)")
    model = VitMatteForImageMatting(model_config(folder))
    _load_weights(model, folder)
    return model


def save_model(model, folder) -> None:
    """Write ``config.json`` and ``model.safetensors`` into ``folder``, each atomically (temp + rename).

    The folder loads with :func:`load_model` and with
    ``VitMatteForImageMatting.from_pretrained``.
    """
    from safetensors.torch import save

    from ..fileio.readwrite import write_bytes_atomic

    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    write_bytes_atomic(os.path.join(folder, "model.safetensors"), save(state, metadata={"format": "pt"}))
    config = model.config.to_dict()
    config["architectures"] = ["VitMatteForImageMatting"]
    write_bytes_atomic(os.path.join(folder, "config.json"), (json.dumps(config, indent=2) + "\n").encode())


def resolve_device(requested: str = "auto") -> str:
    """``"auto"`` -> ``"cuda"`` when torch sees a GPU, else ``"cpu"``; ``"cuda"`` without one is an error."""
    import torch

    if requested not in ("auto", "cpu", "cuda") and not str(requested).startswith("cuda:"):
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {requested!r}")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device cuda requested but torch sees no usable GPU (use --device cpu)")
    return requested
