"""One call from an RGB image over a backing to a keyed, despilled RGBA: :func:`key`."""
from __future__ import annotations

import numpy as np

from .._arrays import array_kind
from ._dispatch import check_rgb
from .color_difference import VlahosParams, vlahos
from .ffmpeg_chroma import ChromakeyParams, chromakey
from .ffmpeg_color import ColorkeyParams, colorkey
from .key_color import key_colors_for
from .obs_filter import ObsParams, obs_chromakey
from .spill import DespillParams, despill, unmix as unmix_foreground

__all__ = ["METHODS", "PARAMS", "key"]

METHODS = ("chromakey", "colorkey", "obs", "vlahos")
PARAMS = {"chromakey": ChromakeyParams, "colorkey": ColorkeyParams, "obs": ObsParams, "vlahos": VlahosParams}


def _concat_rgba(rgb, alpha):
    kind = array_kind(rgb)
    if kind == "torch":
        import torch

        return torch.cat([rgb, alpha.unsqueeze(-1)], dim=-1).contiguous()
    xp = np if kind == "numpy" else __import__("cupy")
    return xp.ascontiguousarray(xp.concatenate([rgb, alpha[..., None]], axis=-1))


def key(rgb, method: str = "chromakey", params=None, *, key_color="auto", despill_params="auto",
        backend: str = "auto", return_key_color: bool = False, unmix: bool = False):
    """Key an RGB image (or batch) over a green or blue backing: despilled colour plus alpha as RGBA.

    Parameters
    ----------
    rgb : (H, W, 3) or (B, H, W, 3) uint8 array (numpy, torch or CuPy)
    method : {"chromakey", "colorkey", "obs", "vlahos"}
    params : the method's parameter object (``PARAMS[method]``), or None for its defaults
    key_color : "auto", "#rrggbb", "green", "blue", (r, g, b), or one colour per image of a batch
        "auto" estimates each image's backing once from its border; alpha and
        despill use the same colour.
    despill_params : "auto", DespillParams or None
        "auto": OBS's own spill reduction for ``method="obs"`` (without ``unmix``),
        FFmpeg-style :func:`despill` with its defaults otherwise. None keeps the colour.
    backend : {"auto", "cpu", "cuda"}
    return_key_color : bool
        Also return the key colour used ((r, g, b), or a list for a batch).
    unmix : bool
        Take the backing out of translucent pixels first (:func:`~ldmatte.keying.unmix`), then despill.

    Returns
    -------
    rgba : uint8 (..., H, W, 4), same array type and device as ``rgb``

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte.keying import key
    >>> im = np.zeros((32, 32, 3), np.uint8); im[:] = (30, 190, 40); im[8:, 10:22] = (210, 160, 130)
    >>> out, colour = key(im, "vlahos", return_key_color=True)
    >>> colour, out[0, 0].tolist(), out[20, 15].tolist()
    ((30, 190, 40), [30, 35, 40, 0], [210, 160, 130, 255])
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    params = PARAMS[method]() if params is None else params
    if not isinstance(params, PARAMS[method]):
        raise TypeError(f"method {method!r} takes a {PARAMS[method].__name__}, got {type(params).__name__}")
    if not (despill_params is None or despill_params == "auto" or isinstance(despill_params, DespillParams)):
        raise TypeError(f"despill_params must be 'auto', None or a DespillParams, got {despill_params!r}")
    _, batched = check_rgb(rgb)
    keys = key_colors_for(rgb, key_color)
    per_image = keys if batched else keys[0]
    colours = [tuple(int(v) for v in k) for k in keys]
    if method == "obs" and despill_params == "auto" and not unmix:
        alpha, colour = obs_chromakey(rgb, params, key_color=per_image, backend=backend, return_rgb=True)
    else:
        fn = {"chromakey": chromakey, "colorkey": colorkey, "obs": obs_chromakey, "vlahos": vlahos}[method]
        alpha = fn(rgb, params, key_color=per_image, backend=backend)
        source = unmix_foreground(rgb, alpha, key_color=per_image, backend=backend) if unmix else rgb
        if despill_params is None:
            colour = source
        else:
            dp = DespillParams() if despill_params == "auto" else despill_params
            colour = despill(source, dp, key_color=per_image, backend=backend)
    out = _concat_rgba(colour, alpha)
    if return_key_color:
        return out, (colours if batched else colours[0])
    return out
