"""Plain reference implementations (numpy, scipy, OpenCV) of every ldmatte kernel.

They define the semantics: the Numba and CUDA kernels are tested against them
and the benchmarks report speed-ups over them. They favour clarity over speed.
"""
from .caar import STAT_FIELDS, refine_alpha_reference
from .guided_filter import guided_filter_reference
from .label import label_reference
from .pad import pad_rgb_reference
from .regions import component_stats_reference

__all__ = ["STAT_FIELDS", "component_stats_reference", "guided_filter_reference", "label_reference", "pad_rgb_reference",
           "refine_alpha_reference"]
