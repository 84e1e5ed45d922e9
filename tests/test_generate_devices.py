"""Generation defaults that depend on the device, checked on the CPU by faking CUDA device properties:
precision by compute capability, the decoder's own dtype, the free-memory bound of the decode sub-batch,
the PNG scaling of LayerDiffuse, schedulers and the command-line options."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from ldmatte.generate import devices  # noqa: E402
from ldmatte.generate.decode import rgba_to_uint8  # noqa: E402
from ldmatte.generate.pipeline import DEFAULT_SCHEDULER, SCHEDULERS, make_scheduler, resolve_dtypes  # noqa: E402

GIB = 2**30


@pytest.fixture
def fake_gpu(monkeypatch):
    """A fake CUDA device 0 of a chosen compute capability; is_bf16_supported() always says True
    (as torch does for pre-Ampere GPUs when it counts emulation), so it must not decide."""
    state = {"cc": (8, 0), "free": 20 * GIB, "reserved": 0, "allocated": 0}
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: state["cc"])
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: f"Fake GPU sm_{state['cc'][0]}{state['cc'][1]}")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (state["free"], 80 * GIB))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: state["reserved"])
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: state["allocated"])
    return state


# --- precision ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cc, bf16", [((7, 0), False), ((7, 5), False), ((8, 0), True), ((8, 6), True),
                                      ((8, 9), True), ((9, 0), True), ((10, 0), True)])  # fmt: skip
def test_bf16_decided_by_compute_capability(fake_gpu, cc, bf16):
    fake_gpu["cc"] = cc
    assert devices.bf16_available("cuda") is bf16
    _, dtype, vae, decoder = resolve_dtypes("cuda", "fp16")
    assert dtype == torch.float16 and decoder == torch.float16
    assert vae == (torch.bfloat16 if bf16 else torch.float16)
    if bf16:
        assert resolve_dtypes("cuda", "bf16")[1:] == (torch.bfloat16, torch.bfloat16, torch.float16)
    else:
        for kwargs in ({"dtype": "bf16"}, {"vae_dtype": "bf16"}, {"decoder_dtype": "bf16"}):
            with pytest.raises(ValueError, match=r"bf16 needs a GPU of compute capability 8.0 or newer; Fake GPU"):
                resolve_dtypes("cuda", **kwargs)


def test_decoder_dtype_is_independent_of_the_model_dtype(fake_gpu):
    for dtype in ("fp16", "bf16", "fp32"):
        assert resolve_dtypes("cuda", dtype)[3] == torch.float16  # LayerDiffuse decodes in fp16
        assert resolve_dtypes("cpu", dtype)[3] == torch.float32
    assert resolve_dtypes("cuda", "bf16", decoder_dtype="fp32")[3] == torch.float32
    assert resolve_dtypes("cuda", "fp16", decoder_dtype="bf16")[3] == torch.bfloat16  # explicit, on sm_80
    assert resolve_dtypes("cuda", "fp32")[2] == torch.float32  # an fp32 model keeps an fp32 VAE
    assert resolve_dtypes("cuda", "fp16", vae_dtype="fp16")[2] == torch.float16
    assert resolve_dtypes("cpu", "fp32") == (torch.device("cpu"), torch.float32, torch.float32, torch.float32)


# --- the decode sub-batch, bounded by free memory ------------------------------------------------------------


def test_per_sample_estimate_scales_with_pixels_and_element_size():
    base = devices.decode_bytes_per_sample(1024, 1024, torch.float16)
    assert base == devices.DECODE_BYTES_PER_SAMPLE_1024_FP16 == int(0.8 * GIB)
    assert devices.decode_bytes_per_sample(1024, 1024, torch.float32) == 2 * base
    assert devices.decode_bytes_per_sample(512, 512, torch.float16) == base // 4
    assert devices.decode_bytes_per_sample(1024, 768, torch.bfloat16) == int(base * 0.75)


@pytest.mark.parametrize("free_gib, want", [(24, 21), (80, 70), (12, 10), (1, 1), (0.1, 1)])
def test_auto_sub_batch_from_faked_mem_get_info(fake_gpu, free_gib, want):
    fake_gpu["free"] = int(free_gib * GIB)
    assert devices.free_memory("cuda") == int(free_gib * GIB)
    assert devices.auto_sub_batch("cuda", 1024, 1024, torch.float16) == want
    # a batch of 4 images (32 samples) no longer decodes in one 25 GiB pass on a 24 GB card
    assert want * devices.decode_bytes_per_sample(1024, 1024, torch.float16) <= max(0.7 * free_gib * GIB, 0.8 * GIB)


def test_auto_sub_batch_counts_the_allocators_cached_memory(fake_gpu):
    fake_gpu.update(free=4 * GIB, reserved=10 * GIB, allocated=2 * GIB)  # 8 GiB cached, reusable
    assert devices.free_memory("cuda") == 12 * GIB
    assert devices.auto_sub_batch("cuda", 1024, 1024, torch.float16) == int(0.7 * 12 * GIB) // int(0.8 * GIB)


def test_auto_sub_batch_on_the_cpu(monkeypatch):
    pages = {"SC_AVPHYS_PAGES": 4 * GIB // 4096, "SC_PAGE_SIZE": 4096}
    monkeypatch.setattr(devices.os, "sysconf", lambda name: pages[name])
    assert devices.free_memory("cpu") == 4 * GIB
    assert devices.auto_sub_batch("cpu", 1024, 1024, torch.float32) == int(0.7 * 4 * GIB) // int(1.6 * GIB)

    def no_sysconf(name):
        raise ValueError(name)

    monkeypatch.setattr(devices.os, "sysconf", no_sysconf)
    assert devices.free_memory("cpu") is None and devices.auto_sub_batch("cpu", 64, 64, torch.float32) is None
    assert devices.auto_sub_batch("cpu", 64, 64, torch.float32, free_bytes=10**9) > 100


# --- PNG scaling: LayerDiffuse multiplies by 255 in float16 ---------------------------------------------------


def _layerdiffuse_png(y_fp16: torch.Tensor) -> np.ndarray:
    """The reference's formula, restated: ``(png * 255.0).detach().cpu().float().numpy().clip(0, 255)
    .astype(np.uint8)`` where ``png`` is the float16 decoder output."""
    return (y_fp16 * 255.0).detach().cpu().float().numpy().clip(0, 255).astype(np.uint8)


def _numpy_png(y: np.ndarray) -> np.ndarray:
    """The same in numpy float16 arithmetic (correctly rounded products), independent of torch."""
    return (y.astype(np.float16) * np.float16(255)).astype(np.float32).clip(0, 255).astype(np.uint8)


def test_png_scaling_matches_the_reference_on_random_and_every_fp16_value():
    g = torch.Generator().manual_seed(0)
    rand = (torch.rand(4, 64, 64, 4, generator=g) * 1.2 - 0.1).half()
    every = torch.arange(0, 0x3C01, dtype=torch.int16).view(torch.float16)  # every float16 in [0, 1]
    for y in (rand, every, torch.tensor([0.0, 1.0, 0.5, 0.50195, 0.99951, 1e-4, -0.0]).half()):
        got = rgba_to_uint8(y).numpy()
        assert np.array_equal(got, _layerdiffuse_png(y))
        assert np.array_equal(got, _numpy_png(y.numpy()))
    exact = (every.float() * 255).clip(0, 255).to(torch.uint8)
    off = (rgba_to_uint8(every).int() - exact.int()).numpy()
    assert set(np.unique(off)) == {0, 1} and 0.005 < (off == 1).mean() < 0.2  # one level up, sometimes
    f32 = torch.rand(1000, generator=g)
    assert torch.equal(rgba_to_uint8(f32), (f32 * 255).clip(0, 255).to(torch.uint8))  # float32 in float32
    bf = torch.rand(1000, generator=g).bfloat16()
    assert torch.equal(rgba_to_uint8(bf), (bf.float() * 255).clip(0, 255).to(torch.uint8))


# --- schedulers and options -----------------------------------------------------------------------------------


def test_schedulers():
    from diffusers import EulerDiscreteScheduler

    base = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear").config
    karras = make_scheduler("dpmpp_2m_karras", base)
    assert type(karras).__name__ == "DPMSolverMultistepScheduler" and DEFAULT_SCHEDULER == "dpmpp_2m_karras"
    assert karras.config.use_karras_sigmas and karras.config.algorithm_type == "dpmsolver++"
    assert karras.config.solver_order == 2 and karras.config.beta_end == 0.012  # the base model's betas kept
    plain = make_scheduler("dpmpp_2m", base)
    assert not plain.config.use_karras_sigmas and plain.config.algorithm_type == "dpmsolver++"
    karras.set_timesteps(25)
    plain.set_timesteps(25)
    assert not torch.allclose(karras.sigmas, plain.sigmas)  # Karras spacing
    for name in SCHEDULERS[:-1]:
        assert make_scheduler(name, base) is not None
    with pytest.raises(ValueError, match="scheduler must be one of"):
        make_scheduler("dpm_fast", base)


def test_cli_options_match_the_library(capsys):
    from ldmatte.cli import main
    from ldmatte.cli._generation_options import DEFAULT_SCHEDULER as CLI_DEFAULT
    from ldmatte.cli._generation_options import SCHEDULER_CHOICES

    assert tuple(SCHEDULER_CHOICES) == tuple(SCHEDULERS) and CLI_DEFAULT == DEFAULT_SCHEDULER
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for needle in ("--variant", "--decoder-dtype", "default dpmpp_2m_karras", "compute capability 8.0",
                   "bounded by the free memory"):  # fmt: skip
        assert needle in text, needle
