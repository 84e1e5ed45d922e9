import os
import pathlib

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# The real Layer Diffusion samples live beside the project, never inside it.
DATA_DIR = pathlib.Path(os.environ.get("LDMATTE_DATA", ROOT.parent / "shared" / "data" / "layerdiffuse"))


def real_sample_paths():
    return sorted(DATA_DIR.glob("*.png")) if DATA_DIR.is_dir() else []


@pytest.fixture(scope="session")
def data_dir():
    if not DATA_DIR.is_dir():
        pytest.skip(f"real Layer Diffusion samples not found at {DATA_DIR} (set LDMATTE_DATA)")
    return DATA_DIR


@pytest.fixture(scope="session")
def real_rgba_samples(data_dir):
    """``[(stem, RGBA)]`` of the real RGBA samples, read once (``ldmatte.reference.patterns.real_rgba``)."""
    from ldmatte.reference.patterns import real_rgba

    return real_rgba(data_dir)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def _gpu_ready() -> bool:
    try:
        from ldmatte import _backend

        return _backend.cuda_usable()
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
    if _gpu_ready():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU and the CUDA build")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def read_only_folder(tmp_path, monkeypatch):
    """``tmp_path / "ro"``, a folder where making any folder fails as on a read-only file system (EROFS)."""
    import errno

    root = tmp_path / "ro"
    real = os.makedirs

    def makedirs(path, *args, **kwargs):
        if str(path).startswith(str(root)):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "makedirs", makedirs)
    return root
