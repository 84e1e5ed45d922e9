"""Connected-component labelling: :func:`label` and :func:`component_stats`."""
from __future__ import annotations

import numpy as np

from . import _backend
from ._arrays import describe
from ._params import check_connectivity

__all__ = ["label"]

_MASK_DTYPES = (np.bool_, np.integer, np.floating)


def _mask_as_uint8(mask: np.ndarray) -> np.ndarray:
    """0/1 uint8 view or copy of a host mask; NaN is an error, not 'nonzero'."""
    if mask.dtype == np.bool_ or mask.dtype == np.uint8:
        return mask.view(np.uint8)
    if np.issubdtype(mask.dtype, np.floating) and np.isnan(mask).any():
        raise ValueError("mask contains NaN; a mask must be bool, integer, or float without NaN")
    return (mask != 0).view(np.uint8)


def label(mask, connectivity: int = 8, return_num: bool = False, *, backend: str = "auto", batch: bool | None = None):
    """Label the connected components of a mask.

    Parameters
    ----------
    mask : (H, W) or (B, H, W) array
        bool or uint8 (any nonzero value is foreground; other integer and float
        dtypes are accepted, NaN is not). numpy, torch or CuPy, C-contiguous.
        An (H, W, 3) or (H, W, 4) uint8 or bool array is refused as a likely
        RGB(A) image or its mask (``rgba > 0``; label one plane, e.g.
        ``rgba[..., 3] > 0``) unless ``batch=True``.
    connectivity : {8, 4}
        8 counts diagonal neighbours, 4 only edge neighbours.
    return_num : bool
        Also return the number of components (an int for one image; an int32
        array of shape (B,) for a batch, left on the device for GPU input so
        no host synchronisation happens).
    backend : {"auto", "cpu", "cuda"}
        Where to run; "auto" follows the input (host → Numba, device → CUDA
        when it can run, see :func:`ldmatte._backend.resolve_device`).
    batch : bool, optional
        True: ``mask`` is a (B, H, W) batch; False: one (H, W) image; None
        (default): told apart by ndim.

    Returns
    -------
    labels : int32 array, same shape and array type as `mask`
        0 is background; each image's components are numbered 1..N in raster
        order of their first pixel (the convention of ``scipy.ndimage.label``),
        so CPU and GPU results are identical.
    num : int or int32 array
        Only with ``return_num=True``.

    Examples
    --------
    >>> import numpy as np, ldmatte
    >>> m = np.array([[1, 0, 0], [0, 0, 1], [1, 0, 1]], dtype=bool)
    >>> ldmatte.label(m, connectivity=8)
    array([[1, 0, 0],
           [0, 0, 2],
           [3, 0, 2]], dtype=int32)
    >>> ldmatte.label(m, connectivity=4, return_num=True)[1]
    3
    """
    check_connectivity(connectivity)
    info = describe(mask, "mask", _MASK_DTYPES, batch=batch, refuse_rgb=True)
    if _backend.select_backend(info, backend) == "cuda":
        from ._cuda import label_cuda

        labels, num = label_cuda(info, connectivity)
        labels, num = info.unbatch(labels), info.unbatch(num)
        return (labels, num) if return_num else labels

    from ._kernels.ccl import label_batch

    labels, num = label_batch(_mask_as_uint8(info.host_stack()), connectivity)
    labels = info.to_caller(labels)
    if return_num:
        return labels, (info.to_caller(num) if info.batched else int(num[0]))
    return labels
