"""ldmatte: turn Layer Diffusion outputs into clean portrait matting data, fast.

Public API
----------
label, component_stats, refine_alpha, refine, pad_rgb, RefineReport, info
(and the modules io, metrics, dataset, generate)
"""
from ._info import info
from ._version import __version__
from .caar import DEFAULTS, refine_alpha
from .label import label
from .pad import pad_rgb
from .refine import refine
from .regions import ComponentStats, component_stats
from .report import RefineReport

__all__ = ["ComponentStats", "DEFAULTS", "RefineReport", "component_stats", "__version__", "info", "label", "pad_rgb", "refine", "refine_alpha"]
