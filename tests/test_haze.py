"""A hazy background is background: the haze step of refine / refine_alpha (``ldmatte._haze``)."""
from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

import ldmatte
from ldmatte import RefineParams, _haze, synth
from ldmatte._kernels.caar import refine_alpha_batch
from ldmatte.cli import main
from ldmatte.io import read_rgba, write_png_atomic
from ldmatte.reference.caar import refine_alpha_reference

SIZE = 96


def with_floor(alpha: np.ndarray, floor) -> np.ndarray:
    """The subject over a translucent layer of ``floor`` (a level or an (H, W) map): h + a (255 - h) / 255."""
    h = np.asarray(floor, np.float64)
    return np.round(h + alpha.astype(np.float64) * (255.0 - h) / 255.0).astype(np.uint8)


def gradient(height, width, top, bottom):
    return np.broadcast_to(np.linspace(top, bottom, height)[:, None], (height, width))


@pytest.fixture(scope="module")
def portrait():
    """A synthetic portrait (realistic artifacts): raw RGBA and ground truth."""
    return synth.make_sample(3, SIZE)


def estimate(a: np.ndarray, **kw) -> _haze.HazeFloor:
    ys, xs = _haze.frame_coordinates(*a.shape)
    params = RefineParams(**kw)
    return _haze.estimate_floor(a[ys, xs], ys, xs, *a.shape, params, has_core=bool((a >= 255 - params.fg_tol).any()))


# --- the estimate on adversarial frames ----------------------------------------------------------------------------


def test_frame_coordinates_cover_the_frame_once():
    for h, w in ((1, 1), (1, 7), (7, 1), (2, 2), (3, 5), (6, 4)):
        ys, xs = _haze.frame_coordinates(h, w)
        frame = np.zeros((h, w), bool)
        frame[0], frame[-1], frame[:, 0], frame[:, -1] = True, True, True, True
        assert len(set(zip(ys.tolist(), xs.tolist()))) == ys.size == frame.sum()
        assert frame[ys, xs].all()


def test_all_clear_and_all_opaque_frames_do_nothing():
    a = np.zeros((40, 50), np.uint8)
    a[10:, 15:35] = 255
    assert not estimate(a).acts and not estimate(a).no_clear_background
    full = np.full((40, 50), 255, np.uint8)
    full[20, 20] = 100  # an interior pinhole: still raised, as without the step
    f = estimate(full)
    assert not f.acts and not f.no_clear_background
    assert np.array_equal(ldmatte.refine_alpha(full), ldmatte.refine_alpha(full, haze_floor="off"))


@pytest.mark.parametrize("level", [10, 30, 55, 72, 90, 120])
def test_a_uniform_floor_is_found_exactly(portrait, level):
    a = with_floor(portrait.alpha_gt, level)
    f = estimate(a)
    assert f.no_clear_background and f.guard and f.uniform and f.levels(*a.shape) == (float(level), level)


def test_a_gradient_floor_is_a_plane(portrait):
    h, w = portrait.alpha_gt.shape
    floor = gradient(h, w, 20, 80)
    f = estimate(with_floor(portrait.alpha_gt, floor))
    assert f.removes and not f.uniform
    assert np.abs(f.floor_map(h, w) - floor).max() <= 1.0


def test_noise_is_no_floor(rng):
    a = rng.integers(0, 255, (64, 64)).astype(np.uint8)
    a[20:, 20:44] = 255
    f = estimate(a)
    assert f.no_clear_background and not f.acts  # reported, refined by the plain rule
    assert np.array_equal(ldmatte.refine_alpha(a), ldmatte.refine_alpha(a, haze_floor="off"))


def test_a_subject_touching_three_sides(portrait):
    gt = np.zeros((SIZE, SIZE), np.uint8)
    gt[20:, :] = 255  # the body fills the left, right and bottom sides
    gt[20:24, :] = 128  # with a soft top edge that reaches both sides
    a = with_floor(gt, 40)
    f = estimate(a)
    assert f.levels(SIZE, SIZE) == (40.0, 40)
    out = ldmatte.refine_alpha(a)
    assert (out[:19] == 0).all() and (out[25:] == 255).all()
    clear = gt.copy()  # the same subject on a clear background: the floor is not found, nothing changes
    assert not estimate(clear).acts


def test_floor_removal_rounds_half_up_exactly():
    a = np.arange(256, dtype=np.uint8)[None].repeat(4, 0)
    for h in (0, 1, 8, 37, 72, 128, 200, 253, 254):
        got = _haze.remove_floor(np.ascontiguousarray(a), _haze.uniform_floor(h, True, True), "numpy")[0]
        for v in range(256):
            want = 0 if v <= h else int(Fraction(v - h) * 255 / (255 - h) + Fraction(1, 2))
            assert got[v] == want, (h, v)


