"""Backend selection: which kernels (Numba CPU or CUDA) run a call.

``backend="auto"`` follows the data: numpy and CPU torch tensors run on the CPU
with Numba, torch CUDA tensors and CuPy arrays run on the GPU. ``"cpu"`` forces
the Numba path (device arrays are copied to the host and the result copied
back); ``"cuda"`` demands the CUDA path and raises a clear error when it was not
built, when no GPU is visible, or when the input is a host array.
"""
from __future__ import annotations

import functools

from ._arrays import array_kind, is_on_gpu

BACKENDS = ("auto", "cpu", "cuda")


class BackendUnavailableError(RuntimeError):
    """The requested backend cannot run here (not built, or no GPU)."""


@functools.lru_cache(maxsize=1)
def native():
    """The compiled extension module, or None when it failed to import."""
    try:
        from . import _native  # noqa: PLC0415
    except ImportError:
        return None
    return _native


def cuda_built() -> bool:
    mod = native()
    return bool(mod is not None and mod.cuda_built())


@functools.lru_cache(maxsize=1)
def cuda_device_count() -> int:
    mod = native()
    if mod is None or not mod.cuda_built():
        return 0
    return int(mod.cuda_device_count())


def cuda_usable() -> bool:
    return cuda_built() and cuda_device_count() > 0


def select_backend(x, backend: str = "auto") -> str:
    """Return ``"cpu"`` or ``"cuda"`` for input ``x`` and the user's ``backend`` choice."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    on_gpu = is_on_gpu(x)
    if backend == "cpu" or (backend == "auto" and not on_gpu):
        return "cpu"
    if not cuda_built():
        raise BackendUnavailableError(
            "the CUDA backend was not built into this ldmatte install "
            "(reinstall with a CUDA compiler on PATH and LDMATTE_CUDA=ON), or use backend='cpu'"
        )
    if cuda_device_count() == 0:
        raise BackendUnavailableError("the CUDA backend is built but no CUDA GPU is visible; use backend='cpu'")
    if not on_gpu:
        raise ValueError(
            f"backend='cuda' needs a torch CUDA tensor or a CuPy array, got a host {array_kind(x)} array; "
            "move it to the GPU first (torch.as_tensor(x, device='cuda') or cupy.asarray(x))"
        )
    return "cuda"
