"""The CUDA build: architectures present in the extension, the coverage rule, the error on uncovered GPUs.

The architecture check reads the built extension with ``cuobjdump --list-elf/--list-ptx``
where the CUDA toolkit has it, else reads the fatbinary headers directly (magic
0xBA55ED50; each entry: kind 1 = PTX, 2 = ELF machine code, and its sm version). It
runs wherever the extension was built with the CUDA kernels; no GPU is needed.
"""
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import ldmatte
from ldmatte import _backend, _cuda_arch
from ldmatte._cuda_arch import BuiltArchs, covers

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SASS = ("75", "80", "86", "89", "90")


def _pyproject_default() -> str:
    text = (ROOT / "pyproject.toml").read_text()
    return re.search(r'CMAKE_CUDA_ARCHITECTURES = \{ env = "LDMATTE_CUDA_ARCHS", default = "([^"]+)" \}', text).group(1)


def test_default_architectures_in_pyproject_and_cmake():
    default = _pyproject_default()
    assert default == "75-real;80-real;86-real;89-real;90-real;90-virtual"
    assert f'set(LDMATTE_DEFAULT_CUDA_ARCHS "{default}")' in (ROOT / "CMakeLists.txt").read_text()


# --- which device runs which build (no GPU needed) -------------------------------------------------------------


@pytest.mark.parametrize("cc, how", [((7, 5), "sm_75"), ((8, 0), "sm_80"), ((8, 6), "sm_86"), ((8, 7), "sm_86"),
                                     ((8, 9), "sm_89"), ((9, 0), "sm_90"), ((10, 0), "compute_90 PTX"),
                                     ((12, 0), "compute_90 PTX"), ((7, 0), None), ((6, 1), None)])  # fmt: skip
def test_coverage_of_the_default_build(cc, how):
    assert covers(BuiltArchs(DEFAULT_SASS, ("90",)), cc) == how


def test_coverage_rules():
    sm90_only = BuiltArchs(("90",), ("90",))
    assert covers(sm90_only, (8, 0)) is None and covers(sm90_only, (8, 9)) is None  # the old default's failure
    assert covers(BuiltArchs((), ("80",)), (8, 6)) == "compute_80 PTX"
    assert covers(BuiltArchs(("90a",), ()), (9, 0)) == "sm_90a" and covers(BuiltArchs(("90a",), ()), (10, 0)) is None
    assert covers(BuiltArchs(("80", "86"), ()), (8, 9)) == "sm_86"  # the newest compatible machine code
    assert covers(BuiltArchs(("86",), ()), (8, 0)) is None  # machine code never runs on an older minor


class _FakeNative:
    def __init__(self, cc, sass="75,80,86,89,90", ptx="90"):
        self.cc, self.archs = cc, (sass, ptx, sass)

    def cuda_built(self):
        return True

    def cuda_built_archs(self):
        return self.archs

    def cuda_device_capability(self, index):
        return self.cc


@pytest.fixture
def fake_native(monkeypatch):
    def install(cc, **kw):
        mod = _FakeNative(cc, **kw)
        monkeypatch.setattr(_backend, "native", lambda: mod)
        _cuda_arch.built_archs.cache_clear()
        _cuda_arch._checked.cache_clear()
        return mod

    yield install
    _cuda_arch.built_archs.cache_clear()
    _cuda_arch._checked.cache_clear()


def test_clear_error_on_a_device_the_build_does_not_cover(fake_native):
    fake_native(70)
    with pytest.raises(_backend.BackendUnavailableError) as err:
        _cuda_arch.check_device(0)
    msg = str(err.value)
    for needle in ("compute capability 7.0", "sm_70", "sm_75, sm_80, sm_86, sm_89, sm_90 + PTX compute_90",
                   "LDMATTE_CUDA_ARCHS='70-real'", "native", "backend='cpu'"):  # fmt: skip
        assert needle in msg, needle
    fake_native(80, sass="90", ptx="90")  # the old default on an A100
    with pytest.raises(_backend.BackendUnavailableError, match=r"compute capability 8.0.*sm_90 \+ PTX compute_90"):
        _cuda_arch.check_device(0)
    fake_native(86)
    assert _cuda_arch.check_device(0) == "sm_86"
    fake_native(120)
    assert _cuda_arch.check_device(1) == "compute_90 PTX"


# --- the built extension ------------------------------------------------------------------------------------------

needs_cuda_build = pytest.mark.skipif(
    not _backend.cuda_built() or not hasattr(_backend.native(), "cuda_built_archs"),
    reason="the extension was built without the CUDA kernels (or before it listed its architectures)",
)


def _fatbin_archs(path) -> list[tuple[set, set]]:
    """(ELF sm versions, PTX sm versions) of every fatbinary embedded in a shared object."""
    data = Path(path).read_bytes()
    found, pos = [], 0
    magic = struct.pack("<I", 0xBA55ED50)
    while (start := data.find(magic, pos)) >= 0:
        _version, header, size = struct.unpack_from("<HHQ", data, start + 4)
        elf, ptx = set(), set()
        off, end = start + header, start + header + size
        while off + 32 <= end:
            kind, _v, entry_header, padded = struct.unpack_from("<HHIQ", data, off)
            sm = struct.unpack_from("<I", data, off + 28)[0]
            if kind not in (1, 2) or entry_header < 32:
                break
            (ptx if kind == 1 else elf).add(str(sm))
            off += entry_header + padded
        found.append((elf, ptx))
        pos = start + 4
    return found


def _cuobjdump_archs(tool, path) -> tuple[set, set]:
    def listed(flag):
        out = subprocess.run([tool, flag, str(path)], capture_output=True, text=True, timeout=120, check=True).stdout
        return {m.group(1) for m in re.finditer(r"\.sm_(\d+[a-z]?)\.(?:cubin|ptx)", out)}

    return listed("--list-elf"), listed("--list-ptx")


@needs_cuda_build
def test_built_extension_holds_the_reported_architectures():
    so = _backend.native().__file__
    archs = _cuda_arch.built_archs()
    assert archs.sass or archs.ptx
    tool = shutil.which("cuobjdump") or next(
        (str(p) for p in (Path(sys.prefix) / "bin", Path("/usr/local/cuda/bin")) if (p / "cuobjdump").exists()), None
    )
    if tool:
        elf, ptx = _cuobjdump_archs(tool, so)
        assert elf == set(archs.sass) and ptx == set(archs.ptx), (elf, ptx, archs)
    units = _fatbin_archs(so)
    assert units, f"no CUDA fatbinary found in {so}"
    for elf, ptx in units:  # every kernel source was compiled for every architecture
        assert elf == set(archs.sass) and ptx == set(archs.ptx), (elf, ptx, archs)
    if archs.setting.replace(",", ";") == _pyproject_default():
        assert archs.sass == DEFAULT_SASS and archs.ptx == ("90",)


@needs_cuda_build
def test_info_lists_the_built_architectures():
    facts = ldmatte._info.info_dict()
    assert facts["cuda_archs"] == str(_cuda_arch.built_archs())