# --- refine_alpha and refine with the step ---------------------------------------------------------------------------


def hazy_inputs(rng, portrait):
    gt = portrait.alpha_gt
    raw = np.ascontiguousarray(portrait.rgba[..., 3])
    noisy = with_floor(raw, 60 + rng.integers(-4, 5, raw.shape))
    patch = with_floor(gt, 50)
    patch[-1, 40:52] = 150  # a translucent piece at the frame beside the core: touches FG and the frame only
    return [with_floor(raw, 10), with_floor(raw, 72), with_floor(raw, 90), with_floor(raw, gradient(SIZE, SIZE, 15, 75)),
            noisy, patch, raw]  # fmt: skip


@pytest.mark.parametrize("haze_floor", ["auto", 0, 40, "off"])
def test_kernel_matches_reference(rng, portrait, haze_floor):
    stack = np.stack(hazy_inputs(rng, portrait))
    p = RefineParams(haze_floor=haze_floor)
    out, stats, floors = refine_alpha_batch(stack, p, return_floors=True)
    ref, ref_stats, ref_floors = refine_alpha_reference(stack, **p.as_dict(), return_floors=True)
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(stats, ref_stats)
    assert floors == ref_floors
    for connectivity, hysteresis, fill in ((4, False, True), (8, True, False)):
        p = RefineParams(connectivity=connectivity, hysteresis=hysteresis, fill_interior=fill, haze_floor=haze_floor)
        out, stats = refine_alpha_batch(stack, p)
        ref, ref_stats = refine_alpha_reference(stack, **p.as_dict())
        np.testing.assert_array_equal(out, ref)
        np.testing.assert_array_equal(stats, ref_stats)


def test_a_batch_equals_its_images_one_by_one(rng, portrait):
    stack = np.stack(hazy_inputs(rng, portrait))
    out, reports = ldmatte.refine_alpha(stack, return_report=True)
    for a, o, r in zip(stack, out, reports):
        o1, r1 = ldmatte.refine_alpha(np.ascontiguousarray(a), return_report=True)
        assert np.array_equal(o, o1) and r == r1


def test_frame_touching_component_is_never_raised(rng, portrait):
    patch = hazy_inputs(rng, portrait)[5]
    out, rep = ldmatte.refine_alpha(patch, return_report=True)
    assert rep.no_clear_background and rep.haze_floor == 50.0
    assert (out[-1, 40:52] < 255).all()  # kept as a band, not raised as an interior error
    off = ldmatte.refine_alpha(patch, haze_floor="off")
    assert (off > 200).mean() > 0.9  # today's rule: the haze is raised, a white rectangle


def test_hazy_portrait_is_refined_as_the_clear_one(portrait):
    raw = np.ascontiguousarray(portrait.rgba[..., 3])
    clear = ldmatte.refine_alpha(raw)
    for level in (10, 30, 50, 72, 90):
        out, rep = ldmatte.refine_alpha(with_floor(raw, level), return_report=True)
        assert rep.no_clear_background and rep.haze_floor == level
        assert np.abs(out.astype(int) - clear).mean() < 0.5, level
        assert np.mean(out >= 128) <= np.mean(with_floor(raw, level) >= 128) + 0.05


def test_refine_pads_the_colour_under_removed_haze(rng, portrait):
    rgba = portrait.rgba.copy()
    rgba[..., 3] = with_floor(rgba[..., 3], 72)
    out, rep = ldmatte.refine(rgba, return_report=True)
    alpha = ldmatte.refine_alpha(np.ascontiguousarray(rgba[..., 3]))
    assert rep.haze_floor == 72.0 and np.array_equal(out[..., 3], alpha)
    visible = alpha > 0
    assert np.array_equal(out[visible, :3], rgba[visible, :3])  # straight colour kept
    with_alpha = np.concatenate([rgba[..., :3], alpha[..., None]], axis=-1)
    padded = ldmatte.pad_rgb(with_alpha)
    assert np.array_equal(out[~visible, :3], padded[~visible])  # the background padded as any background
    batch = ldmatte.refine(np.stack([rgba, portrait.rgba]))  # a mixed batch: each image as alone
    assert np.array_equal(batch[0], out) and np.array_equal(batch[1], ldmatte.refine(portrait.rgba))


