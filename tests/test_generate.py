"""Layer Diffusion generation on the CPU with tiny random-weight models: decoder, TTA, weights, pipeline, CLI."""
import doctest
import importlib
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")
pytest.importorskip("safetensors")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

import ldmatte  # noqa: E402
from ldmatte.generate.tiny_model import (TINY_DECODER_CONFIG, save_tiny_model, tiny_components,  # noqa: E402
                                         tiny_decoder_weights, tiny_unet_offset)
from ldmatte.generate import (  # noqa: E402
    DECODER_FILE,
    LayerDiffusionPipeline,
    TransparentDecoder,
    WeightsMismatchError,
    load_transparent_decoder,
    merge_unet_offset,
    tta_batched,
    tta_sequential,
)
from ldmatte.generate.decode import decode_transparent, rgba_to_uint8, vae_decode  # noqa: E402

SIZE = 64


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    # Tiny models gain nothing from intra-op threads, and on a busy 2-core machine
    # contended thread pools make them 10-50x slower.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("name", ["tta", "decode", "weights", "decoder", "dataset"])
def test_doctests(name):
    module = importlib.import_module(f"ldmatte.generate.{name}")
    assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0


# --- the decoder's architecture -------------------------------------------------------------------------


def _expected_unet1024_keys():
    """Parameter names and shapes of the published decoder, derived from its block structure."""
    ch = (32, 32, 64, 128, 256, 512, 512)
    keys = {"conv_in.weight": (32, 3, 3, 3), "conv_in.bias": (32,), "latent_conv_in.weight": (64, 4, 1, 1),
            "latent_conv_in.bias": (64,), "conv_norm_out.weight": (32,), "conv_norm_out.bias": (32,),
            "conv_out.weight": (4, 32, 3, 3), "conv_out.bias": (4,)}  # fmt: skip

    def resnet(prefix, cin, cout):
        for norm, c in (("norm1", cin), ("norm2", cout)):
            keys.update({f"{prefix}.{norm}.weight": (c,), f"{prefix}.{norm}.bias": (c,)})
        keys.update({f"{prefix}.conv1.weight": (cout, cin, 3, 3), f"{prefix}.conv1.bias": (cout,)})
        keys.update({f"{prefix}.conv2.weight": (cout, cout, 3, 3), f"{prefix}.conv2.bias": (cout,)})
        if cin != cout:
            keys.update({f"{prefix}.conv_shortcut.weight": (cout, cin, 1, 1), f"{prefix}.conv_shortcut.bias": (cout,)})

    def attention(prefix, c):
        keys.update({f"{prefix}.group_norm.weight": (c,), f"{prefix}.group_norm.bias": (c,)})
        for proj in ("to_q", "to_k", "to_v", "to_out.0"):
            keys.update({f"{prefix}.{proj}.weight": (c, c), f"{prefix}.{proj}.bias": (c,)})

    cin = ch[0]
    for i, c in enumerate(ch):  # down: 2 resnets, attention in the last three, conv downsampling but the last
        for j in range(2):
            resnet(f"down_blocks.{i}.resnets.{j}", cin if j == 0 else c, c)
            if i >= 4:
                attention(f"down_blocks.{i}.attentions.{j}", c)
        if i < 6:
            keys.update({f"down_blocks.{i}.downsamplers.0.conv.weight": (c, c, 3, 3),
                         f"down_blocks.{i}.downsamplers.0.conv.bias": (c,)})  # fmt: skip
        cin = c
    resnet("mid_block.resnets.0", 512, 512)
    resnet("mid_block.resnets.1", 512, 512)
    attention("mid_block.attentions.0", 512)
    rev = ch[::-1]
    # Skip connections, in the order conv_in and the down blocks (2 resnets + downsampler) push them.
    skips = [ch[0]] + sum(([ch[i]] * 2 + ([ch[i]] if i < 6 else []) for i in range(7)), [])
    prev = rev[0]
    for i, c in enumerate(rev):  # up: 3 resnets fed with skips, attention in the first three, conv upsampling
        for j in range(3):
            skip = skips.pop()
            resnet(f"up_blocks.{i}.resnets.{j}", (prev if j == 0 else c) + skip, c)
            if i < 3:
                attention(f"up_blocks.{i}.attentions.{j}", c)
        if i < 6:
            keys.update({f"up_blocks.{i}.upsamplers.0.conv.weight": (c, c, 3, 3),
                         f"up_blocks.{i}.upsamplers.0.conv.bias": (c,)})  # fmt: skip
        prev = c
    return keys


