"""FFmpeg-style ``chromakey``: distance in the YUV chroma plane, averaged over a 3x3 neighbourhood.

Behaviour after FFmpeg's ``chromakey`` video filter (libavfilter/vf_chromakey.c,
documented in the FFmpeg filters manual: options ``color``, ``similarity``,
``blend``). Per pixel, with U, V its BT.601 limited-range chroma and (U_k, V_k)
the key colour's::

    d(p)  = sqrt(((U_p - U_k)^2 + (V_p - V_k)^2) / (2 * 255^2))
    diff  = mean of d over the 3x3 neighbourhood (clamped at the border)
    alpha = clip((diff - similarity) / blend, 0, 1) * 255   (truncated)   if blend > 0.0001
          = 255 if diff > similarity else 0                               otherwise

Chroma here is computed at full resolution from the RGB input in 10-bit fixed
point, ``U = ((-152 R - 298 G + 450 B + 512) >> 10) + 128`` and
``V = ((450 R - 377 G - 73 B + 512) >> 10) + 128`` (grey is exactly 128), so
every backend computes the same integers. FFmpeg's own defaults (similarity
0.01, blend 0) suit a perfectly flat synthetic backing; the defaults here
(0.12, 0.08) are the usual starting point for a camera's green screen.
"""
from __future__ import annotations

import dataclasses

from . import _kernels, _torch_ops
from ._dispatch import run_keyer
from ._params import check_number

__all__ = ["ChromakeyParams", "chromakey"]


@dataclasses.dataclass(frozen=True)
class ChromakeyParams:
    """Parameters of :func:`chromakey`.

    Attributes
    ----------
    similarity : float in (0, 1]
        Chroma distance (0..1 scale) up to which a pixel is backing (alpha 0).
    blend : float in [0, 1]
        Width of the ramp from 0 to 255 above ``similarity``; 0 gives a hard key.
    """

    similarity: float = 0.12
    blend: float = 0.08

    def __post_init__(self):
        check_number("ChromakeyParams", "similarity", self.similarity, 0.0, 1.0, lo_open=True)
        check_number("ChromakeyParams", "blend", self.blend, 0.0, 1.0)


def chromakey(rgb, params: ChromakeyParams = ChromakeyParams(), *, key_color="auto", backend: str = "auto"):
    """Alpha of an RGB image over a coloured backing, FFmpeg ``chromakey`` style.

    Parameters
    ----------
    rgb : (H, W, 3) or (B, H, W, 3) uint8 array
        numpy (Numba kernels), torch (CPU or CUDA; torch operations on its
        device) or CuPy (through DLPack); C-contiguous.
    params : ChromakeyParams
    key_color : "auto", "#rrggbb", "green", "blue" or (r, g, b)
        "auto" estimates each image's backing from its border
        (:func:`~ldmatte.keying.estimate_key_color`).
    backend : {"auto", "cpu", "cuda"}

    Returns
    -------
    alpha : (H, W) or (B, H, W) uint8, same array type and device as ``rgb``.

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte.keying import chromakey, ChromakeyParams
    >>> im = np.zeros((6, 9, 3), np.uint8); im[:] = (0, 255, 0); im[:, 6:] = (200, 150, 120)
    >>> chromakey(im, key_color="#00ff00")[0].tolist()
    [0, 0, 0, 0, 0, 0, 255, 255, 255]
    >>> chromakey(im, ChromakeyParams(similarity=0.2, blend=0.0), key_color="green")[0, 5:7].tolist()
    [0, 255]
    """
    if not isinstance(params, ChromakeyParams):
        raise TypeError(f"params must be a ChromakeyParams, got {type(params).__name__}")
    return run_keyer(
        rgb, key_color, backend,
        lambda s, k: _kernels.chromakey_batch(s, k, params.similarity, params.blend),
        lambda s, k: _torch_ops.chromakey(s, k, params.similarity, params.blend),
    )