def test_device_path_in_torch_equals_numpy(rng, portrait):
    """The device path's array code (torch ops, here on CPU tensors) gives the same bytes as numpy."""
    torch = pytest.importorskip("torch")
    stack = np.stack(hazy_inputs(rng, portrait))
    p = RefineParams()
    kernel_np = lambda s: refine_alpha_batch(s, RefineParams(haze_floor="off"))  # noqa: E731

    def kernel_torch(s):
        out, stats = kernel_np(np.ascontiguousarray(s.numpy()))
        return torch.from_numpy(out), torch.from_numpy(stats)

    t = torch.from_numpy(stack.copy())
    floors = _haze.floors_of(t, "torch", p)
    assert floors == _haze.floors_of(stack, "numpy", p)
    out, stats = _haze.refine_with_floors(t, "torch", floors, kernel_torch)
    want, want_stats = refine_alpha_batch(stack, p)
    np.testing.assert_array_equal(out.numpy(), want)
    np.testing.assert_array_equal(stats.numpy(), want_stats)
    for f in floors:
        if f.removes:
            np.testing.assert_array_equal(_haze.remove_floor(t[0], f, "torch").numpy(),
                                          _haze.remove_floor(stack[0], f, "numpy"))  # fmt: skip


# --- settings, report ------------------------------------------------------------------------------------------------


def test_settings_are_checked():
    for bad in (-1, 255, 12.5, True, "on", None):
        with pytest.raises(ValueError, match="haze_floor"):
            RefineParams(haze_floor=bad)
    assert RefineParams(haze_floor=np.uint8(40)).haze_floor == 40
    assert "haze_floor" not in ldmatte.DEFAULTS and RefineParams(haze_floor="off").as_dict()["haze_floor"] == "off"


def test_report_round_trip():
    a = np.full((12, 12), 70, np.uint8)
    a[4:, 3:9] = 255
    _, rep = ldmatte.refine_alpha(a, return_report=True)
    d = rep.to_dict()
    assert (d["no_clear_background"], d["haze_floor"], d["haze_floor_max"]) == (True, 70.0, 70)
    assert ldmatte.RefineReport.from_dict(d) == rep and ldmatte.RefineReport.from_dict(json.loads(rep.to_json())) == rep
    old = {k: v for k, v in d.items() if not k.startswith(("haze", "no_clear"))}  # a record from before
    assert ldmatte.RefineReport.from_dict(old).haze_floor == 0.0 and not ldmatte.RefineReport.from_dict(old) == rep


# --- the real samples ------------------------------------------------------------------------------------------------


def test_real_samples_with_a_clear_background_are_unchanged(real_rgba_samples):
    for name, rgba in real_rgba_samples:
        out, rep = ldmatte.refine(rgba, return_report=True)
        off = ldmatte.refine(rgba, haze_floor="off")
        assert np.array_equal(out, off), name  # bit-identical to the rule without the step
        if name == "woman_controlnet_sd15":
            # Frame 51 % above bg_tol (a haze from 0 at the top to ~85 at the bottom): no clear background, but
            # only 53 % of the frame lies within 12 levels of any plane: no floor trusted, the plain rule.
            assert rep.no_clear_background and rep.haze_floor == 0.0
        else:
            assert not rep.no_clear_background and rep.haze_floor == 0.0, name


def test_real_portraits_under_a_floor_are_refined_as_without_it(real_rgba_samples):
    """The real portraits (subjects cut by the frame, soft edges along it) under a uniform or gradient floor."""
    picked = {"dreamshaper_sd15", "cat_input", "dog_sd15", "man_ipadapter_sd15"}
    for name, rgba in real_rgba_samples:
        if name not in picked:
            continue
        a = np.ascontiguousarray(rgba[..., 3])
        clear = ldmatte.refine_alpha(a)
        for floor in (72, gradient(*a.shape, 20, 80)):
            hazy = with_floor(a, floor)
            out, rep = ldmatte.refine_alpha(hazy, return_report=True)
            assert rep.no_clear_background and rep.haze_floor > 40, name
            assert np.abs(out.astype(int) - clear).mean() < 0.5, name
            assert np.mean(out >= 128) <= np.mean(hazy >= 128) + 0.05, name


def test_a_haze_beside_clear_background_is_no_floor():
    """A haze that rises from clear background (woman_controlnet's kind): no plane explains the clear frame."""
    a = np.zeros((96, 96), np.uint8)
    rows = np.arange(96)[:, None]
    a[:] = np.clip((rows - 30) * 1.4, 0, 255).astype(np.uint8)  # clear above row 30, then a ramp to ~90
    a[40:, 36:60] = 255
    f = estimate(a)
    assert f.no_clear_background and not f.acts
    assert np.array_equal(ldmatte.refine_alpha(a), ldmatte.refine_alpha(a, haze_floor="off"))


