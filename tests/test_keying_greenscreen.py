"""``ldmatte build greenscreen``: plain SDXL (the tiny random-weight model) over a green screen, keyed, QC'd, written."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("diffusers")
torch = pytest.importorskip("torch")

from ldmatte.cli import main  # noqa: E402
from ldmatte.generate.tiny_model import save_tiny_model  # noqa: E402


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    base, _, _ = save_tiny_model(tmp_path_factory.mktemp("tiny"))
    return base


@pytest.fixture
def prompts(tmp_path):
    p = tmp_path / "prompts.jsonl"
    p.write_text("".join(json.dumps({"id": f"p{i}", "prompt": f"portrait of a person {i}"}) + "\n" for i in range(3)))
    return p


@pytest.mark.slow
def test_source_generates_the_same_seeds_and_keys(tiny_base, prompts):
    from ldmatte.dataset.gs_source import GreenScreenSource
    from ldmatte.generate.dataset import image_seed
    from ldmatte.prompts import read_jsonl

    src = GreenScreenSource(read_jsonl(str(prompts)), str(tiny_base), method="chromakey", key_color="#00ff00",
                            steps=2, batch_size=2, device="cpu", dtype="fp32", height=64, width=64)
    items = list(src.produce(src.ids()))
    assert [i.id for i in items] == ["p0", "p1", "p2"] and all(i.error is None for i in items)
    assert all(i.rgba.shape == (64, 64, 4) and i.rgba.dtype == np.uint8 for i in items)
    assert items[0].meta["seed"] == image_seed(0, "p0")
    assert items[0].meta["generation_prompt"].endswith("chroma key studio, evenly lit")
    assert items[0].refined is items[0].rgba and items[0].report is None  # written as keyed
    again = list(src.produce(["p1"]))[0]  # a sample does not depend on its batch (up to float noise of CPU matmuls)
    diff = np.abs(again.rgba.astype(int) - items[1].rgba)
    assert diff[..., :3].max() <= 2 and diff[..., 3].mean() < 1


@pytest.mark.slow
def test_build_greenscreen_cli(tiny_base, prompts, tmp_path, capsys):
    out = tmp_path / "gs"
    argv = ["build", "greenscreen", "--prompts", str(prompts), "--base-model", str(tiny_base), "--steps", "2",
            "--height", "64", "--width", "64", "--device", "cpu", "--batch-size", "3", "--method", "vlahos",
            "--key-color", "#20b040", "-o", str(out), "--no-progress"]
    assert main(argv) in (0, 1)
    lines = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in lines) == ["p0", "p1", "p2"]
    assert all(r["model"]["keyer"]["method"] == "vlahos" and r["key_color"] == "#20b040" for r in lines)
    assert main(argv) in (0, 1)  # a rerun resumes: nothing new
    assert len((out / "manifest.jsonl").read_text().splitlines()) == 3
    assert main(argv[:-3] + ["--similarity", "0.1", "-o", str(tmp_path / "x"), "--no-progress"]) == 2
    assert "has no --similarity" in capsys.readouterr().err
