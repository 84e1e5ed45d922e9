"""LayerDiffuse-compatible colour padding: :func:`pad_rgb`."""
from __future__ import annotations

import numpy as np

from . import _backend
from ._arrays import ArrayInfo, describe

__all__ = ["pad_rgb"]


def pad_rgb(rgba, out_dtype=np.uint8, *, backend: str = "auto"):
    """Fill the colour of transparent pixels the way LayerDiffuse does.

    Premultiplied colour and alpha are shrunk by 1.2 per side (area
    interpolation) down to one pixel, the coarsest colour is the alpha-weighted
    mean, and on the way back up each level's fill is bilinearly enlarged and
    blended under that level's premultiplied colour. Opaque pixels keep their
    colour, fully transparent ones get smooth colour from their surroundings.

    Parameters
    ----------
    rgba : (H, W, 4) or (B, H, W, 4) array
        uint8 (0..255) or float32 in [0, 1] (values outside, NaN and
        infinities are a ValueError), straight (not premultiplied) colour;
        numpy, torch or CuPy; C-contiguous.
    out_dtype : {np.uint8, np.float32}
        uint8 is ``(x * 255).clip(0, 255)`` truncated, as LayerDiffuse writes it.
    backend : {"auto", "cpu", "cuda"}

    Returns
    -------
    rgb : (..., 3) array of `out_dtype`, same array type and device as `rgba`.

    Examples
    --------
    >>> import numpy as np, ldmatte
    >>> im = np.zeros((4, 4, 4), np.uint8); im[:2, :, :] = (200, 100, 0, 255)
    >>> ldmatte.pad_rgb(im)[3, 0].tolist()  # the transparent rows take the visible colour
    [200, 100, 0]
    """
    out_dtype = np.dtype(out_dtype)
    if out_dtype not in (np.uint8, np.float32):
        raise TypeError(f"out_dtype must be uint8 or float32, got {out_dtype}")
    info = describe(rgba, "rgba", (np.uint8, np.float32), channels=4)
    return info.to_caller(pad_rgb_described(info, out_dtype, _backend.select_backend(info, backend)))


def pad_rgb_described(info: ArrayInfo, out_dtype: np.dtype, where: str):
    """Pad the described (B, H, W, 4) stack on ``where``; a device stack for "cuda", numpy for "cpu"."""
    if where == "cuda":
        from ._cuda import pad_rgb_cuda

        return pad_rgb_cuda(info, out_dtype)
    from ._kernels.pad import pad_rgb_batch

    host = info.host_stack()
    if info.dtype == np.float32:
        check_unit_range(host)
    return pad_rgb_batch(host, out_dtype == np.uint8)


def check_unit_range(host: np.ndarray) -> None:
    """float colour must be finite and in [0, 1]: the kernels do not clip, and NaN would spread."""
    if np.isnan(host).any():
        raise ValueError("rgba contains NaN")
    if host.size and not (host.min() >= 0.0 and host.max() <= 1.0):
        raise ValueError(
            f"rgba: float values must lie in [0, 1], got min {float(host.min())!r}, max {float(host.max())!r} "
            "(divide uint8 data by 255, or pass it as uint8)"
        )
