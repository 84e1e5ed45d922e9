"""LayerDiffuse-compatible colour padding: :func:`pad_rgb`."""
from __future__ import annotations

import numpy as np

from . import _backend
from ._arrays import as_host, check_image_stack, from_host

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
        uint8 (0..255) or float32 in [0, 1], straight (not premultiplied)
        colour; numpy, torch or CuPy; C-contiguous.
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
    kind, dtype, batched = check_image_stack(rgba, "rgba", (np.uint8, np.float32), channels=4)
    if _backend.select_backend(rgba, backend) == "cuda":
        from ._cuda import pad_rgb_cuda

        out = pad_rgb_cuda(rgba if batched else rgba[None], out_dtype)
        return out if batched else out[0]
    from ._kernels.pad import pad_rgb_batch

    host = as_host(rgba)
    if dtype == np.float32 and np.isnan(host).any():
        raise ValueError("rgba contains NaN")
    out = pad_rgb_batch(host if batched else host[None], out_dtype == np.uint8)
    out = from_host(out, rgba)
    return out if batched else out[0]
