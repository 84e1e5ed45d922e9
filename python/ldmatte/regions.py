"""Per-component measurements of a label image: :func:`component_stats`."""
from __future__ import annotations

import dataclasses

import numpy as np

from . import _backend
from ._arrays import describe
from ._cuda import component_stats_cuda
from ._kernels.regions import component_stats_image

__all__ = ["ComponentStats", "component_stats"]


@dataclasses.dataclass(frozen=True, eq=False)
class ComponentStats:
    """Area, bounding box and frame contact of components 1..N of a label image.

    Row ``k`` describes label ``k + 1``. A label in 1..N with no pixel has area
    0, bbox ``(0, 0, 0, 0)`` and ``touches_frame`` False.

    Attributes
    ----------
    area : (N,) int64
        Pixels per component.
    bbox : (N, 4) int64
        ``(row0, col0, row1, col1)`` with exclusive ends, like skimage's
        ``regionprops(...).bbox``.
    touches_frame : (N,) bool
        The component has a pixel in the first or last row or column.
    """

    area: np.ndarray
    bbox: np.ndarray
    touches_frame: np.ndarray

    @property
    def num(self) -> int:
        """Number of components N."""
        return int(self.area.shape[0])

    def __len__(self) -> int:
        return self.num


def _one(labels: np.ndarray, num) -> ComponentStats:
    top = int(labels.max()) if labels.size else 0
    if labels.size and int(labels.min()) < 0:
        raise ValueError("labels must be non-negative (0 is background)")
    n = top if num is None else int(num)
    if top > n:
        raise ValueError(f"labels contain {top}, above num={n}")
    area = np.zeros(n, np.int64)
    bbox = np.zeros((n, 4), np.int64)
    frame = np.zeros(n, np.bool_)
    component_stats_image(labels, n, area, bbox, frame)
    return ComponentStats(area, bbox, frame)


def component_stats(labels, num=None, *, backend: str = "auto"):
    """Area, bounding box and frame contact of every labelled component.

    Parameters
    ----------
    labels : (H, W) or (B, H, W) integer array
        A label image as returned by :func:`ldmatte.label` (0 background,
        components 1..N). numpy or torch/CuPy (copied to the host); C-contiguous.
    num : int or sequence of int, optional
        Number of components N (per image for a batch), e.g. from
        ``label(..., return_num=True)``; defaults to the largest label.
    backend : {"auto", "cpu", "cuda"}
        "auto" measures device labels on the GPU when the CUDA backend is usable
        (one synchronisation to read the results back) and host labels with
        Numba; "cpu" copies device labels to the host first.

    Returns
    -------
    ComponentStats, or a list of them for a batch.

    Examples
    --------
    >>> import numpy as np, ldmatte
    >>> from ldmatte.regions import component_stats
    >>> lab = ldmatte.label(np.array([[1, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 1]], bool))
    >>> s = component_stats(lab)
    >>> s.area.tolist(), s.bbox.tolist(), s.touches_frame.tolist()
    ([2, 3], [[0, 0, 1, 2], [1, 2, 3, 4]], [True, True])
    """
    info = describe(labels, "labels", (np.integer,))
    if _backend.select_backend(info, backend) == "cuda":
        stats = [ComponentStats(*arrays) for arrays in component_stats_cuda(info, num)]
        return stats if info.batched else stats[0]
    host = info.host_stack()
    if host.dtype != np.int32:
        if host.size and (host.min() < 0 or host.max() > np.iinfo(np.int32).max):
            raise ValueError("labels must be in 0..2**31-1")
        host = host.astype(np.int32)
    if not info.batched:
        if num is not None and np.ndim(num) != 0:
            raise ValueError("num must be an int for a single label image")
        return _one(host[0], num)
    nums = [None] * host.shape[0] if num is None else list(np.broadcast_to(np.asarray(num), (host.shape[0],)))
    return [_one(img, k) for img, k in zip(host, nums)]
