"""ldmatte.matting models and predictor: presets, safetensors round trip, --init, known regions, any size."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from ldmatte.matting import PRESETS, build_model, load_model, load_predictor, model_config, save_model  # noqa: E402
from ldmatte.matting.predictor import Predictor  # noqa: E402


def test_import_ldmatte_does_not_import_torch():
    code = ("import sys, ldmatte, ldmatte.matting, ldmatte.matting.evaluate, ldmatte.matting.benchmarks, "
            "ldmatte.cli.eval_cmd, ldmatte.cli.train_cmd, ldmatte.cli.predict_cmd; "
            "bad = [m for m in ('torch', 'transformers') if m in sys.modules]; "
            "print(bad); sys.exit(bool(bad))")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_small_preset_is_vitmatte_s():
    cfg = model_config("vitmatte-small")
    bb = cfg.backbone_config
    assert (bb.hidden_size, bb.num_hidden_layers, bb.num_attention_heads, bb.patch_size) == (384, 12, 6, 16)
    assert bb.window_size == 14 and list(bb.window_block_indices) == [0, 1, 3, 4, 6, 7, 9, 10]
    assert list(bb.residual_block_indices) == [2, 5, 8, 11] and bb.use_relative_position_embeddings
    assert bb.num_channels == 4 and list(cfg.fusion_hidden_sizes) == [256, 128, 64, 32]
    tiny = model_config("vitmatte-tiny").backbone_config
    assert tiny.model_type == bb.model_type == "vitdet" and tiny.num_hidden_layers < 12 and tiny.hidden_size < 384


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    model = build_model("vitmatte-tiny", seed=0)
    folder = tmp_path_factory.mktemp("ckpt") / "tiny"
    save_model(model, folder)
    return model, folder


def test_save_load_round_trip(tiny):
    model, folder = tiny
    assert sorted(os.listdir(folder)) == ["config.json", "model.safetensors"]
    again = load_model(folder)
    for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), k
    from transformers import VitMatteForImageMatting

    hf = VitMatteForImageMatting.from_pretrained(folder)
    assert torch.equal(hf.state_dict()["decoder.matting_head.matting_convs.3.weight"],
                       model.state_dict()["decoder.matting_head.matting_convs.3.weight"])  # fmt: skip


def test_init_loads_weights_and_refuses_others(tiny, tmp_path):
    model, folder = tiny
    other = build_model("vitmatte-tiny", init=folder, seed=123)
    key = "backbone.embeddings.projection.weight"
    assert torch.equal(other.state_dict()[key], model.state_dict()[key])
    narrow = json.loads((folder / "config.json").read_text())
    narrow["hidden_size"] = narrow["backbone_config"]["hidden_size"] = 32  # another architecture
    (tmp_path / "narrow").mkdir()
    (tmp_path / "narrow" / "config.json").write_text(json.dumps(narrow))
    with pytest.raises(ValueError, match="do not fit"):
        build_model(str(tmp_path / "narrow"), init=folder)
    (tmp_path / "config.json").write_text((folder / "config.json").read_text())
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ValueError, match="safetensors"):
        build_model("vitmatte-tiny", init=tmp_path)
    with pytest.raises(ValueError, match="not a ViTMatte config|vitmatte-small"):
        build_model(str(tmp_path / "missing"))


def test_predictor_enforces_known_regions_any_size(tiny):
    model, folder = tiny
    pred = load_predictor(folder, "cpu", batch_size=2)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 37, 53, 3), dtype=np.uint8)  # odd sizes: padded to 64 inside
    tri = np.full((3, 37, 53), 128, np.uint8)
    tri[:, :10] = 0
    tri[:, -10:] = 255
    tri[:, 15, 5:9] = 77  # not 0/255: unknown
    alpha = pred.predict(images, tri)
    assert alpha.shape == (3, 37, 53) and alpha.dtype == np.uint8
    assert (alpha[:, :10] == 0).all() and (alpha[:, -10:] == 255).all()
    single = pred.predict(images[1], tri[1])  # one (H, W, 3) image
    np.testing.assert_array_equal(single[0], alpha[1])
    with pytest.raises(ValueError, match="trimaps must be"):
        pred.predict(images, tri[:, :5])
    with pytest.raises(TypeError, match="uint8"):
        pred.predict(images.astype(np.float32), tri)


def test_load_predictor_errors(tmp_path):
    with pytest.raises(ValueError, match="neither a training run"):
        load_predictor(tmp_path, "cpu")
    (tmp_path / "run.json").write_text(json.dumps({}))
    with pytest.raises(ValueError, match="without a checkpoint"):
        load_predictor(tmp_path, "cpu")


def test_presets_listed():
    assert set(PRESETS) == {"vitmatte-small", "vitmatte-tiny"}
    assert isinstance(Predictor, type)
