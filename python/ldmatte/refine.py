"""Full RGBA refinement: :func:`refine` (alpha repair, then colour padding)."""
from __future__ import annotations

import numpy as np

from . import _backend
from ._arrays import array_kind, check_image_stack
from .caar import DEFAULTS, _check_params, refine_alpha
from ._kernels.refine_rgba import refine_rgba_batch
from .pad import pad_rgb
from .report import reports_from_stats

__all__ = ["refine"]


def _compose(rgba, alpha, padded):
    """RGBA out: straight colour where alpha > 0, padded colour where alpha == 0."""
    if array_kind(rgba) == "torch":
        import torch

        visible = (alpha > 0).unsqueeze(-1)
        rgb = torch.where(visible, rgba[..., :3], padded)
        return torch.cat([rgb, alpha.unsqueeze(-1)], dim=-1).contiguous()
    xp = np if array_kind(rgba) == "numpy" else __import__("cupy")
    visible = (alpha > 0)[..., None]
    rgb = xp.where(visible, rgba[..., :3], padded)
    return xp.ascontiguousarray(xp.concatenate([rgb, alpha[..., None]], axis=-1))


def refine(
    rgba,
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
    """Refine a transparent image: repair the alpha, then re-pad the colour.

    The alpha goes through :func:`refine_alpha`. The colour keeps its straight
    (not premultiplied) value wherever the refined alpha is above 0 and gets
    LayerDiffuse-compatible padding (:func:`pad_rgb`, computed with the refined
    alpha) where it is 0, so that ``alpha * F + (1 - alpha) * B`` composites
    correctly and the colour of removed haze does not leak.

    Parameters
    ----------
    rgba : (H, W, 4) or (B, H, W, 4) uint8 array
        numpy, torch or CuPy; C-contiguous.
    fg_tol, bg_tol, connectivity, snap, fill_interior, min_subject_fraction
        As in :func:`refine_alpha`.
    return_report : bool
        Also return the :class:`RefineReport` (list for a batch).
    backend : {"auto", "cpu", "cuda"}

    Returns
    -------
    refined : uint8 RGBA of the same shape, array type and device
    report : only with ``return_report``

    Examples
    --------
    >>> import numpy as np, ldmatte
    >>> im = np.zeros((8, 8, 4), np.uint8); im[2:6, 2:6] = (200, 50, 50, 250)
    >>> out = ldmatte.refine(im)
    >>> int(out[3, 3, 3]), out[0, 0, :3].tolist()  # snapped alpha, padded colour
    (255, [200, 50, 50])
    """
    kind, _, batched = check_image_stack(rgba, "rgba", (np.uint8,), channels=4)
    params = (fg_tol, bg_tol, connectivity, snap, fill_interior, min_subject_fraction)
    if _backend.select_backend(rgba, backend) == "cpu" and kind == "numpy":
        return _refine_numpy(rgba, batched, params, return_report)
    alpha_in = rgba[..., 3]
    alpha_in = alpha_in.contiguous() if kind == "torch" else alpha_in.copy()
    result = refine_alpha(alpha_in, *params, return_report, backend=backend)
    alpha, report = result if return_report else (result, None)
    with_alpha = _compose(rgba, alpha, rgba[..., :3])  # straight colour + refined alpha
    padded = pad_rgb(with_alpha, np.uint8, backend=backend)
    out = _compose(rgba, alpha, padded)
    return (out, report) if return_report else out


def _refine_numpy(rgba, batched, params, return_report):
    """The CPU path: each image's alpha repair and padding run back to back on one thread."""
    _check_params(*params[:3], params[5])
    msf = -1.0 if params[5] is None else float(params[5])
    stack = rgba if batched else rgba[None]
    out, stats = refine_rgba_batch(np.ascontiguousarray(stack), *params[:5], msf)
    if not batched:
        out, stats = out[0], stats[0]
    if return_report:
        return out, reports_from_stats(stats, *rgba.shape[-3:-1])
    return out
