"""ldmatte: turn Layer Diffusion outputs into clean portrait matting data, fast.

Public API
----------
label, component_stats, refine_alpha, refine, pad_rgb, RefineParams, RefineReport, info
(and the modules metrics, regions and the subpackages by layer: fileio, review, synthetic, batch, dataset,
generate, keying, matting, video, cli). ``DEFAULTS`` is ``RefineParams().as_dict()``, the default
refinement settings as keywords. The names of modules that moved (``ldmatte.io``, ``ldmatte.files``,
``ldmatte.synth``, ``ldmatte.training``...) still import: see ``ldmatte._aliases``.
"""
from . import _aliases
from ._caar import refine_alpha
from ._info import info
from ._label import label
from ._pad import pad_rgb
from ._params import DEFAULTS, RefineParams
from ._refine import refine
from ._version import __version__
from .regions import ComponentStats, component_stats
from .report import RefineReport

_aliases.install()

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