def test_decoder_state_dict_matches_the_published_structure():
    with torch.device("meta"):
        model = TransparentDecoder()
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    want = _expected_unet1024_keys()
    assert len(got) == len(want) == 538
    assert got == want
    assert sum(int(np.prod(s)) for s in got.values()) == 104_104_804
    assert not list(model.buffers())


def test_decoder_config_validation():
    with pytest.raises(ValueError, match="one down and one up block type"):
        TransparentDecoder(block_out_channels=(8, 8, 8), down_block_types=("DownBlock2D",) * 3,
                           up_block_types=("UpBlock2D",) * 3)  # fmt: skip


@pytest.fixture(scope="module")
def decoder():
    return load_transparent_decoder(tiny_decoder_weights(1), dtype=torch.float32, config=TINY_DECODER_CONFIG)


def test_decoder_forward_shapes_and_latent_path(decoder):
    px, z = torch.rand(2, 3, 32, 48), torch.randn(2, 4, 4, 6)
    y = decoder(px, z)
    assert y.shape == (2, 4, 32, 48) and y.dtype == torch.float32
    assert not torch.allclose(decoder(px, z + 1), y)  # the latent enters the network


# --- strict loading ---------------------------------------------------------------------------------------


def _load(sd):
    return load_transparent_decoder(sd, dtype=torch.float32, config=TINY_DECODER_CONFIG)


def test_strict_loading_errors():
    sd = tiny_decoder_weights()
    missing = dict(sd)
    del missing["latent_conv_in.weight"]
    with pytest.raises(WeightsMismatchError, match=r"1 missing key\(s\): latent_conv_in.weight") as err:
        _load(missing)
    assert err.value.missing == ["latent_conv_in.weight"] and not err.value.unexpected
    with pytest.raises(WeightsMismatchError, match=r"unexpected key\(s\): extra.weight"):
        _load({**sd, "extra.weight": torch.zeros(1)})
    shaped = {**sd, "conv_in.weight": torch.zeros(4, 3, 1, 1)}
    with pytest.raises(WeightsMismatchError, match=r"conv_in.weight \(4, 3, 1, 1\) \(model \(4, 3, 3, 3\)\)"):
        _load(shaped)
    with pytest.raises(WeightsMismatchError, match=r"538 missing"):  # tiny weights against the published model
        load_transparent_decoder({}, dtype=torch.float32)


def test_loading_from_files_and_folders(tmp_path):
    sd = tiny_decoder_weights(3)
    save_file(sd, str(tmp_path / DECODER_FILE))
    for spec in (tmp_path / DECODER_FILE, tmp_path, str(tmp_path)):
        model = load_transparent_decoder(spec, dtype=torch.float32, config=TINY_DECODER_CONFIG)
        assert all(torch.equal(v, sd[k]) for k, v in model.state_dict().items())
        assert not any(p.requires_grad for p in model.parameters()) and not model.training
    half = load_transparent_decoder(tmp_path, dtype=torch.float16, config=TINY_DECODER_CONFIG)
    assert next(half.parameters()).dtype == torch.float16
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.safetensors").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"not found in .*other \(it holds: x.safetensors\)"):
        load_transparent_decoder(tmp_path / "other", config=TINY_DECODER_CONFIG)
    with pytest.raises(FileNotFoundError, match="no such weight file"):
        load_transparent_decoder(tmp_path / "nope.safetensors", config=TINY_DECODER_CONFIG)


# --- test-time augmentation -------------------------------------------------------------------------------


class _Counting(torch.nn.Module):
    """A cheap, not rotation-equivariant model that counts its forward passes."""

    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.lat = torch.nn.Conv2d(4, 4, 1)
        self.calls = 0

    def forward(self, p, z):
        self.calls += 1
        h, w = p.shape[-2:]
        ramp = torch.linspace(-0.5, 1.5, w).expand(h, w)  # depends on orientation
        up = torch.nn.functional.interpolate(self.lat(z), size=(h, w), mode="nearest")
        return self.conv(p) + up + ramp


