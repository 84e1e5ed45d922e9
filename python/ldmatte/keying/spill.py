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
"""
from __future__ import annotations

import dataclasses

from . import _kernels, _torch_ops
from ._dispatch import run_keyer
from ._params import check_number, check_screen
from .color_difference import screens_for

__all__ = ["DespillParams", "despill"]


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
