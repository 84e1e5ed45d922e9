"""Connectivity-aware alpha refinement: :func:`refine_alpha`."""
from __future__ import annotations

import numpy as np

from . import _backend
from ._arrays import ArrayInfo, describe
from ._params import DEFAULTS, HAZE_FLOOR_DEFAULT, RefineParams
from .report import reports_from_stats

__all__ = ["refine_alpha", "DEFAULTS"]


def refine_alpha(
    alpha,
    fg_tol: int = DEFAULTS["fg_tol"],
    bg_tol: int = DEFAULTS["bg_tol"],
    connectivity: int = DEFAULTS["connectivity"],
    snap: bool = DEFAULTS["snap"],
    fill_interior: bool = DEFAULTS["fill_interior"],
    min_subject_fraction: float | None = DEFAULTS["min_subject_fraction"],
    return_report: bool = False,
    *,
    hysteresis: bool = DEFAULTS["hysteresis"],
    haze_floor: str | int = HAZE_FLOOR_DEFAULT,
    backend: str = "auto",
    batch: bool | None = None,
):
    """Repair a Layer Diffusion alpha matte with the connectivity prior.

    Pixels with ``alpha >= 255 - fg_tol`` are the opaque core (FG), pixels with
    ``alpha <= bg_tol`` clear background (BG), the rest the uncertain region U.
    Each connected component of U that touches both FG and BG is the real border
    band and keeps its values; one touching only FG is an interior error and
    becomes 255; one touching only BG is floating haze and becomes 0; one
    touching neither is kept and reported. The image frame counts as neither.
    Then the subject rule removes every component of the support
    ``{alpha > bg_tol}`` smaller than ``min_subject_fraction`` of the largest.

    Parameters
    ----------
    alpha : (H, W) or (B, H, W) uint8 array
        numpy, torch or CuPy; C-contiguous. An (H, W, 3) or (H, W, 4) array is
        refused as a likely RGB(A) image (pass its alpha, ``rgba[..., 3]``, or
        use :func:`ldmatte.refine` for the whole image) unless ``batch=True``.
    fg_tol, bg_tol : int
        Opaque and clear tolerances in levels.
    connectivity : {8, 4}
    snap : bool
        Write FG as 255 and BG as 0.
    fill_interior : bool
        Raise translucent regions enclosed by the core to 255 (portraits). Set
        False for subjects with real see-through interiors (glass, veils).
    min_subject_fraction : float or None
        Keep support components at least this fraction of the largest; None
        disables the subject rule. (The settings as one object:
        :class:`ldmatte.RefineParams`; ``refine_alpha(a, **params.as_dict())``.)
    return_report : bool
        Also return a :class:`RefineReport` (a list of them for a batch).
    hysteresis : bool
        Keep the values of the faint (``1 <= alpha <= bg_tol``) and
        near-opaque (``alpha >= 255 - fg_tol``, below 255) pixels that are
        neighbours of a kept border-band pixel (hair tips, the top of a soft
        ramp) instead of snapping them; faint speckle and interior jitter
        elsewhere are still snapped. Acts only with ``snap``. The kept pixels
        show in the report as fewer pixels lowered / raised and more
        transition pixels after. On by default; ``hysteresis=False`` snaps them
        too.
    haze_floor : "auto", "off" or int
        A background without clear pixels is background. ``"auto"``: when
        more than half of the frame's non-core pixels lie above ``bg_tol``
        (no clear background) and the image has an opaque core, the haze
        floor fitted to the frame (a plane) is removed where the fit explains
        the frame (``alpha' = round((alpha - h) * 255 / (255 - h))`` above it,
        0 below) and the frame counts as clear background, so a transition
        component touching it is never raised to 255 (details:
        :class:`ldmatte.RefineParams`); images with a clear background are
        refined exactly as with ``"off"``. An integer removes that uniform
        floor; ``"off"`` checks nothing. The report says what was done
        (``no_clear_background``, ``haze_floor``). On a GPU the frame pixels
        are copied to the host for the estimate (``"off"`` copies nothing).
    backend : {"auto", "cpu", "cuda"}
    batch : bool, optional
        True: ``alpha`` is a (B, H, W) batch; False: one (H, W) image; None
        (default): told apart by ndim.

    Returns
    -------
    refined : uint8 array of the same shape and array type
    report : RefineReport or list of RefineReport, only with ``return_report``

    Examples
    --------
    >>> import numpy as np, ldmatte
    >>> a = np.zeros((9, 9), np.uint8); a[1:6, 1:6] = 255; a[3, 3] = 128   # a pinhole
    >>> a[7, 7] = 40                                                      # a speck of haze
    >>> out, rep = ldmatte.refine_alpha(a, return_report=True)
    >>> int(out[3, 3]), int(out[7, 7]), rep.interior_components, rep.floating_components
    (255, 0, 1, 1)
    >>> hazy = np.full((12, 12), 70, np.uint8); hazy[4:, 3:9] = 255      # a subject in a haze at 70
    >>> out, rep = ldmatte.refine_alpha(hazy, return_report=True)
    >>> int(out[0, 0]), int(out[6, 5]), rep.no_clear_background, rep.haze_floor
    (0, 255, True, 70.0)
    """
    params = RefineParams(fg_tol, bg_tol, connectivity, snap, fill_interior, min_subject_fraction, hysteresis,
                          haze_floor)  # fmt: skip
    info = describe(alpha, "alpha", (np.uint8,), batch=batch, refuse_rgb=True)
    out, stats, floors = refine_alpha_described(info, params, _backend.select_backend(info, backend))
    out, stats = info.to_caller(out), info.unbatch(stats)
    if return_report:
        return out, reports_from_stats(stats, info.height, info.width, floors)
    return out


def refine_alpha_described(info: ArrayInfo, params: RefineParams, where: str):
    """Refine the described (B, H, W) alpha stack on ``where`` ("cpu" or "cuda"), with the haze step.

    Returns (refined stack, int64 statistics (B, N_STATS), the ``_haze.HazeFloor``
    of each image): device arrays of the input's library for "cuda", numpy for "cpu".
    """
    if where == "cuda":
        from ._cuda import refine_alpha_cuda
        from ._haze import floors_of, refine_with_floors

        floors = floors_of(info.stack, info.kind, params)
        return (*refine_with_floors(info.stack, info.kind, floors,
                                    lambda s: refine_alpha_cuda(info.with_stack(s), params)), floors)  # fmt: skip
    from ._kernels.caar import refine_alpha_batch

    return refine_alpha_batch(info.host_stack(), params, return_floors=True)