@pytest.mark.parametrize("shape", [(3, 32, 32), (2, 32, 48), (1, 16, 8)])
@pytest.mark.parametrize("sub_batch", [None, 5])
def test_tta_batched_equals_sequential_tiny_decoder(decoder, shape, sub_batch):
    b, h, w = shape
    g = torch.Generator().manual_seed(h * w + b)
    px, z = torch.rand(b, 3, h, w, generator=g), torch.randn(b, 4, h // 8, w // 8, generator=g)
    ref = tta_sequential(decoder, px, z)
    out = tta_batched(decoder, px, z, sub_batch=sub_batch)
    assert out.shape == ref.shape == (b, 4, h, w)
    assert float((out - ref).abs().max()) < 5e-5  # float32 rounding, far below one uint8 level
    assert 0 <= float(out.min()) and float(out.max()) <= 1


def test_tta_pass_counts_and_median_semantics():
    model = _Counting()
    px, z = torch.rand(2, 3, 16, 16), torch.randn(2, 4, 2, 2)
    out = tta_batched(model, px, z)
    assert model.calls == 1
    model.calls = 0
    tta_batched(model, torch.rand(2, 3, 16, 24), torch.randn(2, 4, 2, 3))
    assert model.calls == 2  # non-square: even and odd rotations apart
    model.calls = 0
    tta_batched(model, px, z, sub_batch=3)
    assert model.calls == 6  # 16 samples in passes of 3
    model.calls = 0
    ref = tta_sequential(model, px, z)
    assert model.calls == 16
    # torch.median semantics: the lower of the two middle values of 8, not their mean.
    from ldmatte.generate.tta import TRANSFORMS, forward_transform, inverse_transform

    stack = torch.stack([inverse_transform(model(forward_transform(px, f, k), forward_transform(z, f, k)).clip(0, 1),
                                           f, k) for f, k in TRANSFORMS])  # fmt: skip
    lower_middle = torch.sort(stack, dim=0).values[3]
    assert torch.allclose(ref, lower_middle, atol=1e-6) and torch.allclose(out, lower_middle, atol=1e-6)
    assert not torch.allclose(out, stack.mean(0), atol=1e-3)


@settings(max_examples=15, deadline=None)
@given(b=st.integers(1, 3), h=st.integers(1, 3), w=st.integers(1, 3), sub=st.one_of(st.none(), st.integers(1, 30)))
def test_tta_property_batched_equals_sequential(b, h, w, sub):
    model = _Counting(seed=b + h + w)
    g = torch.Generator().manual_seed(b * 100 + h * 10 + w)
    px, z = torch.rand(b, 3, 8 * h, 8 * w, generator=g), torch.randn(b, 4, h, w, generator=g)
    assert torch.allclose(tta_batched(model, px, z, sub), tta_sequential(model, px, z), atol=1e-6)


@pytest.mark.parametrize(
    "args, match",
    [
        ((torch.rand(1, 3, 16, 16), torch.rand(2, 4, 2, 2)), "same B"),
        ((torch.rand(1, 3, 16, 16), torch.rand(1, 4, 3, 2)), "8 times"),
        ((torch.rand(3, 16, 16), torch.rand(4, 2, 2)), "same B"),
    ],
)
def test_tta_validation(args, match):
    with pytest.raises(ValueError, match=match):
        tta_batched(_Counting(), *args)
    with pytest.raises(ValueError, match=match):
        tta_sequential(_Counting(), *args)


def test_tta_sub_batch_validation():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="sub_batch"):
            tta_batched(_Counting(), torch.rand(1, 3, 8, 8), torch.rand(1, 4, 1, 1), sub_batch=bad)
    with pytest.raises(TypeError):
        tta_batched(_Counting(), np.zeros((1, 3, 8, 8)), torch.rand(1, 4, 1, 1))


