"""Array kinds, validation and the device-array adapters used by dispatch.

numpy arrays (and CPU torch tensors) go to the Numba kernels; torch CUDA tensors
and CuPy arrays go to the CUDA kernels as raw pointers plus the caller's current
stream, and results come back as the same array type on the same device.
"""
from __future__ import annotations

import dataclasses
import sys

import numpy as np

__all__ = [
    "ArrayInfo",
    "describe",
    "array_kind",
    "as_host",
    "from_host",
    "check_image_stack",
    "DeviceAdapter",
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
    return _from_host(arr, array_kind(like), like)


def _from_host(arr: np.ndarray, kind: str, like):
    if kind == "numpy":
        return arr
    if kind == "torch":
        import torch

        return torch.from_numpy(np.ascontiguousarray(arr)).to(like.device)
    import cupy

    with cupy.cuda.Device(like.device.id):
        return cupy.asarray(arr)


def _dtype_of(x, kind=None):
    """numpy dtype of any supported array."""
    kind = kind or array_kind(x)
    if kind == "torch":
        import torch

        return np.dtype(torch.empty(0, dtype=x.dtype).numpy().dtype)
    return np.dtype(x.dtype)


def _is_c_contiguous(x, kind=None) -> bool:
    kind = kind or array_kind(x)
    if kind == "torch":
        return x.is_contiguous()
    return bool(x.flags.c_contiguous)


@dataclasses.dataclass(frozen=True, eq=False)
class ArrayInfo:
    """What a public function learns about its input, once; it travels with the data from there on.

    Attributes
    ----------
    source : the caller's array, untouched
    kind : {"numpy", "torch", "cupy"}
    on_gpu : bool
        A torch CUDA tensor or a CuPy array.
    dtype : numpy.dtype
    batched : bool
        The caller passed a batch; results drop the batch axis otherwise.
    stack : the input as a batch, (B, H, W) or (B, H, W, C): a view of
        ``source`` in the same array library, on the same device.
    """

    source: object
    kind: str
    on_gpu: bool
    dtype: np.dtype
    batched: bool
    stack: object

    @property
    def height(self) -> int:
        return int(self.stack.shape[1])

    @property
    def width(self) -> int:
        return int(self.stack.shape[2])

    def host_stack(self) -> np.ndarray:
        """The stack as numpy: a view (numpy, CPU torch) or a copy (device arrays)."""
        if self.kind == "numpy":
            return self.stack
        if self.kind == "torch":
            return self.stack.detach().cpu().numpy()
        return self.stack.get()

    def with_stack(self, stack) -> "ArrayInfo":
        """The description of another stack of the same library, device and batching (e.g. a plane of this one)."""
        return dataclasses.replace(self, stack=stack, dtype=_dtype_of(stack, self.kind))

    def unbatch(self, x):
        """``x`` (a per-image result with a leading batch axis) as the caller's batching asks."""
        return x if self.batched else x[0]

    def to_caller(self, result_stack):
        """A host or same-library result stack as the caller's array type, device and batching."""
        if isinstance(result_stack, np.ndarray) and self.kind != "numpy":
            result_stack = _from_host(result_stack, self.kind, self.source)
        return self.unbatch(result_stack)


def describe(
    x,
    name: str,
    dtypes,
    *,
    channels: int | None = None,
    batch: bool | None = None,
    refuse_rgb: bool = False,
) -> ArrayInfo:
    """Validate an image or a batch of images once and describe it (:class:`ArrayInfo`).

    ``dtypes`` is a tuple of allowed numpy dtypes (``np.floating`` etc. accepted
    as kinds). ``channels``, when given, is the required size of the last axis.
    ``batch``: None accepts an image or a batch (told apart by ndim), True
    demands a batch, False a single image. ``refuse_rgb``: an (H, W, 3 or 4)
    uint8 or bool array given where single-plane images are expected is refused unless
    ``batch=True`` says it is a batch (it is far more often an RGB(A) image
    than H images W pixels wide, and would give a plausible-looking wrong answer).
    """
    kind = array_kind(x)
    dtype = _dtype_of(x, kind)
    if not dtype.isnative:
        raise TypeError(
            f"{name}: byte order of dtype {dtype.str} is not this machine's (big-endian data); "
            "convert it first, e.g. x.astype(x.dtype.newbyteorder('='))"
        )
    if not any(dtype == d or (isinstance(d, type) and np.issubdtype(dtype, d)) for d in dtypes):
        allowed = ", ".join(getattr(d, "__name__", str(d)) for d in dtypes)
        raise TypeError(f"{name}: dtype {dtype} is not supported (expected {allowed})")
    ndim = x.ndim
    image_ndim = 2 if channels is None else 3
    shape = tuple(int(v) for v in x.shape)
    shape_txt = "(H, W)" if channels is None else "(H, W, C)"
    allowed_ndim = {None: (image_ndim, image_ndim + 1), True: (image_ndim + 1,), False: (image_ndim,)}[batch]
    if ndim not in allowed_ndim:
        what = {None: f"a {shape_txt} image or a batch of them", True: f"a batch of {shape_txt} images",
                False: f"a single {shape_txt} image"}[batch]  # fmt: skip
        raise ValueError(f"{name}: expected {what}, got an array with shape {shape}")
    if channels is not None and shape[-1] != channels:
        raise ValueError(f"{name}: expected {channels} channels in the last axis, got shape {shape}")
    # uint8 and bool: an RGB(A) image and its mask (rgba > 0) look alike to a batch of W x 3|4 images.
    if refuse_rgb and batch is None and ndim == 3 and dtype in (np.uint8, np.bool_) and shape[-1] in (3, 4):
        raise ValueError(
            f"{name}: shape {shape} looks like an RGB(A) image, not {shape[0]} images of {shape[1]}x{shape[2]}; "
            f"pass one plane (the alpha of an RGBA image is rgba[..., 3], its mask rgba[..., 3] > 0), "
            f"or batch=True if it is a batch"
        )
    if not _is_c_contiguous(x, kind):
        raise ValueError(
            f"{name}: array is not C-contiguous (strides {tuple(x.stride() if kind == 'torch' else x.strides)}); "
            "pass np.ascontiguousarray(x) / x.contiguous()"
        )
    batched = ndim == image_ndim + 1
    on_gpu = kind == "cupy" or (kind == "torch" and x.device.type == "cuda")
    return ArrayInfo(x, kind, on_gpu, dtype, batched, x if batched else x[None])


def check_image_stack(x, name: str, dtypes, channels=None):
    """Validate an image or a batch of images; return (kind, dtype, batched).

    :func:`describe` reduced to three facts, for callers that need no more.
    """
    info = describe(x, name, dtypes, channels=channels)
    return info.kind, info.dtype, info.batched


class DeviceAdapter:
    """Raw-pointer view of torch CUDA tensors or CuPy arrays for the CUDA kernels."""

    def __init__(self, like, kind: str | None = None):
        self.kind = kind or array_kind(like)
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

