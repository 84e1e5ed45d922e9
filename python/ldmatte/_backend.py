"""Device and backend selection: which kernels (Numba CPU or CUDA) run a call.

:func:`resolve_device` is the one place that decides: ``"cpu"`` is the CPU,
``"cuda"`` the GPU (a clear :class:`BackendUnavailableError` when the CUDA
kernels were not built or no GPU is visible), ``"auto"`` the GPU when the CUDA
build is present and a GPU is usable, else the CPU. Commands and pipelines that
choose where to work call it with the user's choice.

For the array functions, :func:`select_backend` applies it to the data:
host arrays (numpy, CPU torch tensors) run on the CPU with Numba under
``"auto"``; device arrays (torch CUDA tensors, CuPy arrays) run on the GPU when
``resolve_device("auto")`` says so, else on the CPU (copied to the host and
the result copied back). ``"cpu"`` forces the Numba path; ``"cuda"`` demands
the CUDA path and raises a clear error when it cannot run or the input is a
host array.
"""
from __future__ import annotations

import functools

from ._arrays import ArrayInfo, array_kind, is_on_gpu

BACKENDS = ("auto", "cpu", "cuda")
DEVICES = BACKENDS


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


def cuda_unavailable_reason() -> str | None:
    """Why the CUDA kernels cannot run here (one clause), or None when they can."""
    if not cuda_built():
        return (
            "the CUDA backend was not built into this ldmatte install "
            "(reinstall with a CUDA compiler on PATH and LDMATTE_CUDA=ON)"
        )
    if cuda_device_count() == 0:
        return "the CUDA backend is built but no CUDA GPU is visible"
    return None


def resolve_device(requested: str) -> str:
    """The device to work on, ``"cpu"`` or ``"cuda"``, for a user's choice.

    Parameters
    ----------
    requested : {"cpu", "cuda", "auto"}
        ``"auto"`` means the GPU when the CUDA build is present and a GPU is
        usable, else the CPU.

    Returns
    -------
    str
        ``"cpu"`` or ``"cuda"``.

    Raises
    ------
    BackendUnavailableError
        ``"cuda"`` was requested and cannot run here (the message says why).
    ValueError
        ``requested`` is not one of the three choices.

    Examples
    --------
    >>> from ldmatte._backend import resolve_device
    >>> resolve_device("cpu")
    'cpu'
    >>> resolve_device("auto") in ("cpu", "cuda")
    True
    """
    if requested not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {requested!r}")
    if requested == "cpu":
        return "cpu"
    why = cuda_unavailable_reason()
    if why is None:
        return "cuda"
    if requested == "cuda":
        raise BackendUnavailableError(f"{why}; use the CPU instead")
    return "cpu"


def select_backend(x, backend: str = "auto") -> str:
    """Return ``"cpu"`` or ``"cuda"`` for input ``x`` (an array or its :class:`ArrayInfo`) and ``backend``."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    info = x if isinstance(x, ArrayInfo) else None
    on_gpu = info.on_gpu if info is not None else is_on_gpu(x)
    if backend == "cpu" or (backend == "auto" and not on_gpu):
        return "cpu"
    if backend == "auto":
        return resolve_device("auto")  # device data: the GPU when usable, else the CPU (copied back and forth)
    why = cuda_unavailable_reason()
    if why is not None:
        raise BackendUnavailableError(f"{why}; use backend='cpu'")
    if not on_gpu:
        kind = info.kind if info is not None else array_kind(x)
        raise ValueError(
            f"backend='cuda' needs a torch CUDA tensor or a CuPy array, got a host {kind} array; "
            "move it to the GPU first (torch.as_tensor(x, device='cuda') or cupy.asarray(x))"
        )
    return "cuda"