def test_decode_transparent_modes_and_uint8(decoder):
    px, z = torch.rand(2, 3, 32, 32), torch.randn(2, 4, 4, 4)
    batched = decode_transparent(decoder, px, z, "batched", sub_batch=4)
    sequential = decode_transparent(decoder, px, z, "sequential")
    single = decode_transparent(decoder, px, z, "none", sub_batch=1)
    assert batched.shape == sequential.shape == single.shape == (2, 32, 32, 4)
    assert float((batched - sequential).abs().max()) < 5e-5
    raw = decoder(px, z).clip(0, 1)
    assert torch.allclose(single[..., 3], raw[:, 0], atol=5e-5)  # channel 0 is alpha
    assert torch.allclose(single[..., :3], raw[:, 1:].movedim(1, -1), atol=5e-5)
    with pytest.raises(ValueError, match="tta must be one of"):
        decode_transparent(decoder, px, z, "fast")
    u8 = rgba_to_uint8(torch.tensor([-0.2, 0.0, 0.5, 0.999, 1.0, 1.5]))
    assert u8.dtype == torch.uint8 and u8.tolist() == [0, 0, 127, 254, 255, 255]  # truncation, as LayerDiffuse


class _FakeVAE:
    """float16 VAE whose decode overflows unless upcast."""

    def __init__(self):
        self.dtype, self.calls = torch.float16, []

    def to(self, dtype):
        self.dtype = dtype
        return self

    def decode(self, z):
        self.calls.append(self.dtype)
        sample = torch.full((z.shape[0], 3, 8 * z.shape[2], 8 * z.shape[3]), 0.5, dtype=self.dtype)
        if self.dtype == torch.float16:
            sample[:, :, 0, 0] = float("nan")
        return type("Out", (), {"sample": sample})()


def test_vae_decode_upcasts_overflowing_fp16():
    vae = _FakeVAE()
    pixel = vae_decode(vae, torch.zeros(3, 4, 2, 2), batch_size=2)
    assert pixel.shape == (3, 3, 16, 16) and pixel.dtype == torch.float32
    assert torch.isfinite(pixel).all() and torch.allclose(pixel, torch.full_like(pixel, 0.75))
    assert vae.calls == [torch.float16, torch.float32] * 2 and vae.dtype == torch.float16


# --- UNet offset --------------------------------------------------------------------------------------------


def test_merge_unet_offset(tmp_path):
    comps = tiny_components(tmp_path)
    unet = comps["unet"]
    base = {k: v.clone() for k, v in unet.state_dict().items()}
    offset = tiny_unet_offset(unet)
    assert merge_unet_offset(unet, offset) == len(offset) > 10
    after = unet.state_dict()
    for k, v in after.items():
        assert torch.equal(v, base[k] + offset[k]) if k in offset else torch.equal(v, base[k])
    key = next(iter(offset))
    for bad, match in (({"nope.weight": torch.zeros(1)}, "unexpected key"), ({key: torch.zeros(3)}, "mis-shaped")):
        with pytest.raises(WeightsMismatchError, match=match):
            merge_unet_offset(unet, {**offset, **bad})
        assert all(torch.equal(v, after[k]) for k, v in unet.state_dict().items())  # nothing changed
    half = torch.nn.Linear(3, 2).half()
    w = half.weight.clone()
    delta = torch.randn(2, 3)
    merge_unet_offset(half, {"weight": delta})
    assert torch.equal(half.weight, (w.float() + delta).half())


# --- the pipeline, end to end -------------------------------------------------------------------------------

PROMPTS = ["a woman with curly hair, high quality", "an elderly man, plain background", "a girl with a braid"]


def _pipeline(tmp_path, **kwargs):
    comps = tiny_components(tmp_path, seed=0)
    offset = tiny_unet_offset(comps["unet"], seed=0)
    dec = load_transparent_decoder(tiny_decoder_weights(0), dtype=torch.float32, config=TINY_DECODER_CONFIG)
    pipe = LayerDiffusionPipeline.from_components(**comps, decoder=dec, unet_offset=offset, **kwargs)
    pipe.sdxl.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    return _pipeline(tmp_path_factory.mktemp("tiny"))


def _run(pipe, prompts, seeds, **kwargs):
    return pipe(prompts, seeds=seeds, height=SIZE, width=SIZE, num_inference_steps=2, **kwargs)


