"""ldmatte.keying against the plain references, on constructed cases, and its properties."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ldmatte import keying
from ldmatte.keying import (ChromakeyParams, ColorkeyParams, DespillParams, ObsParams, VlahosParams)
from ldmatte.reference import keying as ref
from ldmatte.reference.patterns import chessboard, spiral

GREEN, BLUE = (0, 255, 0), (0, 0, 255)
SCREEN_GREEN = (24, 178, 52)  # a camera's green screen, not the ideal one


def _images():
    """Random and adversarial (H, W, 3) uint8 images: flat colours, degenerate shapes, near-key noise."""
    rng = np.random.default_rng(7)
    out = {
        "random": rng.integers(0, 256, (23, 31, 3), dtype=np.uint8),
        "all_green": np.broadcast_to(np.uint8(GREEN), (9, 11, 3)).copy(),
        "all_0": np.zeros((8, 8, 3), np.uint8),
        "all_255": np.full((7, 9, 3), 255, np.uint8),
        "1xN": rng.integers(0, 256, (1, 17, 3), dtype=np.uint8),
        "Nx1": rng.integers(0, 256, (19, 1, 3), dtype=np.uint8),
        "1x1": np.array([[[12, 200, 40]]], np.uint8),
        "odd": rng.integers(0, 256, (13, 7, 3), dtype=np.uint8),
    }
    # Near the key colour: every ramp and threshold is crossed somewhere.
    near = np.clip(np.array(SCREEN_GREEN) + rng.normal(0, 40, (29, 33, 3)), 0, 255).astype(np.uint8)
    out["near_key"] = near
    board = chessboard(16, 16, 2)[..., None]
    out["chessboard"] = np.where(board, np.uint8((210, 160, 130)), np.uint8(SCREEN_GREEN)).astype(np.uint8)
    sp = spiral(21)[..., None]
    out["spiral"] = np.where(sp, np.uint8((90, 60, 40)), np.uint8((10, 240, 20))).astype(np.uint8)
    # Mixtures of a foreground colour with the key at every 1/16 step.
    t = np.linspace(0, 1, 17)[:, None, None]
    fg = rng.integers(0, 256, (1, 5, 3))
    out["mixtures"] = np.round(t * fg + (1 - t) * np.array(SCREEN_GREEN)).astype(np.uint8)
    return out


IMAGES = _images()
KEYS = [GREEN, SCREEN_GREEN, BLUE, (40, 60, 200)]


def _cases():
    """(method, params) pairs: defaults, hard keys, extreme settings."""
    return [
        ("chromakey", ChromakeyParams()), ("chromakey", ChromakeyParams(0.05, 0.0)),
        ("chromakey", ChromakeyParams(0.3, 0.5)), ("chromakey", ChromakeyParams(1.0, 1.0)),
        ("colorkey", ColorkeyParams()), ("colorkey", ColorkeyParams(0.1, 0.0)), ("colorkey", ColorkeyParams(0.4, 0.3)),
        ("obs", ObsParams()), ("obs", ObsParams(0.1, 0.3, 0.5)), ("obs", ObsParams(0.0, 0.001, 1.0)),
        ("vlahos", VlahosParams()), ("vlahos", VlahosParams(0.7, 0.1, 0.9)), ("vlahos", VlahosParams(1.3, 0.0, 0.5)),
    ]


def _reference_alpha(method, img, key_rgb, p):
    if method == "chromakey":
        return ref.chromakey_reference(img, key_rgb, p.similarity, p.blend)
    if method == "colorkey":
        return ref.colorkey_reference(img, key_rgb, p.similarity, p.blend)
    if method == "obs":
        return ref.obs_chromakey_reference(img, key_rgb, p.similarity, p.smoothness, p.spill)[0]
    screen = p.screen if p.screen != "auto" else ("green" if key_rgb[1] >= key_rgb[2] else "blue")
    return ref.vlahos_reference(img, key_rgb, screen, p.balance, p.clip_black, p.clip_white)


def _alpha(method, img, key_rgb, p, **kw):
    fn = {"chromakey": keying.chromakey, "colorkey": keying.colorkey, "obs": keying.obs_chromakey,
          "vlahos": keying.vlahos}[method]
    return fn(img, p, key_color=key_rgb, **kw)


def _vlahos_ok(method, key_rgb, p):
    """The colour-difference keyer refuses keys without a screen excess (tested apart)."""
    if method != "vlahos":
        return True
    s, a, b = (1, 0, 2) if key_rgb[1] >= key_rgb[2] else (2, 0, 1)
    return key_rgb[s] - p.balance * max(key_rgb[a], key_rgb[b]) > 0


# Integer chroma, float64 sums, the same rounding: the kernels agree with the references to the last
# bit on most machines. But the order of a sum, a fused multiply-add or a vectorised sqrt/division
# (which depend on the CPU's vector width: AVX2 vs AVX-512, and on torch's kernels) may move a value
# that sits on a rounding boundary by one level, anywhere in the image. So the bound is per pixel:
# every pixel within one level. A share of off-by-one pixels would decide on the image size and the
# machine (one pixel of a 23x31 image is 0.14 %). Where the computation is exact (integer chroma,
# hard thresholds, fully keyed backing and fully kept subject) other tests ask for equality.
def _assert_close(got, want, what):
    got, want = np.asarray(got).astype(np.int32), np.asarray(want).astype(np.int32)
    assert got.shape == want.shape, what
    diff = np.abs(got - want)
    bad = np.argwhere(diff > 1)
    assert not len(bad), f"{what}: {len(bad)} pixels off by more than one level, first at {tuple(bad[0])}: " \
                         f"{got[tuple(bad[0])]} != {want[tuple(bad[0])]}"


@pytest.mark.parametrize("method,params", _cases(), ids=lambda v: str(v) if isinstance(v, str) else "")
def test_keyers_match_reference(method, params):
    for name, img in IMAGES.items():
        for k in KEYS:
            if not _vlahos_ok(method, k, params):
                continue
            _assert_close(_alpha(method, img, k, params), _reference_alpha(method, img, k, params),
                          f"{method} {params} {name} key {k}")


@pytest.mark.parametrize("method", keying.METHODS)
def test_batch_equals_images_and_reference_with_auto_key(method):
    rng = np.random.default_rng(3)
    stack = np.stack([IMAGES["near_key"], np.clip(IMAGES["near_key"].astype(int) + rng.integers(-30, 30, (1, 1, 3)),
                                                  0, 255).astype(np.uint8), IMAGES["near_key"][::-1].copy()])
    p = keying.PARAMS[method]()
    fn = {"chromakey": keying.chromakey, "colorkey": keying.colorkey, "obs": keying.obs_chromakey,
          "vlahos": keying.vlahos}[method]
    batch = fn(stack, p)
    assert batch.shape == stack.shape[:3] and batch.dtype == np.uint8
    for i, img in enumerate(stack):
        k = keying.estimate_key_color(img)
        np.testing.assert_array_equal(batch[i], fn(img, p, key_color=k))
        _assert_close(batch[i], _reference_alpha(method, img, k, p), f"{method} batch image {i}")


def test_obs_spill_colour_matches_reference():
    for name, img in IMAGES.items():
        for p in (ObsParams(), ObsParams(0.2, 0.1, 0.6)):
            _, rgb = keying.obs_chromakey(img, p, key_color=SCREEN_GREEN, return_rgb=True)
            _assert_close(rgb, ref.obs_chromakey_reference(img, SCREEN_GREEN, p.similarity, p.smoothness, p.spill)[1],
                          f"obs rgb {name}")


@pytest.mark.parametrize("dp", [DespillParams(), DespillParams("green", 1.0, 0.0, 0.0),
                                DespillParams("blue", 0.3, 0.5, 0.0), DespillParams("green", 0.5, 1.0, 1.0),
                                DespillParams("green", 0.0, 0.2, -2.0)])
def test_despill_matches_reference(dp):
    for name, img in IMAGES.items():
        got = keying.despill(img, dp, key_color=SCREEN_GREEN)
        screen = "green" if dp.screen == "auto" else dp.screen
        _assert_close(got, ref.despill_reference(img, screen, dp.mix, dp.expand, dp.brightness), f"despill {name}")


# ---------------------------------------------------------------- constructed cases


def _fg_distance(method, fg, key_rgb):
    """The keyer's distance of the pure foreground colour from the key (its own scale)."""
    if method == "chromakey":
        u, v = ref.yuv_chroma_reference(np.array([[fg, key_rgb]], np.uint8))
        return float(np.sqrt(((u[0, 0] - u[0, 1]) ** 2 + (v[0, 0] - v[0, 1]) ** 2) / 130050.0))
    if method == "colorkey":
        return float(np.sqrt(sum((a - b) ** 2 for a, b in zip(fg, key_rgb)) / 195075.0))
    cr, cb = ref._cbcr(*(np.float64(c) / 255 for c in fg))
    kcr, kcb = ref._cbcr(*(np.float64(c) / 255 for c in key_rgb))
    return float(np.hypot(cr - kcr, cb - kcb))


