"""Connectivity-aware alpha refinement: :func:`refine_alpha`."""
from __future__ import annotations

import numpy as np

from . import _backend
from ._arrays import as_host, check_image_stack, from_host
from .label import _check_connectivity
from .report import reports_from_stats

__all__ = ["refine_alpha", "DEFAULTS"]

# Chosen by measurement on the synthetic quality set (bench/quality.py, bench/RESULTS.md).
DEFAULTS = dict(fg_tol=8, bg_tol=8, connectivity=8, snap=True, fill_interior=True, min_subject_fraction=0.05)


def _check_params(fg_tol, bg_tol, connectivity, min_subject_fraction):
    for name, tol in (("fg_tol", fg_tol), ("bg_tol", bg_tol)):
        if isinstance(tol, bool) or not isinstance(tol, (int, np.integer)) or not 0 <= tol <= 254:
            raise ValueError(f"{name} must be an integer in 0..254, got {tol!r}")
    if bg_tol >= 255 - fg_tol:
        raise ValueError(f"bg_tol ({bg_tol}) must be below 255 - fg_tol ({255 - fg_tol}): FG and BG would overlap")
    _check_connectivity(connectivity)
    if min_subject_fraction is not None and not 0.0 <= float(min_subject_fraction) <= 1.0:
        raise ValueError(f"min_subject_fraction must be in [0, 1] or None, got {min_subject_fraction!r}")


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
    backend: str = "auto",
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
        numpy, torch or CuPy; C-contiguous.
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
        disables the subject rule.
    return_report : bool
        Also return a :class:`RefineReport` (a list of them for a batch).
    backend : {"auto", "cpu", "cuda"}

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
    """
    _check_params(fg_tol, bg_tol, connectivity, min_subject_fraction)
    kind, _, batched = check_image_stack(alpha, "alpha", (np.uint8,))
    msf = -1.0 if min_subject_fraction is None else float(min_subject_fraction)
    params = (int(fg_tol), int(bg_tol), int(connectivity), bool(snap), bool(fill_interior), msf)
    height, width = alpha.shape[-2:]
    if _backend.select_backend(alpha, backend) == "cuda":
        from ._cuda import refine_alpha_cuda

        stack = alpha if batched else alpha[None]
        out, stats = refine_alpha_cuda(stack, *params)
    else:
        from ._kernels.caar import refine_alpha_batch

        host = as_host(alpha)
        stack = host if batched else host[None]
        out, stats = refine_alpha_batch(stack, *params)
        out = from_host(out, alpha)
    if not batched:
        out, stats = out[0], stats[0]
    if return_report:
        return out, reports_from_stats(stats, height, width)
    return out