@pytest.fixture(scope="module")
def batch3(pipe):
    return _run(pipe, PROMPTS, [11, 12, 13])


def test_pipeline_shapes_dtypes_and_refinement(batch3):
    res = batch3
    assert res.raw.shape == res.refined.shape == (3, SIZE, SIZE, 4)
    assert res.raw.dtype == res.refined.dtype == np.uint8
    assert res.seeds == [11, 12, 13] and set(res.timings) == {"diffusion", "vae", "decoder", "refine", "host"}
    assert len(res.reports) == 3 and all(isinstance(r, ldmatte.RefineReport) for r in res.reports)
    alpha = res.raw[..., 3]
    assert alpha.min() == 0 and alpha.max() == 255 and ((alpha > 0) & (alpha < 255)).any()
    refined, reports = ldmatte.refine(res.raw, return_report=True)
    assert np.array_equal(refined, res.refined) and reports == res.reports


def test_pipeline_same_seed_same_output_and_batch_equals_one_by_one(pipe, batch3):
    again = _run(pipe, PROMPTS, [11, 12, 13])
    assert np.array_equal(again.raw, batch3.raw) and np.array_equal(again.refined, batch3.refined)
    for i in (0, 2):
        one = _run(pipe, [PROMPTS[i]], [11 + i])
        diff = np.abs(one.raw[0].astype(int) - batch3.raw[i])
        # Batched convolutions round differently: at most one level, on few pixels.
        assert diff.max() <= 1 and (diff > 0).mean() < 0.01
    other = _run(pipe, [PROMPTS[0]], [99])
    assert np.abs(other.raw[0].astype(int) - batch3.raw[0]).mean() > 1


def test_pipeline_tta_modes_agree(tmp_path, batch3):
    seq = _run(_pipeline(tmp_path, tta="sequential"), PROMPTS[:1], [11], refine=False)
    assert seq.refined is None and seq.reports is None
    assert np.abs(seq.raw[0].astype(int) - batch3.raw[0]).max() <= 1
    single = _run(_pipeline(tmp_path, tta="none", sub_batch=1), PROMPTS[:1], [11], refine=False)
    assert single.raw.shape == (1, SIZE, SIZE, 4)


def test_pipeline_bf16_vae(tmp_path):
    res = _run(_pipeline(tmp_path, vae_dtype="bf16"), PROMPTS[:1], [5])
    assert res.raw.shape == (1, SIZE, SIZE, 4) and res.raw.dtype == np.uint8


def test_pipeline_offset_is_merged(tmp_path, pipe):
    base = tiny_components(tmp_path, seed=0)["unet"].state_dict()
    offset = tiny_unet_offset(pipe.sdxl.unet, seed=0)
    patched = pipe.sdxl.unet.state_dict()
    assert all(torch.equal(patched[k], base[k] + offset[k]) for k in offset)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"prompts": "a woman"}, TypeError, "list of strings"),
        ({"prompts": []}, TypeError, "list of strings"),
        ({"seeds": [1, 2]}, ValueError, "one seed"),
        ({"seeds": [-1]}, ValueError, "one seed"),
        ({"negative_prompt": ["a", "b"]}, ValueError, "negative_prompt"),
        ({"height": 60}, ValueError, "multiples of 8"),
    ],
)
def test_pipeline_validation(pipe, kwargs, exc, match):
    args = {"prompts": ["a woman"], "seeds": [1], "height": SIZE, "width": SIZE, "num_inference_steps": 1}
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        pipe(args.pop("prompts"), **args)


def test_pipeline_constructor_validation(tmp_path):
    from ldmatte.generate.pipeline import parse_dtype

    with pytest.raises(ValueError, match="tta must be one of"):
        _pipeline(tmp_path, tta="fast")
    assert parse_dtype("bf16") is torch.bfloat16 and parse_dtype(torch.float16) is torch.float16
    with pytest.raises(ValueError, match="dtype must be one of"):
        parse_dtype("int8")


# --- loading from disk and the CLI --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("saved"))


