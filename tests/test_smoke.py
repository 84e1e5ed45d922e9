import numpy as np

import ldmatte
from ldmatte.cli import main


def test_info_runs(capsys):
    facts = ldmatte.info()
    assert facts["ldmatte"] == ldmatte.__version__
    assert facts["native_extension"] is True
    assert "cuda_built" in capsys.readouterr().out


def test_cli_info_json(capsys):
    assert main(["info", "--json"]) == 0
    assert '"cpu_backend": "numba"' in capsys.readouterr().out


def test_public_api_round_trip():
    a = np.zeros((9, 9), np.uint8)
    a[1:6, 1:6] = 255
    a[3, 3] = 128
    out, rep = ldmatte.refine_alpha(a, return_report=True)
    assert out[3, 3] == 255 and rep.interior_components == 1
