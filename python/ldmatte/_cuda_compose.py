"""The fused compose of the GPU refine (csrc/cuda/compose.cu): refined alpha beside straight or padded colour.

:func:`compose_rgba_cuda` writes, in one pass over the pixels, RGBA whose colour is
``src``'s where ``alpha > 0`` and ``fill``'s where ``alpha == 0`` (``src``'s everywhere
without ``fill``) and whose alpha is ``alpha``; torch's ``where`` + ``cat`` needed two
temporaries and three passes. Operands are read at their strides (channel slices,
views), the output may be ``src`` itself (in place), and the kernel is enqueued on the
caller's current stream. Reference: :func:`ldmatte.reference.compose.compose_rgba_reference`.
"""
from __future__ import annotations

import numpy as np

from . import _backend
from ._arrays import array_kind
from ._cuda_arch import device_adapter

__all__ = ["compose_rgba_cuda", "fused_compose_available"]


def fused_compose_available() -> bool:
    """True when the extension has the fused kernel (a CUDA build of this version)."""
    mod = _backend.native()
    return mod is not None and hasattr(mod, "cuda_compose_rgba")


def _strides(x, kind) -> tuple:
    """Element strides (uint8: bytes) of a torch tensor or CuPy array."""
    return tuple(int(s) for s in (x.stride() if kind == "torch" else x.strides))


def _check(name, x, kind, device, shape, channels=None):
    if array_kind(x) != kind:
        raise TypeError(f"{name}: expected a {kind} array like src, got {array_kind(x)}")
    is_u8 = x.dtype == __import__("torch").uint8 if kind == "torch" else x.dtype == np.uint8
    if not is_u8:
        raise TypeError(f"{name}: dtype must be uint8, got {x.dtype}")
    want = tuple(shape) + ((channels,) if channels else ())
    got = tuple(int(s) for s in x.shape)
    if channels == "rgba":
        ok = len(got) == len(shape) + 1 and got[:-1] == tuple(shape) and got[-1] >= 3
        want = tuple(shape) + ("C>=3",)
    else:
        ok = got == want
    if not ok:
        raise ValueError(f"{name}: expected shape {want}, got {got}")
    dev = x.device.index if kind == "torch" else x.device.id
    if dev != device:
        raise ValueError(f"{name}: on CUDA device {dev}, src on {device}")


def compose_rgba_cuda(src, alpha, fill=None, out=None):
    """(B, H, W, 4) or (H, W, 4) uint8 RGBA on src's device: colour of ``src`` where ``alpha > 0``
    (everywhere without ``fill``), of ``fill`` where ``alpha == 0``; alpha = ``alpha``.

    Parameters
    ----------
    src : (B, H, W, C >= 3) or (H, W, C) uint8 torch CUDA tensor or CuPy array, any strides
    alpha : (B, H, W) or (H, W) uint8, same kind and device
    fill : (B, H, W, 3) or (H, W, 3) uint8, optional
    out : (B, H, W, 4) uint8, optional
        Where to write; may be ``src`` itself. Default: a new C-contiguous array.

    Examples
    --------
    >>> import torch
    >>> from ldmatte._cuda_compose import compose_rgba_cuda
    >>> rgba = torch.zeros((1, 2, 2, 4), dtype=torch.uint8, device="cuda")  # doctest: +SKIP
    >>> a = torch.tensor([[[0, 9], [9, 9]]], dtype=torch.uint8, device="cuda")  # doctest: +SKIP
    >>> compose_rgba_cuda(rgba, a, torch.full((1, 2, 2, 3), 5, dtype=torch.uint8, device="cuda"))[0, 0, 0].tolist()  # doctest: +SKIP
    [5, 5, 5, 0]
    """
    if not fused_compose_available():
        raise _backend.BackendUnavailableError("the fused compose kernel is not built into this ldmatte install")
    kind = array_kind(src)
    if kind not in ("torch", "cupy") or (kind == "torch" and src.device.type != "cuda"):
        raise ValueError("compose_rgba_cuda needs a torch CUDA tensor or a CuPy array")
    batched = src.ndim == 4
    if src.ndim not in (3, 4):
        raise ValueError(f"src: expected (B, H, W, C) or (H, W, C), got shape {tuple(src.shape)}")
    ad = device_adapter(src)
    lead = tuple(int(s) for s in src.shape[:-1])
    _check("src", src, kind, ad.device_index, lead, "rgba")
    _check("alpha", alpha, kind, ad.device_index, lead)
    if fill is not None:
        _check("fill", fill, kind, ad.device_index, lead, 3)
    with ad.device_guard():
        if out is None:
            out = ad.empty(lead + (4,), np.uint8)
        else:
            _check("out", out, kind, ad.device_index, lead, 4)
        views = [src, alpha, fill, out]
        strides = [_strides(v, kind) if v is not None else () for v in views]
        if not batched:  # one image: a batch of one (its batch stride is never used)
            strides = [(0,) + s if s else () for s in strides]
        batch, height, width = ((1,) + lead) if not batched else lead
        ops = _backend.native()
        ops.cuda_compose_rgba(
            src=ad.ptr(src), src_strides=list(strides[0]), alpha=ad.ptr(alpha), alpha_strides=list(strides[1]),
            fill=0 if fill is None else ad.ptr(fill), fill_strides=list(strides[2]) or [0, 0, 0, 0],
            out=ad.ptr(out), out_strides=list(strides[3]), batch=batch, height=height, width=width,
            stream=ad.stream(),
        )  # fmt: skip
    return out
