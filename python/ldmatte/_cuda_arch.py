"""Which GPUs this build's CUDA kernels run on, and a clear error for the others.

The extension carries machine code (SASS) for some architectures and PTX for others
(CMakeLists.txt; default sm_75, 80, 86, 89, 90 plus compute_90 PTX). A GPU runs

- SASS built for sm_XY when its compute capability is X.Z with Z >= Y (same major;
  arch-specific builds such as sm_90a only on X.Y itself), or
- PTX built for compute_XY, compiled by the driver, when its capability is >= X.Y.

PTX is never compiled down to an older GPU, so an sm_90-only build cannot run on an
A100. Without this check the first kernel launch fails with "no kernel image is
available for execution on the device"; with it, the first CUDA call on such a device
says which architectures the build has and how to rebuild.
"""
from __future__ import annotations

import dataclasses
import functools
import re
import sys

from . import _backend
from ._arrays import ArrayInfo, DeviceAdapter

__all__ = ["BuiltArchs", "built_archs", "check_device", "covers", "describe", "device_adapter"]

_ARCH = re.compile(r"^(\d+)([a-z]?)$")


@dataclasses.dataclass(frozen=True)
class BuiltArchs:
    """Architectures compiled into the extension, e.g. sass=("75", "80", "86", "89", "90"), ptx=("90",)."""

    sass: tuple
    ptx: tuple
    setting: str = ""

    def __str__(self) -> str:
        return describe(self)


def _parse(csv: str) -> tuple:
    items = tuple(a.strip() for a in csv.split(",") if a.strip())
    for a in items:
        if not _ARCH.match(a):
            raise ValueError(f"unreadable CUDA architecture {a!r} in {csv!r}")
    return items


@functools.lru_cache(maxsize=1)
def built_archs() -> BuiltArchs | None:
    """The architectures of this build, or None without the CUDA kernels (or with an older extension)."""
    mod = _backend.native()
    if mod is None or not hasattr(mod, "cuda_built_archs"):
        return None
    sass, ptx, setting = mod.cuda_built_archs()
    return BuiltArchs(_parse(sass), _parse(ptx), setting)


def describe(archs: BuiltArchs) -> str:
    """``"sm_75, sm_80, ... + PTX compute_90"``.

    Examples
    --------
    >>> from ldmatte._cuda_arch import BuiltArchs, describe
    >>> describe(BuiltArchs(("75", "80"), ("90",)))
    'sm_75, sm_80 + PTX compute_90'
    """
    parts = ", ".join(f"sm_{a}" for a in archs.sass) or "no machine code"
    return parts + (" + PTX " + ", ".join(f"compute_{a}" for a in archs.ptx) if archs.ptx else "")


def _split(arch: str) -> tuple[int, int, bool]:
    """("86") -> (8, 6, False); ("90a") -> (9, 0, True): major, minor, arch-specific."""
    num, suffix = _ARCH.match(arch).groups()
    value = int(num)
    return value // 10, value % 10, bool(suffix)


def covers(archs: BuiltArchs, capability: tuple[int, int]) -> str | None:
    """How a device of ``capability`` (major, minor) runs this build: ``"sm_86"`` (machine code),
    ``"compute_90 PTX"`` (compiled by the driver), or None when it cannot.

    Examples
    --------
    >>> from ldmatte._cuda_arch import BuiltArchs, covers
    >>> default = BuiltArchs(("75", "80", "86", "89", "90"), ("90",))
    >>> covers(default, (8, 6)), covers(default, (8, 7)), covers(default, (12, 0)), covers(default, (7, 0))
    ('sm_86', 'sm_86', 'compute_90 PTX', None)
    >>> covers(BuiltArchs(("90",), ("90",)), (8, 0)) is None  # PTX never runs on an older GPU
    True
    """
    major, minor = capability
    best = None
    for arch in archs.sass:
        a_major, a_minor, specific = _split(arch)
        fits = (a_major, a_minor) == (major, minor) if specific else a_major == major and a_minor <= minor
        if fits and (best is None or _split(best)[:2] < (a_major, a_minor)):
            best = arch
    if best is not None:
        return f"sm_{best}"
    for arch in sorted(archs.ptx, key=lambda a: _split(a)[:2], reverse=True):
        a_major, a_minor, specific = _split(arch)
        if ((a_major, a_minor) == (major, minor)) if specific else (a_major, a_minor) <= (major, minor):
            return f"compute_{arch} PTX"
    return None


def uncovered_message(archs: BuiltArchs, capability: tuple[int, int], name: str = "this GPU") -> str:
    major, minor = capability
    return (
        f"ldmatte's CUDA kernels were not built for {name} (compute capability {major}.{minor}, sm_{major}{minor}): "
        f"this build has {describe(archs)}, and PTX only runs on GPUs at least as new as it. Rebuild for it: "
        f"LDMATTE_CUDA_ARCHS='{major}{minor}-real' pip install --no-build-isolation . "
        "(or LDMATTE_CUDA_ARCHS=native for the GPUs of the building machine), or use backend='cpu'"
    )


@functools.lru_cache(maxsize=None)
def _checked(device_index: int) -> str:
    archs = built_archs()
    if archs is None:
        return "unknown"  # an extension without the list: the kernels' own launch errors remain
    mod = _backend.native()
    cc = int(mod.cuda_device_capability(int(device_index)))
    capability = (cc // 10, cc % 10)
    how = covers(archs, capability)
    if how is None:
        name = f"CUDA device {device_index}"
        torch = sys.modules.get("torch")  # the name only decorates the message: never import torch for it
        if torch is not None:
            try:
                name = f"{torch.cuda.get_device_name(device_index)} (CUDA device {device_index})"
            except Exception:  # noqa: BLE001
                pass
        raise _backend.BackendUnavailableError(uncovered_message(archs, capability, name))
    return how


def check_device(device_index: int) -> str:
    """Raise BackendUnavailableError when this build has no code for CUDA device ``device_index``;
    else return how it runs (``"sm_86"``, ``"compute_90 PTX"``). Cached per device (successes only)."""
    return _checked(int(device_index))


def device_adapter(x) -> DeviceAdapter:
    """The adapter of a device array, or of the stack an :class:`~ldmatte._arrays.ArrayInfo` describes.

    Every CUDA call passes here first: a GPU this build has no code for is refused with
    a clear message (:func:`check_device`, cached per device). It lives here, not in
    ``_arrays``, so that the array description stays below the device choice (no import cycle).
    """
    ad = DeviceAdapter(x.stack, x.kind) if isinstance(x, ArrayInfo) else DeviceAdapter(x)
    check_device(ad.device_index)
    return ad
