"""The statistics contract: one order for Python, the Numba kernels, the native module and the report."""
import dataclasses
import subprocess
import sys

import numpy as np
import pytest

import ldmatte
from ldmatte import _backend, _stats
from ldmatte.reference.caar import STAT_FIELDS as REFERENCE_FIELDS


def test_names_and_indices_agree():
    assert len(set(_stats.STAT_FIELDS)) == _stats.N_STATS == 12
    for i, name in enumerate(_stats.STAT_FIELDS):
        assert getattr(_stats, name.upper()) == i


def test_report_and_reference_speak_the_contract():
    report_fields = [f.name for f in dataclasses.fields(ldmatte.RefineReport)][2:]  # after height, width
    assert tuple(report_fields) == _stats.STAT_FIELDS
    assert REFERENCE_FIELDS is _stats.STAT_FIELDS


def test_native_module_reports_the_same_order():
    native = _backend.native()
    if native is None:
        pytest.skip("the native extension is not built in this install")
    assert tuple(native.stat_fields()) == _stats.STAT_FIELDS


def test_kernel_statistics_land_in_their_named_slots():
    a = np.zeros((9, 9), np.uint8)
    a[1:6, 1:6] = 255
    a[3, 3] = 128  # an interior pinhole, raised
    a[7, 7] = 40  # floating haze, lowered
    _, stats = ldmatte.refine_alpha(a, return_report=True)
    from ldmatte._kernels.caar import refine_alpha_batch  # noqa: PLC0415

    _, raw = refine_alpha_batch(a[None], ldmatte.RefineParams())
    assert raw[0, _stats.INTERIOR_COMPONENTS] == stats.interior_components == 1
    assert raw[0, _stats.FLOATING_COMPONENTS] == stats.floating_components == 1


def test_import_ldmatte_does_not_import_the_references():
    code = (
        "import ldmatte, sys; "
        "assert not any(m.startswith('ldmatte.reference') for m in sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
