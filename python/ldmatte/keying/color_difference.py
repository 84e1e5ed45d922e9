"""Vlahos colour-difference keyer: alpha from how much the screen channel exceeds the other two.

After Vlahos's colour-difference matting (US patents 4,100,569 and 4,344,085)
as written up by Smith and Blinn, "Blue Screen Matting", SIGGRAPH 1996
(their eq. 4, ``alpha = 1 - a1 (B - a2 G)``), in the form used for green
screens, with the gain ``a1`` normalised so that the key colour keys to 0::

    d(p)  = S_p - balance * max(O1_p, O2_p)      S: screen channel (G for green, B for blue)
    a     = 1 - d(p) / d(key)                    O1, O2: the two other channels
    alpha = (clip(a, clip_black, clip_white) - clip_black) / (clip_white - clip_black) * 255   (rounded)

A grey or skin-coloured pixel has no screen-channel excess (d <= 0) and gets
alpha 255; a pixel mixing foreground F and key K as ``t F + (1 - t) K`` gets
``a = t`` exactly when F has no excess and ``balance = 1`` (``max`` is linear
along that line as long as the same channel dominates). ``clip_black`` and
``clip_white`` are the usual matte levels: they crush noise on the backing and
holes in the foreground.
"""
from __future__ import annotations

import dataclasses

from . import _kernels, _torch_ops
from ._dispatch import run_keyer
from ._params import check_number, check_screen
from .key_color import screen_of

__all__ = ["VlahosParams", "vlahos"]


@dataclasses.dataclass(frozen=True)
class VlahosParams:
    """Parameters of :func:`vlahos`.

    Attributes
    ----------
    balance : float in [0, 2]
        Weight of ``max`` of the other channels (Smith and Blinn's ``a2``).
    clip_black, clip_white : floats, 0 <= clip_black < clip_white <= 1
        Raw alpha at or below ``clip_black`` becomes 0, at or above ``clip_white`` 255.
    screen : {"auto", "green", "blue"}
        The screen channel; "auto" takes the larger of the key colour's green and blue.
    """

    balance: float = 1.0
    clip_black: float = 0.0
    clip_white: float = 1.0
    screen: str = "auto"

    def __post_init__(self):
        check_number("VlahosParams", "balance", self.balance, 0.0, 2.0)
        check_number("VlahosParams", "clip_black", self.clip_black, 0.0, 1.0)
        check_number("VlahosParams", "clip_white", self.clip_white, 0.0, 1.0)
        if not self.clip_black < self.clip_white:
            raise ValueError(f"VlahosParams: clip_black ({self.clip_black}) must be below clip_white "
                             f"({self.clip_white})")
        check_screen("VlahosParams", self.screen)


def screens_for(keys, screen: str) -> list[str]:
    """The screen of each image: the given one, or the key colour's."""
    return [screen_of(k) if screen == "auto" else screen for k in keys]


def _check_keys(keys, screens, balance):
    for k, s in zip(keys, screens):
        if _kernels.vlahos_d_key([int(v) for v in k], s, balance) <= 0:
            raise ValueError(
                f"key colour #{int(k[0]):02x}{int(k[1]):02x}{int(k[2]):02x} has no {s} excess at balance {balance}: "
                "the colour-difference keyer needs a saturated green or blue backing (pass key_color, "
                "or lower balance)"
            )


def vlahos(rgb, params: VlahosParams = VlahosParams(), *, key_color="auto", backend: str = "auto"):
    """Alpha of an RGB image over a green or blue backing, Vlahos colour-difference style.

    Parameters and return value as :func:`~ldmatte.keying.chromakey`, with
    :class:`VlahosParams`.

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte.keying import vlahos
    >>> im = np.array([[[0, 255, 0], [64, 191, 64], [128, 128, 128], [220, 170, 140]]], np.uint8)
    >>> vlahos(im, key_color="#00ff00").tolist()
    [[0, 128, 255, 255]]
    """
    if not isinstance(params, VlahosParams):
        raise TypeError(f"params must be a VlahosParams, got {type(params).__name__}")
    p = params

    def numba_fn(stack, keys):
        screens = screens_for(keys, p.screen)
        _check_keys(keys, screens, p.balance)
        return _kernels.vlahos_batch(stack, keys, screens, p.balance, p.clip_black, p.clip_white)

    def torch_fn(stack, keys):
        screens = screens_for(keys, p.screen)
        _check_keys(keys, screens, p.balance)
        return _torch_ops.vlahos(stack, keys, screens, p.balance, p.clip_black, p.clip_white)

    return run_keyer(rgb, key_color, backend, numba_fn, torch_fn)
