"""ldmatte: turn Layer Diffusion outputs into clean portrait matting data, fast.

Public API
----------
label, component_stats, refine_alpha, refine, pad_rgb, RefineParams, RefineReport, info
(and the modules io, metrics, regions, dataset, generate). ``DEFAULTS`` is
``RefineParams().as_dict()``, the default refinement settings as keywords.
"""
from ._caar import refine_alpha
from ._info import info
from ._label import label
from ._pad import pad_rgb
from ._params import DEFAULTS, RefineParams
from ._refine import refine
from ._version import __version__
from .regions import ComponentStats, component_stats
from .report import RefineReport

__all__ = [
    "ComponentStats",
    "DEFAULTS",
    "RefineParams",
    "RefineReport",
    "component_stats",
    "__version__",
    "info",
    "label",
    "pad_rgb",
    "refine",
    "refine_alpha",
]
