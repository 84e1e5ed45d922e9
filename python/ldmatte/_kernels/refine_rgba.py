"""Full RGBA refinement on the CPU, one image at a time per thread: alpha out, CAAR, padding.

``ldmatte.refine`` is CAAR (``caar.refine_image``) followed by the padding
kernel's one-pass compose (``pad._pad_image`` with the refined alpha). Run as
two batched stages, the alpha plane is gathered on one thread and every
thread waits at the end of the first stage for the slowest image; here each
thread takes an image, gathers its alpha into its own buffer, refines it and
pads it while the refined alpha is still in cache, then takes the next.
Results equal the two-stage composition bit for bit (the tests check).
"""
from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from numba import njit

from .._stats import N_STATS
from ._threads import run_batch, scratch
from .caar import caar_settings, refine_image
from .pad import _pad_image, plan_for, workspaces


@njit(cache=True, nogil=True)
def _gather_alpha(img, alpha):
    """alpha[:] = img[..., 3] for an (H, W, 4) image."""
    h, w = alpha.shape
    for r in range(h):
        for c in range(w):
            alpha[r, c] = img[r, c, 3]


class ThreadBuffers(NamedTuple):
    """One thread's scratch for one image: its alpha in and out, and the padding plan with its workspace."""

    alpha_in: np.ndarray  # (H, W) uint8
    alpha_out: np.ndarray  # (H, W) uint8
    plan: tuple  # _pad_plan.PadPlan of the image size
    workspace: np.ndarray  # float32, _pad_plan.workspace_size(plan)


@njit(cache=True, nogil=True)
def _refine_rgba_run(stack, out, stats, lo, hi, buffers, settings):
    """Refine images lo..hi-1 of a (B, H, W, 4) stack into ``out`` with one thread's ``ThreadBuffers``."""
    a_in, a_out, plan, ws = buffers
    for b in range(lo, hi):
        _gather_alpha(stack[b], a_in)
        refine_image(a_in, a_out, stats[b], settings)
        _pad_image(stack[b], a_out, out[b], plan, ws)


def refine_rgba_batch(stack, params, return_floors: bool = False):
    """Refine a C-contiguous (B, H, W, 4) uint8 stack with a :class:`ldmatte.RefineParams`.

    Returns (uint8 (B, H, W, 4), int64 stats (B, N_STATS)). The output has the
    refined alpha, the input's straight colour where it is above 0 and
    LayerDiffuse padding computed with it where it is 0. No validation here
    (see :func:`ldmatte.refine`). Images run in parallel on Numba's thread
    count of threads. A batch with an image that the haze step of
    ``params.haze_floor`` changes (``ldmatte._haze``) runs as two stages
    instead: the alpha with the step (``_haze.refine_with_floors``), then this
    kernel's padding stage with the refined alpha. ``return_floors`` also returns each image's ``HazeFloor``.

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte import RefineParams
    >>> im = np.zeros((1, 8, 8, 4), np.uint8); im[0, 2:6, 2:6] = (200, 50, 50, 250)
    >>> out, stats = refine_rgba_batch(im, RefineParams())
    >>> out[0, 3, 3].tolist(), out[0, 0, 0].tolist()
    ([200, 50, 50, 255], [200, 50, 50, 0])
    """
    from .._haze import floors_of, refine_with_floors

    floors = floors_of(stack[..., 3], "numpy", params)
    if any(f.acts for f in floors):
        from .caar import refine_alpha_plain

        alpha, stats = refine_with_floors(np.ascontiguousarray(stack[..., 3]), "numpy", floors,
                                          lambda s: refine_alpha_plain(s, params))  # fmt: skip
        out = _pad_with(stack, alpha) if stack.size else np.empty(stack.shape, np.uint8)
        return (out, stats, floors) if return_floors else (out, stats)
    out, stats = _refine_rgba_plain(stack, params)
    return (out, stats, floors) if return_floors else (out, stats)


@njit(cache=True, nogil=True)
def _pad_with_run(stack, alpha, out, lo, hi, plan, ws):
    """Images lo..hi-1: the padding stage of :func:`_refine_rgba_run` with an alpha refined beforehand."""
    for b in range(lo, hi):
        _pad_image(stack[b], alpha[b], out[b], plan, ws)


def _pad_with(stack, alpha):
    """(B, H, W, 4): straight colour where the refined ``alpha`` is above 0, padding computed with it elsewhere."""
    b, h, w = stack.shape[:3]
    out = np.empty(stack.shape, np.uint8)
    plan = plan_for(h, w)
    stores = workspaces(max(1, min(b, numba.get_num_threads())), plan)
    run_batch(b, h * w, lambda slot, lo, hi: _pad_with_run(stack, alpha, out, lo, hi, plan, stores[slot]))
    return out


def _refine_rgba_plain(stack, params):
    b, h, w = stack.shape[:3]
    out = np.empty(stack.shape, np.uint8)
    stats = np.zeros((b, N_STATS), np.int64)
    if not out.size:
        return out, stats
    settings = caar_settings(params)
    plan = plan_for(h, w)
    n_slots = max(1, min(b, numba.get_num_threads()))
    stores = workspaces(n_slots, plan)
    planes = scratch("refine alpha", 2 * n_slots, h * w, np.uint8)

    def work(slot, lo, hi):
        a_in = planes[2 * slot, : h * w].reshape(h, w)
        a_out = planes[2 * slot + 1, : h * w].reshape(h, w)
        _refine_rgba_run(stack, out, stats, lo, hi, ThreadBuffers(a_in, a_out, plan, stores[slot]), settings)

    run_batch(b, h * w, work)
    return out, stats
