"""FFmpeg-style ``colorkey``: Euclidean distance in RGB, one pixel at a time.

Behaviour after FFmpeg's ``colorkey`` video filter (libavfilter/vf_colorkey.c,
documented in the FFmpeg filters manual: options ``color``, ``similarity``,
``blend``). Per pixel::

    diff  = sqrt(((R - R_k)^2 + (G - G_k)^2 + (B - B_k)^2) / (3 * 255^2))
    alpha = clip((diff - similarity) / blend, 0, 1) * 255   (truncated)   if blend > 0.0001
          = 255 if diff > similarity else 0                               otherwise

Unlike :func:`~ldmatte.keying.chromakey` it also sees brightness, so shadows
on the backing key less well, and there is no neighbourhood averaging.
"""
from __future__ import annotations

import dataclasses

from . import _kernels, _torch_ops
from ._dispatch import run_keyer
from ._params import check_number

__all__ = ["ColorkeyParams", "colorkey"]


@dataclasses.dataclass(frozen=True)
class ColorkeyParams:
    """Parameters of :func:`colorkey`.

    Attributes
    ----------
    similarity : float in (0, 1]
        RGB distance (0..1 scale) up to which a pixel is backing.
    blend : float in [0, 1]
        Width of the ramp above ``similarity``; 0 gives a hard key.
    """

    similarity: float = 0.2
    blend: float = 0.1

    def __post_init__(self):
        check_number("ColorkeyParams", "similarity", self.similarity, 0.0, 1.0, lo_open=True)
        check_number("ColorkeyParams", "blend", self.blend, 0.0, 1.0)


def colorkey(rgb, params: ColorkeyParams = ColorkeyParams(), *, key_color="auto", backend: str = "auto"):
    """Alpha of an RGB image over a coloured backing, FFmpeg ``colorkey`` style.

    Parameters and return value as :func:`~ldmatte.keying.chromakey`, with
    :class:`ColorkeyParams`.

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte.keying import colorkey, ColorkeyParams
    >>> im = np.array([[[0, 255, 0], [0, 200, 0], [128, 128, 128], [70, 230, 60]]], np.uint8)
    >>> colorkey(im, key_color="#00ff00").tolist()
    [[0, 0, 255, 41]]
    """
    if not isinstance(params, ColorkeyParams):
        raise TypeError(f"params must be a ColorkeyParams, got {type(params).__name__}")
    return run_keyer(
        rgb, key_color, backend,
        lambda s, k: _kernels.colorkey_batch(s, k, params.similarity, params.blend),
        lambda s, k: _torch_ops.colorkey(s, k, params.similarity, params.blend),
    )