@pytest.mark.parametrize("method", keying.METHODS)
@pytest.mark.parametrize("key_rgb", [GREEN, SCREEN_GREEN, BLUE])
def test_pure_backing_foreground_and_half_mix(method, key_rgb):
    """Backing -> 0, foreground -> 255, a 50 % mix -> about 128.

    The distance keyers get a ramp that ends just below the foreground's own distance (similarity
    ~0), so the half mix, at half the distance (chroma and RGB are linear in the mix), lands
    half-way up: 255 * 0.5 / 0.98 = 130. OBS shapes its ramp by ^1.5, so there the half mix
    lands at 255 * (0.5 / 0.98) ^ 1.5 = 93. Vlahos needs no tuning: the colour difference of
    the mix is exactly half the key's (grey has no green excess), so alpha is 127.5 -> 128.
    """
    fg = (128, 128, 128)  # grey: no screen excess, far from any key in chroma
    img = np.zeros((12, 30, 3), np.uint8)
    img[:] = key_rgb
    img[:, 20:] = fg
    img[:, 10:20] = np.floor((np.array(fg) + np.array(key_rgb)) / 2 + 0.5)
    if method == "vlahos":
        p, expected = VlahosParams(), 127.5
    else:
        d = _fg_distance(method, fg, key_rgb) * 0.98
        p = {"chromakey": ChromakeyParams(1e-6, d), "colorkey": ColorkeyParams(1e-6, d),
             "obs": ObsParams(0.0, d, 1.0)}[method]
        expected = 255 * (0.5 / 0.98) ** (1.5 if method == "obs" else 1.0)
    a = _alpha(method, img, key_rgb, p).astype(int)
    assert a[:, :9].max() == 0 and a[:, 21:].min() == 255
    half = a[:, 11:19]
    assert np.abs(half - expected).max() <= 4, f"{method}: half mix keyed to {half.min()}..{half.max()}"


