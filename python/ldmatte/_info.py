"""`ldmatte.info()`: what this install can do."""
from __future__ import annotations

import os
import platform

from . import _backend
from ._version import __version__


def info_dict() -> dict:
    """Facts about this install as a dict (version, backends, GPU, threads)."""
    import numba

    mod = _backend.native()
    facts = {
        "ldmatte": __version__,
        "python": platform.python_version(),
        "numba": numba.__version__,
        "native_extension": mod is not None,
        "cpu_backend": "numba",
        "cpu_threads": numba.config.NUMBA_NUM_THREADS,
        "cpu_cores": os.cpu_count(),
        "cuda_built": _backend.cuda_built(),
        "cuda_archs": None,
        "cuda_devices": _backend.cuda_device_count(),
        "gpu": None,
    }
    from ._cuda_arch import built_archs, covers

    archs = built_archs() if facts["cuda_built"] else None
    if archs is not None:  # machine code and PTX compiled in, e.g. "sm_75, ..., sm_90 + PTX compute_90"
        facts["cuda_archs"] = str(archs)
    if facts["cuda_devices"]:
        facts["gpu"] = mod.cuda_device_name()
        if archs is not None:
            cc = int(mod.cuda_device_capability(0))
            facts["gpu_runs"] = covers(archs, (cc // 10, cc % 10)) or "NOT COVERED by this build (rebuild for it)"
    facts["cuda_usable"] = bool(facts["cuda_built"] and facts["cuda_devices"])
    return facts


def info(file=None) -> dict:
    """Print what this ldmatte install can do and return it as a dict.

    Examples
    --------
    >>> import ldmatte
    >>> facts = ldmatte.info()  # doctest: +SKIP
    ldmatte 0.1.0 ...
    """
    facts = info_dict()
    width = max(len(k) for k in facts)
    for key, value in facts.items():
        print(f"{key:<{width}}  {value}", file=file)
    return facts
