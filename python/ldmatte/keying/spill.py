"""Despill: remove the backing's colour cast from the foreground (FFmpeg ``despill`` semantics).

After FFmpeg's ``despill`` video filter (libavfilter/vf_despill.c, documented in
the FFmpeg filters manual: options ``type``, ``mix``, ``expand``,
``brightness``). Colour in [0, 1]; for a green screen (swap G and B for blue)::

    spill = max(G - (R * mix + B * (1 - mix) * (1 - expand)), 0)
    G'    = max(G - spill + brightness * spill, 0)
    R'    = max(R + brightness * spill, 0),  B' = max(B + brightness * spill, 0)

With the defaults (mix 0.5, expand 0, brightness 0) green is limited to the
mean of red and blue: ``G' = min(G, (R + B) / 2)``. A larger ``mix`` limits green
by red alone; ``expand`` removes more. Results are rounded to uint8.

Despill leaves the backing *mixed into* edge pixels (a half-covered hair pixel
is half backing). :func:`unmix` takes it out first, solving the compositing
equation ``I = a F + (1 - a) K`` for the foreground where 0 < alpha < 255
(``F = (I - (1 - a) K) / a``, rounded and clamped to 0..255; pixels with alpha 0
or 255 keep their colour), the "screen subtraction" of compositing tools.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from . import _kernels, _torch_ops
from ._dispatch import run_keyer
from ._params import check_number, check_screen
from .color_difference import screens_for

__all__ = ["DespillParams", "despill", "unmix"]


@dataclasses.dataclass(frozen=True)
class DespillParams:
    """Parameters of :func:`despill`.

    Attributes
    ----------
    screen : {"auto", "green", "blue"}
        "auto" takes the larger of the key colour's green and blue.
    mix : float in [0, 1]
        How much red (versus the third channel) bounds the screen channel.
    expand : float in [0, 1]
        Removes more spill as it grows.
    brightness : float in [-10, 10]
        Adds the removed spill back to every channel, scaled (keeps luminance when > 0).
    """

    screen: str = "auto"
    mix: float = 0.5
    expand: float = 0.0
    brightness: float = 0.0

    def __post_init__(self):
        check_screen("DespillParams", self.screen)
        check_number("DespillParams", "mix", self.mix, 0.0, 1.0)
        check_number("DespillParams", "expand", self.expand, 0.0, 1.0)
        check_number("DespillParams", "brightness", self.brightness, -10.0, 10.0)


def despill(rgb, params: DespillParams = DespillParams(), *, key_color="auto", backend: str = "auto"):
    """The RGB image with the backing's spill removed (uint8, same shape, array type and device).

    ``key_color`` only decides the screen when ``params.screen`` is "auto".

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte.keying import despill
    >>> im = np.array([[[200, 220, 100], [100, 100, 100], [0, 255, 0]]], np.uint8)
    >>> despill(im, key_color="green").tolist()
    [[[200, 150, 100], [100, 100, 100], [0, 0, 0]]]
    """
    if not isinstance(params, DespillParams):
        raise TypeError(f"params must be a DespillParams, got {type(params).__name__}")
    p = params
    if p.screen != "auto" and key_color == "auto":
        key_color = "green"  # the screen is given: no need to estimate a key colour
    return run_keyer(
        rgb, key_color, backend,
        lambda s, k: _kernels.despill_batch(s, screens_for(k, p.screen), p.mix, p.expand, p.brightness),
        lambda s, k: _torch_ops.despill(s, screens_for(k, p.screen), p.mix, p.expand, p.brightness),
    )


def unmix(rgb, alpha, *, key_color="auto", backend: str = "auto"):
    """Foreground colour of translucent pixels: ``(I - (1 - a) K) / a`` where 0 < alpha < 255.

    Parameters
    ----------
    rgb : (H, W, 3) or (B, H, W, 3) uint8, numpy, torch or CuPy
    alpha : uint8 of shape ``rgb.shape[:-1]``, the same array type and device
    key_color, backend
        As :func:`~ldmatte.keying.chromakey`.

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte.keying import unmix
    >>> im = np.array([[[100, 178, 60], [0, 255, 0]]], np.uint8); a = np.array([[128, 0]], np.uint8)
    >>> unmix(im, a, key_color="#00ff00").tolist()
    [[[199, 102, 120], [0, 255, 0]]]
    """
    from .._arrays import array_kind, as_host
    from ._dispatch import check_rgb, to_torch

    _, batched = check_rgb(rgb)
    if array_kind(alpha) != array_kind(rgb) or tuple(alpha.shape) != tuple(rgb.shape[:-1]) or \
            str(alpha.dtype).split(".")[-1] != "uint8":
        raise ValueError(f"alpha must be a uint8 array of the image's array type and shape {tuple(rgb.shape[:-1])}, "
                         f"got {type(alpha).__name__} {tuple(alpha.shape)} {alpha.dtype}")

    def numba_fn(stack, keys):
        a = np.ascontiguousarray(as_host(alpha))
        return _kernels.unmix_batch(stack, a if batched else a[None], keys)

    def torch_fn(stack, keys):
        a = to_torch(alpha)
        return _torch_ops.unmix(stack, a if batched else a.unsqueeze(0), keys)

    return run_keyer(rgb, key_color, backend, numba_fn, torch_fn)