def test_key_rgba_output_and_despill():
    img = np.zeros((16, 16, 3), np.uint8)
    img[:] = SCREEN_GREEN
    img[4:12, 4:12] = (230, 200, 120)  # green-tinted foreground
    out, k = keying.key(img, "chromakey", return_key_color=True)
    assert k == SCREEN_GREEN and out.shape == (16, 16, 4)
    assert out[8, 8, 3] == 255 and out[0, 0, 3] == 0
    assert out[8, 8, :3].tolist() == [230, 175, 120]  # G limited to (R + B) / 2
    plain = keying.key(img, "chromakey", despill_params=None)
    assert plain[8, 8, :3].tolist() == [230, 200, 120]
    obs = keying.key(img, "obs")
    np.testing.assert_array_equal(obs[..., 3], keying.obs_chromakey(img))


def test_estimate_key_color_ignores_the_subject_touching_the_frame():
    img = np.zeros((128, 96, 3), np.uint8)
    img[:] = SCREEN_GREEN
    img[40:, 10:86] = (200, 150, 120)  # a torso cut by the bottom edge, close to both sides
    rng = np.random.default_rng(0)
    noisy = np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)
    est = keying.estimate_key_color(noisy)
    assert np.abs(np.array(est) - SCREEN_GREEN).max() <= 2
    assert keying.estimate_key_color(np.stack([img, img])) == [SCREEN_GREEN, SCREEN_GREEN]


