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

import numba
import numpy as np
from numba import njit

from ..reference.caar import STAT_FIELDS
from ._threads import run_batch, scratch
from .caar import kernel_args, refine_image
from .pad import _pad_image, plan_for, workspaces


@njit(cache=True, nogil=True)
def _gather_alpha(img, alpha):
    """alpha[:] = img[..., 3] for an (H, W, 4) image."""
    h, w = alpha.shape
    for r in range(h):
        for c in range(w):
            alpha[r, c] = img[r, c, 3]


@njit(cache=True, nogil=True)
def _refine_rgba_run(stack, out, stats, lo, hi, a_in, a_out, plan, ws, bg_tol, fg_tol, ext, snap, fill, msf):
    """Refine images lo..hi-1 of a (B, H, W, 4) stack into ``out``, with one thread's buffers."""
    for b in range(lo, hi):
        _gather_alpha(stack[b], a_in)
        refine_image(a_in, a_out, stats[b], bg_tol, fg_tol, ext, snap, fill, msf)
        _pad_image(stack[b], a_out, out[b], plan, ws)


def refine_rgba_batch(stack, fg_tol, bg_tol, connectivity, snap, fill_interior, min_subject_fraction):
    """Refine a C-contiguous (B, H, W, 4) uint8 stack; return (uint8 (B, H, W, 4), int64 stats (B, K)).

    The output has the refined alpha, the input's straight colour where it is
    above 0 and LayerDiffuse padding computed with it where it is 0. No
    validation here (see :func:`ldmatte.refine`); ``min_subject_fraction < 0``
    turns the subject rule off. Images run in parallel on Numba's thread count
    of threads.

    Examples
    --------
    >>> import numpy as np
    >>> im = np.zeros((1, 8, 8, 4), np.uint8); im[0, 2:6, 2:6] = (200, 50, 50, 250)
    >>> out, stats = refine_rgba_batch(im, 8, 8, 8, True, True, 0.05)
    >>> out[0, 3, 3].tolist(), out[0, 0, 0].tolist()
    ([200, 50, 50, 255], [200, 50, 50, 0])
    """
    b, h, w = stack.shape[:3]
    out = np.empty(stack.shape, np.uint8)
    stats = np.zeros((b, len(STAT_FIELDS)), np.int64)
    if not out.size:
        return out, stats
    args = kernel_args(fg_tol, bg_tol, connectivity, snap, fill_interior, min_subject_fraction)
    plan = plan_for(h, w)
    n_slots = max(1, min(b, numba.get_num_threads()))
    stores = workspaces(n_slots, plan)
    planes = scratch("refine alpha", 2 * n_slots, h * w, np.uint8)

    def work(slot, lo, hi):
        a_in = planes[2 * slot, : h * w].reshape(h, w)
        a_out = planes[2 * slot + 1, : h * w].reshape(h, w)
        _refine_rgba_run(stack, out, stats, lo, hi, a_in, a_out, plan, stores[slot], *args)

    run_batch(b, h * w, work)
    return out, stats
