"""Validation, key colours per image and the route a keying call takes.

numpy input runs the Numba kernels on the CPU. torch tensors (CPU or CUDA) run
the same arithmetic as torch operations on the tensor's device; CuPy arrays are
viewed as torch tensors through DLPack (no copy) and the result is handed back
as CuPy. ``backend="cpu"`` forces the Numba kernels (device input is copied to
the host and the result copied back); ``backend="cuda"`` demands device input.
"""
from __future__ import annotations

import numpy as np

from .._arrays import array_kind, as_host, check_image_stack, from_host, is_on_gpu
from .key_color import key_colors_for

BACKENDS = ("auto", "cpu", "cuda")


def check_rgb(rgb, name: str = "rgb"):
    """Validate a uint8 (H, W, 3) image or (B, H, W, 3) batch; return (kind, batched)."""
    kind, _, batched = check_image_stack(rgb, name, (np.uint8,), channels=3)
    if min(rgb.shape[-3:-1]) < 1:
        raise ValueError(f"{name}: empty image, shape {tuple(rgb.shape)}")
    return kind, batched


def route(rgb, backend: str) -> str:
    """``"numba"`` or ``"torch"`` for this input and backend choice."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    kind = array_kind(rgb)
    if backend == "cpu" or (backend == "auto" and kind == "numpy"):
        return "numba"
    if backend == "cuda" and not is_on_gpu(rgb):
        raise ValueError(
            f"backend='cuda' needs a torch CUDA tensor or a CuPy array, got a host {kind} array; "
            "move it to the GPU first or use backend='auto'"
        )
    if kind == "numpy":  # backend == "cuda" was refused above; "auto" with numpy is numba
        raise AssertionError("unreachable")
    return "torch"


def to_torch(x):
    """A torch view of a torch tensor or (through DLPack) a CuPy array."""
    import torch

    return x if array_kind(x) == "torch" else torch.from_dlpack(x)


def from_torch(t, like):
    """``t`` as the array type of ``like`` (CuPy through DLPack)."""
    if array_kind(like) == "torch":
        return t
    import cupy

    return cupy.from_dlpack(t.contiguous())


def run_keyer(rgb, key_color, backend, numba_fn, torch_fn, extra=None):
    """Validate, find the key colours, and run ``numba_fn(stack, keys)`` or ``torch_fn(stack, keys)``.

    ``stack`` is (B, H, W, 3) uint8, ``keys`` a (B, 3) int64 numpy array of
    key colours (one per image). The result keeps the input's batch shape,
    array type and device.
    """
    _, batched = check_rgb(rgb)
    path = route(rgb, backend)
    keys = key_colors_for(rgb, key_color)
    if path == "numba":
        host = as_host(rgb)
        stack = np.ascontiguousarray(host if batched else host[None])
        out = numba_fn(stack, keys)
        out = out if batched else out[0]
        return from_host(out, rgb)
    t = to_torch(rgb)
    stack = t if batched else t.unsqueeze(0)
    out = torch_fn(stack, keys)
    out = out if batched else out[0]
    return from_torch(out.contiguous(), rgb)
