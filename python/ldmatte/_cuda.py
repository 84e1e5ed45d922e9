"""CUDA paths of :func:`~ldmatte.label`, :func:`~ldmatte.refine_alpha`, :func:`~ldmatte.pad_rgb`
and :func:`~ldmatte.regions.component_stats`.

The public functions validate their arguments once (an :class:`~ldmatte._arrays.ArrayInfo`
describes the input as a batch) and choose the backend; this module only converts
dtypes on the device, allocates the outputs with the caller's array
library on the caller's device, and enqueues the native kernels on the caller's
current stream (torch's ``torch.cuda.current_stream()`` or CuPy's current stream).
Nothing here synchronises with the host, except the checks of float inputs (they
read a flag back to raise a ``ValueError`` like the CPU path does) and
:func:`component_stats_cuda`, whose results are host arrays by contract. This
module imports nothing of the public modules (no cycle): results are plain arrays.
"""
from __future__ import annotations

import numpy as np

from . import _backend
from ._arrays import ArrayInfo, as_host, from_host
from ._cuda_arch import device_adapter
from ._params import RefineParams
from ._stats import N_STATS

__all__ = ["label_cuda", "refine_alpha_cuda", "pad_rgb_cuda", "component_stats_cuda"]



def _ops():
    """The native module with its CUDA ops, or a clear error."""
    mod = _backend.native()
    if mod is None or not hasattr(mod, "cuda_label"):
        raise _backend.BackendUnavailableError(
            "the CUDA kernels are not built into this ldmatte install (reinstall with LDMATTE_CUDA=ON)"
        )
    return mod


def _has_nan(x, ad) -> bool:
    if ad.kind == "torch":
        return bool(x.is_floating_point() and ad._torch.isnan(x).any())
    return bool(np.issubdtype(x.dtype, np.floating) and ad._cupy.isnan(x).any())


def _outside_unit_range(x) -> bool:
    """Any value below 0 or above 1 (infinities included); one read-back."""
    return bool(((x < 0) | (x > 1)).any())


def _mask_as_uint8(mask, ad):
    """0/1 (or any nonzero) uint8 view or device copy of a mask; NaN is an error, not 'nonzero'."""
    if ad.kind == "torch":
        torch = ad._torch
        if mask.dtype in (torch.bool, torch.uint8):
            return mask.view(torch.uint8)
    else:
        if mask.dtype in (np.bool_, np.uint8):
            return mask.view(np.uint8)
    if _has_nan(mask, ad):
        raise ValueError("mask contains NaN; a mask must be bool, integer, or float without NaN")
    nonzero = mask != 0
    return nonzero.view(ad._torch.uint8) if ad.kind == "torch" else nonzero.view(np.uint8)


def label_cuda(info: ArrayInfo, connectivity: int):
    """Label a described (B, H, W) device mask; return (int32 labels (B, H, W), int32 num (B,)).

    Examples
    --------
    >>> import torch, ldmatte
    >>> from ldmatte._arrays import describe
    >>> m = torch.tensor([[1, 0, 1]], dtype=torch.bool, device="cuda")  # doctest: +SKIP
    >>> label_cuda(describe(m, "mask", (np.bool_,)), 8)[0].tolist()  # doctest: +SKIP
    [[[1, 0, 2]]]
    """
    ops = _ops()
    ad = device_adapter(info)
    with ad.device_guard():
        stack = _mask_as_uint8(info.stack, ad)
        batch, height, width = (int(s) for s in stack.shape)
        labels = ad.empty((batch, height, width), np.int32)
        num = ad.empty((batch,), np.int32)
        ops.cuda_label(
            ad.ptr(stack), ad.ptr(labels), ad.ptr(num), batch, height, width, int(connectivity), ad.stream()
        )
    return labels, num


def refine_alpha_cuda(info: ArrayInfo, params: RefineParams):
    """Refine a described (B, H, W) uint8 device alpha; return (uint8 (B, H, W), int64 stats (B, N_STATS)).

    Examples
    --------
    >>> import torch
    >>> from ldmatte._arrays import describe
    >>> a = torch.full((1, 4, 4), 250, dtype=torch.uint8, device="cuda")  # doctest: +SKIP
    >>> refine_alpha_cuda(describe(a, "alpha", (np.uint8,)), RefineParams())[0].unique().tolist()  # doctest: +SKIP
    [255]
    """
    ops = _ops()
    ad = device_adapter(info)
    stack = info.stack
    # The native op takes the subject fraction as a double, a negative one meaning "rule off".
    fraction = params.min_subject_fraction if params.subject_rule else -1.0
    with ad.device_guard():
        batch, height, width = (int(s) for s in stack.shape)
        out = ad.empty((batch, height, width), np.uint8)
        stats = ad.empty((batch, N_STATS), np.int64)
        ops.cuda_refine_alpha(
            ad.ptr(stack), ad.ptr(out), ad.ptr(stats), batch, height, width,
            params.fg_tol, params.bg_tol, params.connectivity, params.snap, params.fill_interior,
            float(fraction), params.hysteresis, ad.stream(),
        )  # fmt: skip
    return out, stats