def test_from_pretrained_matches_components(saved_model, batch3):
    base, weights, config = saved_model
    pipe = LayerDiffusionPipeline.from_pretrained(
        str(base), str(weights), device="cpu", dtype="fp32", decoder_config=json.loads(config.read_text()),
        scheduler="model",
    )
    pipe.sdxl.set_progress_bar_config(disable=True)
    assert pipe.sdxl.vae.dtype == torch.float32 and type(pipe.sdxl.scheduler).__name__ == "EulerDiscreteScheduler"
    res = _run(pipe, PROMPTS[:1], [11])
    assert np.abs(res.raw[0].astype(int) - batch3.raw[0]).max() <= 1
    with pytest.raises(WeightsMismatchError, match=r"(?s)358 missing key.*179 mis-shaped"):  # tiny is not the published
        LayerDiffusionPipeline.from_pretrained(str(base), str(weights), device="cpu", dtype="fp32")


def _read_png(path):
    from ldmatte.io import read_rgba

    return read_rgba(path)[0]


def test_cli_generate_writes_resumes_and_reproduces(tmp_path, saved_model, capsys):
    from ldmatte.cli import main
    from ldmatte.dataset.manifest import read_lines as read_manifest
    from ldmatte.generate.dataset import image_seed
    from ldmatte.prompts import make_prompts, write_jsonl

    base, weights, config = saved_model
    prompts = tmp_path / "prompts.jsonl"
    write_jsonl(make_prompts(3, seed=0), prompts)
    out = tmp_path / "out"
    argv = ["generate", "--prompts", str(prompts), "--base-model", str(base), "--layerdiffuse-weights", str(weights),
            "--decoder-config", str(config), "-o", str(out), "--batch-size", "2", "--steps", "2", "--height", "64",
            "--width", "64", "--device", "cpu", "--seed", "7"]  # fmt: skip
    assert main(argv + ["--limit", "2"]) == 0
    lines = read_manifest(out / "manifest.jsonl")
    assert [r["id"] for r in lines] == ["s0-000000", "s0-000001"]
    assert main(argv) == 0  # resumes: only the third
    lines = read_manifest(out / "manifest.jsonl")
    assert [r["id"] for r in lines] == ["s0-000000", "s0-000001", "s0-000002"]
    first = lines[0]
    assert first["seed"] == image_seed(7, "s0-000000") and first["attributes"]["gender"] in ("female", "male")
    assert first["steps"] == 2 and first["dtype"] == "fp32" and "report" in first
    raw, refined = _read_png(out / first["raw"]), _read_png(out / first["refined"])
    assert raw.shape == (64, 64, 4) and np.array_equal(refined, ldmatte.refine(raw))
    assert "images/s" in capsys.readouterr().err
    # A torn manifest line (a crash mid-append) is redone, with the same seed, into the same image.
    before = _read_png(out / lines[2]["raw"])
    text = (out / "manifest.jsonl").read_text().splitlines(keepends=True)
    (out / "manifest.jsonl").write_text("".join(text[:2]) + text[2][:20])
    assert main(argv) == 0
    lines = read_manifest(out / "manifest.jsonl")
    assert [r["id"] for r in lines] == ["s0-000000", "s0-000001", "s0-000002"]
    assert np.array_equal(_read_png(out / lines[2]["raw"]), before)
    again = main(argv)
    assert again == 0 and "0 to generate" in capsys.readouterr().err
    assert len(read_manifest(out / "manifest.jsonl")) == 3
    assert not list(out.rglob("*.tmp*"))


def test_cli_generate_rejects_bad_ids_and_options(tmp_path, saved_model, capsys):
    from ldmatte.cli import main

    base, weights, _ = saved_model
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"id": "../evil", "prompt": "x"}) + "\n")
    argv = ["generate", "--prompts", str(prompts), "--base-model", str(base), "--layerdiffuse-weights", str(weights),
            "-o", str(tmp_path / "o"), "--device", "cpu"]  # fmt: skip
    with pytest.raises(ValueError, match="not usable as a file name"):
        main(argv)
    assert main(argv + ["--batch-size", "0"]) == 2