def test_parameter_objects_validate():
    with pytest.raises(ValueError, match="similarity"):
        ChromakeyParams(similarity=0)
    with pytest.raises(ValueError, match="blend"):
        ColorkeyParams(blend=-0.1)
    with pytest.raises(ValueError, match="smoothness"):
        ObsParams(smoothness=0)
    with pytest.raises(ValueError, match="clip_black"):
        VlahosParams(clip_black=0.6, clip_white=0.5)
    with pytest.raises(ValueError, match="screen"):
        DespillParams(screen="red")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ChromakeyParams().similarity = 0.5
    with pytest.raises(TypeError, match="ChromakeyParams"):
        keying.chromakey(IMAGES["random"], ObsParams())


def test_input_validation_messages():
    with pytest.raises(TypeError, match="dtype"):
        keying.chromakey(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="3 channels"):
        keying.chromakey(np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="key colour"):
        keying.chromakey(IMAGES["random"], key_color="#12345")
    with pytest.raises(ValueError, match="no green excess"):
        keying.vlahos(IMAGES["random"], key_color=(128, 128, 128))
    with pytest.raises(ValueError, match="backend"):
        keying.chromakey(IMAGES["random"], backend="gpu")
    with pytest.raises(ValueError, match="backend='cuda'"):
        keying.chromakey(IMAGES["random"], backend="cuda")
    with pytest.raises(ValueError, match="method"):
        keying.key(IMAGES["random"], "difference")


# ---------------------------------------------------------------- torch


@pytest.mark.parametrize("method", keying.METHODS)
def test_torch_cpu_in_torch_out_matches_numpy(method):
    torch = pytest.importorskip("torch")
    stack = np.stack([IMAGES["near_key"], IMAGES["near_key"][:, ::-1].copy()])
    t = torch.from_numpy(stack)
    p = keying.PARAMS[method]()
    out_t = keying.key(t, method, p)
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.uint8 and out_t.device.type == "cpu"
    # torch's CPU kernels and Numba's: the same formulas, vectorised differently (see _assert_close)
    _assert_close(out_t.numpy(), keying.key(stack, method, p), f"torch {method}")
    single = keying.key(t[0], method, p, key_color=SCREEN_GREEN)
    _assert_close(single.numpy(), keying.key(stack[0], method, p, key_color=SCREEN_GREEN), f"torch {method} single")
    forced = keying.key(t, method, p, backend="cpu")  # Numba on the host, handed back as torch
    assert isinstance(forced, torch.Tensor)
    np.testing.assert_array_equal(forced.numpy(), out_t.numpy())


@pytest.mark.parametrize("method,params", _cases(), ids=lambda v: str(v) if isinstance(v, str) else "")
def test_torch_matches_reference_on_adversarial_images(method, params):
    torch = pytest.importorskip("torch")
    for name, img in IMAGES.items():
        k = SCREEN_GREEN
        got = _alpha(method, torch.from_numpy(img), k, params)
        _assert_close(got.numpy(), _reference_alpha(method, img, k, params), f"torch {method} {name}")


def test_torch_despill_matches_reference():
    torch = pytest.importorskip("torch")
    for dp in (DespillParams(), DespillParams("blue", 0.3, 0.5, 1.0)):
        for name, img in IMAGES.items():
            got = keying.despill(torch.from_numpy(img), dp, key_color=SCREEN_GREEN).numpy()
            screen = "green" if dp.screen == "auto" else dp.screen
            _assert_close(got, ref.despill_reference(img, screen, dp.mix, dp.expand, dp.brightness), name)


