"""Device choice: one function, one meaning of "auto"."""
import numpy as np
import pytest

from ldmatte import _backend
from ldmatte._backend import BackendUnavailableError, resolve_device


def test_cpu_is_always_cpu():
    assert resolve_device("cpu") == "cpu"


@pytest.mark.parametrize("bad", ["graphics", "CUDA", "", None, 0])
def test_unknown_choice_is_a_value_error(bad):
    with pytest.raises(ValueError, match="device must be one of"):
        resolve_device(bad)


def test_without_a_usable_gpu(monkeypatch):
    monkeypatch.setattr(_backend, "cuda_unavailable_reason", lambda: "no CUDA GPU is visible")
    assert resolve_device("auto") == "cpu"
    with pytest.raises(BackendUnavailableError, match="no CUDA GPU is visible"):
        resolve_device("cuda")
    # host data stays on the host under "auto"; "cuda" is refused with the same reason
    assert _backend.select_backend(np.zeros((2, 2), np.uint8), "auto") == "cpu"
    with pytest.raises(BackendUnavailableError, match="no CUDA GPU is visible"):
        _backend.select_backend(np.zeros((2, 2), np.uint8), "cuda")


def test_with_a_usable_gpu(monkeypatch):
    monkeypatch.setattr(_backend, "cuda_unavailable_reason", lambda: None)
    assert resolve_device("auto") == "cuda"
    assert resolve_device("cuda") == "cuda"
    # host data under "auto" still runs where it is
    assert _backend.select_backend(np.zeros((2, 2), np.uint8), "auto") == "cpu"


def test_this_machine_agrees_with_cuda_usable():
    assert (resolve_device("auto") == "cuda") == _backend.cuda_usable()
