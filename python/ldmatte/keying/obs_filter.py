"""OBS-style chroma key: box-filtered Cb/Cr distance, similarity, smoothness and spill.

Behaviour after the chroma key filter of OBS Studio (plugins/obs-filters,
``chroma_key_filter.effect`` and ``chroma-key-filter.c``; the filter's settings
``similarity``, ``smoothness`` and ``key color spill reduction``, given there on
a 1..1000 scale and here divided by 1000). Colour is taken in [0, 1]; Cb and Cr
are the BT.709 limited-range chroma ``Cb = -0.100644 R - 0.338572 G + 0.439216 B
+ 0.501961`` and ``Cr = 0.439216 R - 0.398942 G - 0.040274 B + 0.501961``, and
``dist(c)`` is the Euclidean distance of (Cr, Cb) of colour c from the key's.
The shader reads four bilinear samples half-way between two pixels, in a
pinwheel around the centre, so per pixel (clamp-to-edge at the border)::

    d     = (2 * (dist(mean(p[-1,-1], p[0,-1])) + dist(mean(p[0,+1], p[+1,+1]))
                + dist(mean(p[+1,-1], p[+1,0])) + dist(mean(p[-1,0], p[-1,+1])))
             + dist(p[0,0])) / 9                 (offsets are [dy, dx])
    base  = d - similarity
    alpha = saturate(base / smoothness) ^ 1.5 * 255                  (rounded)
    s     = saturate(base / spill) ^ 1.5
    rgb   = lerp(luma, rgb, s),  luma = 0.2126 R + 0.7152 G + 0.0722 B

so colours near the key are desaturated toward their luma (the spill
reduction). ``x^1.5`` is computed as ``x * sqrt(x)`` (identical on every
backend). Defaults are OBS's: 400, 80 and 100 on its scale.
"""
from __future__ import annotations

import dataclasses

from . import _kernels, _torch_ops
from ._dispatch import run_keyer
from ._params import check_number

__all__ = ["ObsParams", "obs_chromakey"]


@dataclasses.dataclass(frozen=True)
class ObsParams:
    """Parameters of :func:`obs_chromakey` (OBS's sliders divided by 1000).

    Attributes
    ----------
    similarity : float in [0, 1]
        Cb/Cr distance up to which a pixel is backing.
    smoothness : float in (0, 1]
        Width of the alpha ramp above ``similarity`` (shaped by ``^1.5``).
    spill : float in (0, 1]
        Width of the desaturation ramp above ``similarity``.
    """

    similarity: float = 0.4
    smoothness: float = 0.08
    spill: float = 0.1

    def __post_init__(self):
        check_number("ObsParams", "similarity", self.similarity, 0.0, 1.0)
        check_number("ObsParams", "smoothness", self.smoothness, 0.0, 1.0, lo_open=True)
        check_number("ObsParams", "spill", self.spill, 0.0, 1.0, lo_open=True)


def obs_chromakey(rgb, params: ObsParams = ObsParams(), *, key_color="auto", backend: str = "auto",
                  return_rgb: bool = False):
    """Alpha (and the spill-reduced colour) of an RGB image over a backing, OBS chroma key style.

    Parameters
    ----------
    rgb, key_color, backend
        As :func:`~ldmatte.keying.chromakey`.
    params : ObsParams
    return_rgb : bool
        Also return the spill-reduced colour (uint8, the shape of ``rgb``).

    Returns
    -------
    alpha, or (alpha, rgb) with ``return_rgb``; same array type and device as ``rgb``.

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte.keying import obs_chromakey
    >>> im = np.zeros((5, 8, 3), np.uint8); im[:] = (0, 255, 0); im[:, 5:] = (200, 150, 120)
    >>> obs_chromakey(im, key_color="#00ff00")[2].tolist()
    [0, 0, 0, 0, 0, 0, 255, 255]
    """
    if not isinstance(params, ObsParams):
        raise TypeError(f"params must be an ObsParams, got {type(params).__name__}")
    p = params
    both = run_keyer(
        rgb, key_color, backend,
        lambda s, k: _stack2(_kernels.obs_batch(s, k, p.similarity, p.smoothness, p.spill)),
        lambda s, k: _stack2_torch(_torch_ops.obs(s, k, p.similarity, p.smoothness, p.spill)),
    )
    alpha, colour = both[..., 3], both[..., :3]
    if return_rgb:
        return _contig(alpha), _contig(colour)
    return _contig(alpha)


def _stack2(pair):
    import numpy as np

    alpha, rgb = pair
    return np.concatenate([rgb, alpha[..., None]], axis=-1)


def _stack2_torch(pair):
    import torch

    alpha, rgb = pair
    return torch.cat([rgb, alpha.unsqueeze(-1)], dim=-1)


def _contig(x):
    from .._arrays import array_kind

    kind = array_kind(x)
    if kind == "torch":
        return x.contiguous()
    if kind == "numpy":
        import numpy as np

        return np.ascontiguousarray(x)
    import cupy

    return cupy.ascontiguousarray(x)