# ---------------------------------------------------------------- properties

_pixels = st.lists(st.tuples(*[st.integers(0, 255)] * 3), min_size=1, max_size=24)


@settings(max_examples=60, deadline=None)
@given(px=_pixels, s1=st.floats(0.01, 0.9), s2=st.floats(0.01, 0.9), blend=st.floats(0.0, 0.5),
       method=st.sampled_from(["chromakey", "colorkey"]))
def test_alpha_falls_as_similarity_grows(px, s1, s2, blend, method):
    img = np.array([px], np.uint8)
    lo, hi = sorted((s1, s2))
    cls = ChromakeyParams if method == "chromakey" else ColorkeyParams
    a_lo = _alpha(method, img, SCREEN_GREEN, cls(lo, blend)).astype(int)
    a_hi = _alpha(method, img, SCREEN_GREEN, cls(hi, blend)).astype(int)
    assert (a_hi <= a_lo).all()


@settings(max_examples=60, deadline=None)
@given(px=_pixels, s1=st.floats(0.0, 0.9), s2=st.floats(0.0, 0.9), smooth=st.floats(0.001, 0.5))
def test_obs_alpha_falls_as_similarity_grows_and_rises_as_smoothness_shrinks(px, s1, s2, smooth):
    img = np.array([px], np.uint8)
    lo, hi = sorted((s1, s2))
    a_lo = keying.obs_chromakey(img, ObsParams(lo, smooth), key_color=GREEN).astype(int)
    a_hi = keying.obs_chromakey(img, ObsParams(hi, smooth), key_color=GREEN).astype(int)
    assert (a_hi <= a_lo).all()
    sharper = keying.obs_chromakey(img, ObsParams(lo, smooth / 2), key_color=GREEN).astype(int)
    assert (sharper >= a_lo).all()


@settings(max_examples=60, deadline=None)
@given(fg=st.tuples(*[st.integers(0, 255)] * 3), t1=st.floats(0, 1), t2=st.floats(0, 1))
def test_vlahos_alpha_monotone_along_a_mix_with_the_key(fg, t1, t2):
    """More foreground in a mix never lowers alpha (a foreground without green excess)."""
    r, g, b = fg
    g = min(g, max(r, b))  # no screen excess
    lo, hi = sorted((t1, t2))
    mix = lambda t: np.floor(t * np.array([r, g, b]) + (1 - t) * np.array(SCREEN_GREEN) + 0.5)  # noqa: E731
    img = np.array([[mix(lo), mix(hi)]], np.uint8)
    a = keying.vlahos(img, key_color=SCREEN_GREEN).astype(int)
    assert a[0, 1] >= a[0, 0] - 1  # uint8 rounding of the mixed colour can cost one level


@settings(max_examples=60, deadline=None)
@given(px=_pixels, mix=st.floats(0, 1), expand=st.floats(0, 1))
def test_despill_only_lowers_the_screen_channel(px, mix, expand):
    img = np.array([px], np.uint8)
    out = keying.despill(img, DespillParams("green", mix, expand), key_color=GREEN).astype(int)
    assert (out[..., 1] <= img[..., 1]).all()
    np.testing.assert_array_equal(out[..., [0, 2]], img[..., [0, 2]])
    assert (out[..., 1] <= np.maximum(img[..., 0], img[..., 2]).astype(int) + 1).all()  # green no longer dominates


# ---------------------------------------------------------------- GPU (torch CUDA, CuPy): run where a GPU is visible


def _cuda_torch():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU visible to torch")
    return torch


