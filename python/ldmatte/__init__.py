"""ldmatte: turn Layer Diffusion outputs into clean portrait matting data, fast.

Public API
----------
label, refine_alpha, refine, pad_rgb, RefineReport, info, metrics
"""
from ._info import info
from ._version import __version__
from .caar import DEFAULTS, refine_alpha
from .label import label
from .pad import pad_rgb
from .refine import refine
from .report import RefineReport

__all__ = ["DEFAULTS", "RefineReport", "__version__", "info", "label", "pad_rgb", "refine", "refine_alpha"]
