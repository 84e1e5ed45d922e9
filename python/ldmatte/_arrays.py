"""Array kinds, validation and the device-array adapters used by dispatch.

numpy arrays (and CPU torch tensors) go to the Numba kernels; torch CUDA tensors
and CuPy arrays go to the CUDA kernels as raw pointers plus the caller's current
stream, and results come back as the same array type on the same device.
"""
from __future__ import annotations

import sys

import numpy as np

__all__ = [
    "array_kind",
    "as_host",
    "from_host",
    "check_image_stack",
    "DeviceAdapter",
    "device_adapter",
]


def array_kind(x) -> str:
    """Return ``"numpy"``, ``"torch"`` or ``"cupy"`` for a supported array, else raise TypeError."""
    if isinstance(x, np.ndarray):
        return "numpy"
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        return "torch"
    cupy = sys.modules.get("cupy")
    if cupy is not None and isinstance(x, cupy.ndarray):
        return "cupy"
    raise TypeError(
        f"expected a numpy array, a torch tensor or a CuPy array, got {type(x).__module__}.{type(x).__name__}"
    )


def is_on_gpu(x) -> bool:
    kind = array_kind(x)
    if kind == "numpy":
        return False
    if kind == "torch":
        return x.device.type == "cuda"
    return True


def as_host(x) -> np.ndarray:
    """A numpy view (CPU torch) or copy (device arrays) of ``x``."""
    kind = array_kind(x)
    if kind == "numpy":
        return x
    if kind == "torch":
        return x.detach().cpu().numpy()
    return x.get()


def from_host(arr: np.ndarray, like):
    """Return ``arr`` as the array type of ``like``, on ``like``'s device."""
    kind = array_kind(like)
    if kind == "numpy":
        return arr
    if kind == "torch":
        import torch

        return torch.from_numpy(np.ascontiguousarray(arr)).to(like.device)
    import cupy

    with cupy.cuda.Device(like.device.id):
        return cupy.asarray(arr)


def _dtype_of(x):
    """numpy dtype of any supported array."""
    kind = array_kind(x)
    if kind == "torch":
        import torch

        return np.dtype(torch.empty(0, dtype=x.dtype).numpy().dtype)
    return np.dtype(x.dtype)


def _is_c_contiguous(x) -> bool:
    kind = array_kind(x)
    if kind == "torch":
        return x.is_contiguous()
    return bool(x.flags.c_contiguous)


def check_image_stack(x, name: str, dtypes, min_ndim: int = 2, max_ndim: int = 3, channels=None):
    """Validate an image or a batch of images; return (kind, dtype, batched).

    ``dtypes`` is a tuple of allowed numpy dtypes (``np.floating`` etc. accepted
    as kinds). ``channels``, when given, is the required size of the last axis
    and raises the ndim bounds by one.
    """
    kind = array_kind(x)
    dtype = _dtype_of(x)
    if not any(dtype == d or (isinstance(d, type) and np.issubdtype(dtype, d)) for d in dtypes):
        allowed = ", ".join(getattr(d, "__name__", str(d)) for d in dtypes)
        raise TypeError(f"{name}: dtype {dtype} is not supported (expected {allowed})")
    ndim = x.ndim
    lo, hi = (min_ndim + 1, max_ndim + 1) if channels is not None else (min_ndim, max_ndim)
    if not lo <= ndim <= hi:
        shape_txt = "(H, W, C)" if channels is not None else "(H, W)"
        raise ValueError(
            f"{name}: expected a {shape_txt} image or a batch of them, got an array with shape {tuple(x.shape)}"
        )
    if channels is not None and x.shape[-1] != channels:
        raise ValueError(f"{name}: expected {channels} channels in the last axis, got shape {tuple(x.shape)}")
    if not _is_c_contiguous(x):
        raise ValueError(
            f"{name}: array is not C-contiguous (strides {tuple(x.stride() if kind == 'torch' else x.strides)}); "
            "pass np.ascontiguousarray(x) / x.contiguous()"
        )
    batched = ndim == hi
    return kind, dtype, batched


class DeviceAdapter:
    """Raw-pointer view of torch CUDA tensors or CuPy arrays for the CUDA kernels."""

    def __init__(self, like):
        self.kind = array_kind(like)
        self.like = like
        if self.kind == "torch":
            import torch

            self._torch = torch
            self.device_index = like.device.index if like.device.index is not None else torch.cuda.current_device()
        else:
            import cupy

            self._cupy = cupy
            self.device_index = like.device.id

    def ptr(self, a) -> int:
        return int(a.data_ptr()) if self.kind == "torch" else int(a.data.ptr)

    def stream(self) -> int:
        """Handle of the caller's current stream on this device (0 = legacy default stream)."""
        if self.kind == "torch":
            return int(self._torch.cuda.current_stream(self.device_index).cuda_stream)
        with self._cupy.cuda.Device(self.device_index):
            return int(self._cupy.cuda.get_current_stream().ptr)

    def empty(self, shape, dtype):
        dtype = np.dtype(dtype)
        if self.kind == "torch":
            tdt = self._torch.from_numpy(np.empty(0, dtype=dtype)).dtype
            return self._torch.empty(tuple(shape), dtype=tdt, device=self.like.device)
        with self._cupy.cuda.Device(self.device_index):
            return self._cupy.empty(tuple(shape), dtype=dtype)

    def zeros(self, shape, dtype):
        out = self.empty(shape, dtype)
        out.zero_() if self.kind == "torch" else out.fill(0)
        return out

    def device_guard(self):
        """Context manager that makes this array's device current for the native call."""
        if self.kind == "torch":
            return self._torch.cuda.device(self.device_index)
        return self._cupy.cuda.Device(self.device_index)


def device_adapter(x) -> DeviceAdapter:
    return DeviceAdapter(x)
