"""Full RGBA refinement: :func:`refine` (alpha repair, then colour padding)."""
from __future__ import annotations

import numpy as np

from . import _backend
from ._arrays import ArrayInfo, describe
from ._caar import refine_alpha_described
from ._pad import pad_rgb_described
from ._params import DEFAULTS, HAZE_FLOOR_DEFAULT, RefineParams
from .report import reports_from_stats

__all__ = ["refine"]


def _compose(kind, rgba, alpha, padded):
    """RGBA out: straight colour where alpha > 0, padded colour where alpha == 0."""
    if kind == "torch":
        import torch

        visible = (alpha > 0).unsqueeze(-1)
        rgb = torch.where(visible, rgba[..., :3], padded)
        return torch.cat([rgb, alpha.unsqueeze(-1)], dim=-1).contiguous()
    xp = np if kind == "numpy" else __import__("cupy")
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
    hysteresis: bool = DEFAULTS["hysteresis"],
    haze_floor: str | int = HAZE_FLOOR_DEFAULT,
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
    fg_tol, bg_tol, connectivity, snap, fill_interior, min_subject_fraction, hysteresis, haze_floor
        As in :func:`refine_alpha`. The colour under a removed haze floor is
        padded like any background (its refined alpha is 0).
    return_report : bool
        Also return the :class:`RefineReport` (list for a batch).
    backend : {"auto", "cpu", "cuda"}
        On the CPU every input (numpy, or torch / CuPy copied to the host and
        back) runs the one-pass kernel; on the GPU the alpha is repaired, then
        the colour padded, on the caller's stream.

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
    info = describe(rgba, "rgba", (np.uint8,), channels=4)
    params = RefineParams(fg_tol, bg_tol, connectivity, snap, fill_interior, min_subject_fraction, hysteresis,
                          haze_floor)  # fmt: skip
    where = _backend.select_backend(info, backend)
    out, stats, floors = _refine_on_device(info, params) if where == "cuda" else _refine_on_cpu(info, params)
    out, stats = info.to_caller(out), info.unbatch(stats)
    if return_report:
        return out, reports_from_stats(stats, info.height, info.width, floors)
    return out


def _refine_on_cpu(info: ArrayInfo, params: RefineParams):
    """Each image's alpha repair and padding back to back on one thread (``_kernels.refine_rgba``)."""
    from ._kernels.refine_rgba import refine_rgba_batch

    return refine_rgba_batch(info.host_stack(), params, return_floors=True)


def _refine_on_device(info: ArrayInfo, params: RefineParams):
    """The alpha repaired on the device, then the colour padded with it, in the input's array library."""
    stack = info.stack
    alpha_in = stack[..., 3]
    alpha_in = alpha_in.contiguous() if info.kind == "torch" else alpha_in.copy()
    alpha, stats, floors = refine_alpha_described(info.with_stack(alpha_in), params, "cuda")
    from ._cuda_compose import compose_rgba_cuda, fused_compose_available

    if not fused_compose_available():  # an extension without the fused kernel: torch / CuPy where + cat
        with_alpha = _compose(info.kind, stack, alpha, stack[..., :3])  # straight colour + refined alpha
        padded = pad_rgb_described(info.with_stack(with_alpha), np.dtype(np.uint8), "cuda")
        return _compose(info.kind, stack, alpha, padded), stats, floors
    # One pass each (csrc/cuda/compose.cu): straight colour + refined alpha, then the padded colour
    # written in place where alpha is 0. The where + cat path above stays its reference in the tests.
    with_alpha = compose_rgba_cuda(stack, alpha)
    padded = pad_rgb_described(info.with_stack(with_alpha), np.dtype(np.uint8), "cuda")
    return compose_rgba_cuda(with_alpha, alpha, padded, out=with_alpha), stats, floors