@pytest.mark.parametrize("method", keying.METHODS)
def test_torch_cuda_matches_numpy(method):
    torch = _cuda_torch()
    stack = np.stack([IMAGES["near_key"], IMAGES["near_key"][::-1].copy()])
    t = torch.from_numpy(stack).cuda()
    out = keying.key(t, method)
    assert out.device.type == "cuda" and out.dtype == torch.uint8
    np.testing.assert_array_equal(out.cpu().numpy(), keying.key(stack, method))
    forced = keying.key(t, method, backend="cpu")  # Numba on the host, handed back on the device
    assert forced.device.type == "cuda"
    np.testing.assert_array_equal(forced.cpu().numpy(), out.cpu().numpy())
    for name, img in IMAGES.items():
        got = keying.key(torch.from_numpy(img).cuda(), method, key_color=SCREEN_GREEN, backend="cuda")
        np.testing.assert_array_equal(got.cpu().numpy(), keying.key(img, method, key_color=SCREEN_GREEN), name)


def test_cupy_in_cupy_out():
    _cuda_torch()
    cupy = pytest.importorskip("cupy")
    img = IMAGES["near_key"]
    out = keying.key(cupy.asarray(img), "chromakey")
    assert isinstance(out, cupy.ndarray)
    np.testing.assert_array_equal(cupy.asnumpy(out), keying.key(img, "chromakey"))


# ---------------------------------------------------------------- unmix (the backing taken out of translucent pixels)


def test_unmix_matches_reference_and_recovers_the_foreground():
    rng = np.random.default_rng(5)
    for name, img in IMAGES.items():
        alpha = rng.integers(0, 256, img.shape[:2], dtype=np.uint8)
        alpha.flat[:: 7] = 0
        alpha.flat[3 :: 7] = 255
        got = keying.unmix(img, alpha, key_color=SCREEN_GREEN)
        _assert_close(got, ref.unmix_reference(img, alpha, SCREEN_GREEN), f"unmix {name}")
        torch = pytest.importorskip("torch")
        t = keying.unmix(torch.from_numpy(img), torch.from_numpy(alpha), key_color=SCREEN_GREEN)
        _assert_close(t.numpy(), got, f"torch unmix {name}")
    # A composite a F + (1 - a) K unmixes to F (within the rounding of the composite).
    fg = rng.integers(0, 256, (16, 16, 3)).astype(np.float64)
    a = rng.integers(64, 256, (16, 16)).astype(np.uint8)
    comp = np.round(a[..., None] / 255 * fg + (1 - a[..., None] / 255) * np.array(SCREEN_GREEN)).astype(np.uint8)
    back = keying.unmix(comp, a, key_color=SCREEN_GREEN).astype(int)
    assert np.abs(back - fg).max() <= 2
    with pytest.raises(ValueError, match="alpha must be"):
        keying.unmix(comp, a[:8])


def test_key_with_unmix_removes_the_backing_from_edges():
    # Grey (no green excess, the key's blue dominates the mix): the colour-difference alpha is exact (128).
    img = np.zeros((8, 24, 3), np.uint8)
    img[:] = SCREEN_GREEN
    img[:, 16:] = (128, 128, 128)
    img[:, 12:16] = np.round((np.array((128, 128, 128)) + np.array(SCREEN_GREEN)) / 2)
    plain = keying.key(img, "vlahos", key_color=SCREEN_GREEN)
    clean = keying.key(img, "vlahos", key_color=SCREEN_GREEN, unmix=True)
    assert np.array_equal(plain[..., 3], clean[..., 3])
    assert np.abs(clean[4, 13, :3].astype(int) - (128, 128, 128)).max() <= 2
    assert np.abs(plain[4, 13, :3].astype(int) - (128, 128, 128)).max() > 40


def test_the_comparison_bounds_each_pixel_whatever_the_image_size():
    # One pixel off by one on a 23x31 image (the AVX-512 case) passes; two levels anywhere fail.
    want = IMAGES["random"][..., 0].copy()
    got = want.astype(np.int32)
    got[5, 7] += 1 if want[5, 7] < 255 else -1
    _assert_close(got, want, "one level")
    got[0, 0] = int(want[0, 0]) + (2 if want[0, 0] < 254 else -2)
    with pytest.raises(AssertionError, match="1 pixels off by more than one level"):
        _assert_close(got, want, "two levels")