def test_from_pretrained_defaults_scheduler_and_dtypes(saved_model):
    base, weights, config = saved_model
    cfg = json.loads(config.read_text())
    pipe = LayerDiffusionPipeline.from_pretrained(str(base), str(weights), device="cpu", dtype="bf16", decoder_config=cfg)
    sched = pipe.sdxl.scheduler
    assert type(sched).__name__ == "DPMSolverMultistepScheduler" and sched.config.use_karras_sigmas
    assert sched.config.algorithm_type == "dpmsolver++"
    assert pipe.sdxl.unet.dtype == torch.bfloat16
    assert next(pipe.decoder.parameters()).dtype == torch.float32  # not the model's bf16
    half = LayerDiffusionPipeline.from_pretrained(str(base), str(weights), device="cpu", dtype="fp32",
                                                  decoder_config=cfg, decoder_dtype="fp16", scheduler="euler_a")
    assert next(half.decoder.parameters()).dtype == torch.float16
    assert type(half.sdxl.scheduler).__name__ == "EulerAncestralDiscreteScheduler"
    with pytest.raises(ValueError, match="scheduler must be one of"):
        LayerDiffusionPipeline.from_pretrained(str(base), str(weights), device="cpu", scheduler="fast")


@pytest.fixture(scope="module")
def fp16_only_model(tmp_path_factory):
    """The tiny SDXL saved with variant fp16 only (diffusion_pytorch_model.fp16.safetensors, ...)."""
    from diffusers import StableDiffusionXLPipeline

    root = tmp_path_factory.mktemp("variant")
    comps = tiny_components(root / "build")
    StableDiffusionXLPipeline(**comps, add_watermarker=False).save_pretrained(root / "base", variant="fp16")
    return root / "base"


def test_variant_is_passed_and_a_missing_variant_is_explained(fp16_only_model, saved_model, tmp_path, capsys):
    from ldmatte.cli import main
    from ldmatte.generate.weights import check_model_folder

    _, weights, config = saved_model
    assert (fp16_only_model / "unet" / "diffusion_pytorch_model.fp16.safetensors").exists()
    cfg = json.loads(config.read_text())
    with pytest.raises(FileNotFoundError, match=r"lacks plain \(no variant\) weights: unet holds only the "
                                                r"variant\(s\) fp16 .*pass variant fp16"):  # fmt: skip
        LayerDiffusionPipeline.from_pretrained(str(fp16_only_model), str(weights), device="cpu", dtype="fp32",
                                               decoder_config=cfg)  # fmt: skip
    pipe = LayerDiffusionPipeline.from_pretrained(str(fp16_only_model), str(weights), device="cpu", dtype="fp32",
                                                  decoder_config=cfg, variant="fp16")  # fmt: skip
    assert pipe.sdxl.unet.dtype == torch.float32
    with pytest.raises(FileNotFoundError, match=r"lacks variant 'bf16'.*holds only the variant\(s\) fp16"):
        check_model_folder(fp16_only_model, "bf16")
    check_model_folder(saved_model[0], "fp16")  # plain files serve a missing variant (diffusers falls back)
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"id": "a", "prompt": "x"}) + "\n")
    argv = ["generate", "--prompts", str(prompts), "--base-model", str(fp16_only_model), "--layerdiffuse-weights",
            str(weights), "--decoder-config", str(config), "-o", str(tmp_path / "o"), "--device", "cpu"]  # fmt: skip
    assert main(argv) == 2
    assert "--variant" in capsys.readouterr().err


def test_decode_sub_batch_bounded_by_free_memory(pipe, monkeypatch):
    import ldmatte.generate.pipeline as pipeline_mod

    calls = []

    def fake_auto(device, height, width, dtype, **kw):
        calls.append((str(device), height, width, dtype))
        return 3

    monkeypatch.setattr(pipeline_mod, "auto_sub_batch", fake_auto)
    assert pipe.sub_batch is None and pipe.decode_sub_batch(64, 96) == 3
    assert calls == [("cpu", 64, 96, torch.float32)]
    passes = []
    monkeypatch.setattr(pipeline_mod, "decode_transparent",
                        lambda dec, px, z, tta, sub: passes.append(sub) or decode_transparent(dec, px, z, tta, sub))
    _run(pipe, PROMPTS[:1], [11], refine=False)
    assert passes == [3]
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="sub_batch must be a positive int or None"):
            LayerDiffusionPipeline(pipe.sdxl, pipe.decoder, sub_batch=bad)