# --- the command line ------------------------------------------------------------------------------------------------


def test_refine_command_on_a_hazy_portrait(tmp_path, portrait, capsys):
    src = tmp_path / "in"
    src.mkdir()
    rgba = portrait.rgba.copy()
    rgba[..., 3] = with_floor(rgba[..., 3], 72)
    write_png_atomic(str(src / "hazy.png"), rgba)
    write_png_atomic(str(src / "clear.png"), portrait.rgba)
    assert main(["refine", str(src), "-o", str(tmp_path / "a")]) == 0
    stdout = capsys.readouterr().out
    assert "no clear background in 1 image: hazy.png (floor 72)" in stdout
    out = read_rgba(tmp_path / "a" / "hazy.png")[0]
    assert (out[..., 3] == 0).mean() > 0.3 and np.array_equal(out, ldmatte.refine(rgba))  # a matte
    rec = json.loads((tmp_path / "a" / "hazy.json").read_text())
    assert rec["report"]["no_clear_background"] and rec["report"]["haze_floor"] == 72.0
    summary = json.loads((tmp_path / "a" / "refine-summary.json").read_text())
    assert summary["no_clear_background"] == [{"output": "hazy.png", "haze_floor": 72.0, "haze_floor_max": 72}]
    assert "no clear background: a haze floor at alpha 72" in (tmp_path / "a" / "index.html").read_text()
    assert main(["refine", str(src), "-o", str(tmp_path / "b"), "-q"]) == 0  # a rerun: the same bytes
    assert (tmp_path / "a" / "hazy.png").read_bytes() == (tmp_path / "b" / "hazy.png").read_bytes()
    assert main(["refine", str(src), "-o", str(tmp_path / "c"), "-q", "--haze-floor", "off"]) == 0
    assert (read_rgba(tmp_path / "c" / "hazy.png")[0][..., 3] == 255).mean() > 0.9  # today's white rectangle
    assert main(["refine", str(src), "-o", str(tmp_path / "d"), "-q", "--haze-floor", "72"]) == 0
    assert json.loads((tmp_path / "d" / "hazy.json").read_text())["settings"]["haze_floor"] == 72
    with pytest.raises(SystemExit) as exc:
        main(["refine", str(src), "-o", str(tmp_path / "e"), "--haze-floor", "300"])
    assert exc.value.code == 2


def test_dataset_build_records_the_floor(tmp_path, portrait):
    from ldmatte.dataset import FolderSource, build, read_manifest

    src = tmp_path / "in"
    src.mkdir()
    for name, level in (("haze72", 72), ("fog140", 140)):
        rgba = portrait.rgba.copy()
        rgba[..., 3] = with_floor(rgba[..., 3], level)
        write_png_atomic(str(src / f"{name}.png"), rgba)
    build(FolderSource(src), tmp_path / "ds", progress=False)
    entries = read_manifest(str(tmp_path / "ds"))
    assert entries["haze72"]["report"]["haze_floor"] == 72.0 and entries["haze72"]["status"] == "kept"
    assert entries["fog140"]["qc"]["reasons"] == ["haze_floor_too_high"]
    assert entries["fog140"]["qc"]["measures"]["haze_floor"] == round(140 / 255, 6)


@pytest.mark.gpu
def test_gpu_equals_cpu(rng, portrait):
    """torch CUDA tensors: the haze step on the device gives the CPU's bytes and reports."""
    import torch

    stack = np.stack(hazy_inputs(rng, portrait))
    rgba = np.repeat(portrait.rgba[None], len(stack), 0)
    rgba[..., 3] = stack
    for haze_floor in ("auto", 40, "off"):
        out, reps = ldmatte.refine_alpha(torch.from_numpy(stack).cuda(), return_report=True, haze_floor=haze_floor)
        want, want_reps = ldmatte.refine_alpha(stack, return_report=True, haze_floor=haze_floor)
        np.testing.assert_array_equal(out.cpu().numpy(), want)
        assert reps == want_reps
        got = ldmatte.refine(torch.from_numpy(rgba).cuda(), haze_floor=haze_floor).cpu().numpy()
        cpu = ldmatte.refine(rgba, haze_floor=haze_floor)
        np.testing.assert_array_equal(got[..., 3], cpu[..., 3])
        assert np.abs(got[..., :3].astype(int) - cpu[..., :3]).max() <= 1  # padding: within a level, as always