def pad_rgb_cuda(info: ArrayInfo, out_dtype):
    """Pad a described (B, H, W, 4) uint8 or float32 device RGBA; return (B, H, W, 3) of ``out_dtype``.

    Examples
    --------
    >>> import torch, numpy as np
    >>> from ldmatte._arrays import describe
    >>> im = torch.zeros((1, 4, 4, 4), dtype=torch.uint8, device="cuda")  # doctest: +SKIP
    >>> pad_rgb_cuda(describe(im, "rgba", (np.uint8,), channels=4), np.uint8).shape  # doctest: +SKIP
    torch.Size([1, 4, 4, 3])
    """
    ops = _ops()
    ad = device_adapter(info)
    stack = info.stack
    out_dtype = np.dtype(out_dtype)
    with ad.device_guard():
        in_float = info.dtype == np.float32
        if in_float and _has_nan(stack, ad):
            raise ValueError("rgba contains NaN")
        if in_float and _outside_unit_range(stack):
            raise ValueError("rgba: float values must lie in [0, 1] (divide uint8 data by 255, or pass it as uint8)")
        batch, height, width = (int(s) for s in stack.shape[:3])
        out = ad.empty((batch, height, width, 3), out_dtype)
        ops.cuda_pad_rgb(
            ad.ptr(stack), bool(in_float), ad.ptr(out), out_dtype == np.uint8, batch, height, width, ad.stream()
        )
    return out


def _labels_as_int32(stack, ad):
    """int32 labels on the device; other integer dtypes are range-checked and converted."""
    if ad.kind == "torch":
        torch = ad._torch
        if stack.dtype == torch.int32:
            return stack
        if stack.numel() and (int(stack.min()) < 0 or int(stack.max()) > np.iinfo(np.int32).max):
            raise ValueError("labels must be in 0..2**31-1")
        return stack.to(torch.int32)
    if stack.dtype == np.int32:
        return stack
    if stack.size and (int(stack.min()) < 0 or int(stack.max()) > np.iinfo(np.int32).max):
        raise ValueError("labels must be in 0..2**31-1")
    return stack.astype(np.int32)


def _counts(stack, num, ad, batched):
    """Number of components per image as host ints: ``num`` or the largest label."""
    batch = int(stack.shape[0])
    if num is None:
        if stack.shape[1] * stack.shape[2] == 0:
            return [0] * batch
        flat = stack.reshape(batch, -1)
        top = flat.amax(1) if ad.kind == "torch" else flat.max(axis=1)
        return [max(int(v), 0) for v in as_host(top)]
    if not batched:
        if np.ndim(as_host(num) if hasattr(num, "shape") else num) != 0:
            raise ValueError("num must be an int for a single label image")
        return [int(as_host(num) if hasattr(num, "shape") else num)]
    host = as_host(num) if hasattr(num, "shape") else np.asarray(num)
    return [int(v) for v in np.broadcast_to(host, (batch,))]


def component_stats_cuda(info: ArrayInfo, num=None):
    """Per-image (area, bbox, touches_frame) host arrays of a described device label stack.

    The measurements of :func:`ldmatte.regions.component_stats`, computed on the
    device; one list entry per image of the stack. This synchronises once to
    read the results back.

    Examples
    --------
    >>> import torch, numpy as np
    >>> from ldmatte._arrays import describe
    >>> lab = torch.tensor([[1, 1, 0], [0, 0, 2]], dtype=torch.int32, device="cuda")  # doctest: +SKIP
    >>> component_stats_cuda(describe(lab, "labels", (np.integer,)))[0][0].tolist()  # doctest: +SKIP
    [2, 1]
    """
    ops = _ops()
    ad = device_adapter(info)
    batched = info.batched
    with ad.device_guard():
        stack = _labels_as_int32(info.stack, ad)
        batch, height, width = (int(s) for s in stack.shape)
        counts = _counts(stack, num, ad, batched)
        if any(n < 0 for n in counts):
            raise ValueError("num must be non-negative")
        offsets = np.zeros(batch + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        total = int(offsets[-1])
        dev_offsets = from_host(offsets, stack)
        area = ad.empty((total,), np.int64)
        bbox = ad.empty((total, 4), np.int64)
        frame = ad.empty((total,), np.uint8)
        bad = ad.empty((1,), np.int32)
        ops.cuda_component_stats(
            ad.ptr(stack), ad.ptr(dev_offsets), total, ad.ptr(area), ad.ptr(bbox), ad.ptr(frame), ad.ptr(bad),
            batch, height, width, ad.stream(),
        )
        if int(as_host(bad)[0]):
            raise ValueError("labels must be in 0..num per image (0 is background, components 1..N)")
        area, bbox, frame = as_host(area), as_host(bbox), as_host(frame).astype(bool)
    return [(area[lo:hi].copy(), bbox[lo:hi].copy(), frame[lo:hi].copy()) for lo, hi in zip(offsets[:-1], offsets[1:])]
