"""ldmatte: turn Layer Diffusion outputs into clean portrait matting data, fast.

Public API
----------
label, component_stats, refine_alpha, refine, pad_rgb, RefineParams, RefineReport, info
(and the modules metrics, regions and the subpackages by layer: fileio, review, synthetic, batch, dataset,
generate, keying, matting, video, cli). ``DEFAULTS`` is ``RefineParams().as_dict()``, the default
refinement settings as keywords. The names of modules that moved (``ldmatte.io``, ``ldmatte.files``,
``ldmatte.synth``, ``ldmatte.training``...) still import: see ``ldmatte._aliases``.
"""
import os as _os

# OpenCV logs a "[ WARN ]" line on stderr for every file it cannot decode; ldmatte's readers report each such
# file themselves, in one line. Set before OpenCV loads (it reads the variable once); a level the user set stays.
_os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

from . import _aliases  # noqa: E402, F401 - the old module names (ldmatte.io, ...) as the moved modules
from ._caar import refine_alpha  # noqa: E402
from ._info import info  # noqa: E402
from ._label import label  # noqa: E402
from ._pad import pad_rgb  # noqa: E402
from ._params import DEFAULTS, RefineParams  # noqa: E402
from ._refine import refine  # noqa: E402
from ._version import __version__  # noqa: E402
from .regions import ComponentStats, component_stats  # noqa: E402
from .report import RefineReport  # noqa: E402

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
