"""Chroma keying: the keyers people know, with their parameters, on numpy (Numba), torch and CuPy.

- :func:`chromakey` — FFmpeg ``chromakey``: YUV chroma distance over 3x3, similarity, blend.
- :func:`colorkey` — FFmpeg ``colorkey``: RGB distance, similarity, blend.
- :func:`obs_chromakey` — OBS chroma key: box-filtered Cb/Cr distance, similarity, smoothness, spill.
- :func:`vlahos` — Vlahos colour difference: screen channel minus ``balance * max`` of the others.
- :func:`despill` — FFmpeg ``despill``: green/blue, mix, expand, brightness.
- :func:`unmix` — the foreground of translucent pixels, the backing taken out (``(I - (1 - a) K) / a``).
- :func:`key` — any of them plus despill: RGB in, RGBA out.
- :func:`estimate_key_color` — the backing colour from the image border.

Each module's docstring gives its formula and where the behaviour comes from.
uint8 RGB in; numpy runs Numba kernels on the CPU, torch tensors (CPU or
CUDA) run torch operations on their device, CuPy arrays go through DLPack;
the result has the input's array type and device. Plain references live in
``ldmatte.reference.keying``.

Examples
--------
>>> import numpy as np
>>> from ldmatte import keying
>>> im = np.zeros((16, 16, 3), np.uint8); im[:] = (0, 255, 0); im[4:12, 4:12] = (180, 140, 120)
>>> [int(keying.key(im, m)[8, 8, 3]) for m in keying.METHODS], int(keying.key(im)[0, 0, 3])
([255, 255, 255, 255], 0)
"""
from .color_difference import VlahosParams, vlahos
from .ffmpeg_chroma import ChromakeyParams, chromakey
from .ffmpeg_color import ColorkeyParams, colorkey
from .key_color import estimate_key_color, parse_key_color
from .keyer import METHODS, PARAMS, key
from .obs_filter import ObsParams, obs_chromakey
from .spill import DespillParams, despill, unmix

__all__ = [
    "METHODS", "PARAMS", "ChromakeyParams", "ColorkeyParams", "DespillParams", "ObsParams", "VlahosParams",
    "chromakey", "colorkey", "despill", "estimate_key_color", "key", "obs_chromakey", "parse_key_color", "unmix", "vlahos",
]
