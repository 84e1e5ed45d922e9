"""ldmatte.synth: shapes, determinism, ground-truth invariants, artifacts present in raw only."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from ldmatte import synth
from ldmatte.synth import ARTIFACT_KINDS, make_batch, make_sample

EIGHT = np.ones((3, 3), bool)


@pytest.fixture(scope="module")
def full():
    """One realistic 1024^2 sample and its clean twin (same seed)."""
    return make_sample(5), make_sample(5, artifacts="none")


def _assert_ground_truth_invariants(s, shape):
    h, w = shape
    assert s.rgba.shape == (h, w, 4) and s.rgba.dtype == np.uint8
    assert s.alpha_gt.shape == (h, w) and s.alpha_gt.dtype == np.uint8
    assert s.rgb_gt.shape == (h, w, 3) and s.rgb_gt.dtype == np.uint8
    assert s.hair.shape == s.hole.shape == (h, w) and s.hair.dtype == s.hole.dtype == np.bool_
    for arr in (s.rgba, s.alpha_gt, s.rgb_gt):
        assert arr.flags.c_contiguous
    # The real hole: alpha 0, not empty, enclosed (its zero component never reaches the frame).
    assert s.hole.any() and (s.alpha_gt[s.hole] == 0).all()
    zero_lab, _ = ndimage.label(s.alpha_gt == 0, structure=ndimage.generate_binary_structure(2, 1))
    hole_ids = np.unique(zero_lab[s.hole])
    frame = np.concatenate([zero_lab[0], zero_lab[-1], zero_lab[:, 0], zero_lab[:, -1]])
    assert not np.isin(hole_ids, frame).any()
    assert (ndimage.binary_fill_holes(s.alpha_gt > 0) & s.hole).sum() == s.hole.sum()
    # Hair: transition pixels only, above the shoulders.
    assert s.hair.any()
    assert ((s.alpha_gt[s.hair] > 0) & (s.alpha_gt[s.hair] < 255)).all()
    assert np.nonzero(s.hair)[0].mean() < 0.6 * h
    # The subject: one opaque core, cut by the bottom frame, clear at the top corners.
    _, n_core = ndimage.label(s.alpha_gt == 255, structure=EIGHT)
    assert n_core == 1
    assert (s.alpha_gt[-1] == 255).mean() > 0.4
    assert s.alpha_gt[0, 0] == 0 and s.alpha_gt[0, -1] == 0


@pytest.mark.parametrize(
    "size, shape", [(128, (128, 128)), ((160, 96), (160, 96)), ((96, 200), (96, 200)), (80, (80, 80))]
)
def test_shapes_and_ground_truth(size, shape):
    for seed in range(3):
        _assert_ground_truth_invariants(make_sample(seed, size), shape)


def test_full_size_sample(full):
    raw, clean = full
    _assert_ground_truth_invariants(raw, (1024, 1024))
    assert raw.seed == 5


def test_deterministic_per_seed():
    a, b, c = make_sample(11, 128), make_sample(11, 128), make_sample(12, 128)
    for name in ("rgba", "alpha_gt", "rgb_gt", "hair", "hole"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.alpha_gt, c.alpha_gt)


def test_ground_truth_does_not_depend_on_artifacts():
    samples = [make_sample(4, 128, art) for art in ("none", "realistic", "heavy", {"halo": 2.0})]
    for s in samples[1:]:
        for name in ("alpha_gt", "rgb_gt", "hair", "hole"):
            np.testing.assert_array_equal(getattr(s, name), getattr(samples[0], name))


def test_no_artifacts_means_raw_equals_ground_truth():
    s = make_sample(2, 160, "none")
    np.testing.assert_array_equal(s.rgba[..., 3], s.alpha_gt)
    np.testing.assert_array_equal(s.rgba[..., :3], s.rgb_gt)


def test_artifacts_present_in_raw_not_in_ground_truth(full):
    raw, clean = full
    a, g = raw.rgba[..., 3], raw.alpha_gt
    interior = ndimage.binary_erosion(g == 255, iterations=4)
    # Ground truth: the interior is opaque, the background far from the subject clear.
    assert (g[interior] == 255).all()
    far = ndimage.distance_transform_edt(g == 0) > 40
    assert far.sum() > 10_000 and (g[far] == 0).all()
    # Raw: thousands of near-opaque jitter pixels in thousands of small pieces.
    near = interior & (a >= 245) & (a < 255)
    _, pieces = ndimage.label(near, structure=EIGHT)
    assert near.sum() > 20_000 and pieces > 1_000
    assert ((a[interior] > 0) & (a[interior] < 245)).sum() > 1_000  # deeper tail, strokes, patches
    # Raw: haze and speckle in the clear background.
    assert (a[far] > 0).sum() > 20
    # Colour: the same straight colour where the ground truth is visible.
    np.testing.assert_array_equal(raw.rgba[..., :3], clean.rgba[..., :3])


@pytest.mark.parametrize("kind", ARTIFACT_KINDS)
def test_each_kind_alone(kind):
    s = make_sample(3, 256, {kind: 3.0})  # strong enough that a count-based kind is never empty
    a, g = s.rgba[..., 3].astype(int), s.alpha_gt.astype(int)
    if kind in ("haze", "speckle", "halo"):
        assert (a >= g).all() and (a > g).any()  # haze only adds alpha
    else:
        assert (a <= g).all() and (a < g).any()  # the others lower the body
    assert (s.rgba[..., :3] == s.rgb_gt).all()


def test_heavy_is_worse_than_realistic():
    sad = []
    for art in ("realistic", "heavy"):
        errs = [np.abs(s.rgba[..., 3].astype(int) - s.alpha_gt).sum() for s in make_batch(3, 20, 256, art)]
        sad.append(np.mean(errs))
    assert sad[1] > 1.5 * sad[0]


def test_padded_colour_is_smooth():
    s = make_sample(1, 256)
    clear = ndimage.binary_erosion(s.alpha_gt == 0, iterations=2)
    rgb = s.rgb_gt.astype(int)
    step_x = np.abs(np.diff(rgb, axis=1)).max(axis=-1)[clear[:, 1:] & clear[:, :-1]]
    step_y = np.abs(np.diff(rgb, axis=0)).max(axis=-1)[clear[1:] & clear[:-1]]
    assert max(step_x.max(), step_y.max()) <= 6


def test_make_batch():
    batch = make_batch(3, seed=7, size=96)
    assert [s.seed for s in batch] == [7, 8, 9]
    np.testing.assert_array_equal(batch[1].rgba, make_sample(8, 96).rgba)
    assert make_batch(0, size=96) == []


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(size=79), ValueError, "at least 80"),
        (dict(size=(100, 40)), ValueError, "at least 80"),
        (dict(size="big"), TypeError, "size"),
        (dict(size=(100, 100, 3)), TypeError, "size"),
        (dict(size=100.0), TypeError, "size"),
        (dict(artifacts="extreme"), ValueError, "artifacts"),
        (dict(artifacts={"glitter": 1.0}), ValueError, "unknown artifact"),
        (dict(artifacts={"haze": -1}), ValueError, "level"),
        (dict(artifacts={"haze": "lots"}), ValueError, "level"),
        (dict(artifacts=3), TypeError, "artifacts"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        make_sample(0, **{"size": 96, **kwargs})


@pytest.mark.parametrize("seed", [-1, 1.5, True, "0"])
def test_bad_seed(seed):
    with pytest.raises(ValueError, match="seed"):
        make_sample(seed, 96)
    with pytest.raises(ValueError, match="n must"):
        make_batch(-1, size=96)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), h=st.integers(synth.MIN_SIZE, 160), w=st.integers(synth.MIN_SIZE, 160))
def test_invariants_any_seed_and_shape(seed, h, w):
    s = make_sample(seed, (h, w))
    _assert_ground_truth_invariants(s, (h, w))
    np.testing.assert_array_equal(make_sample(seed, (h, w)).rgba, s.rgba)


# ---------------------------------------------------------------- panels of synthetic samples


def test_panels_of_a_synthetic_sample():
    from ldmatte import panels

    s = make_sample(6, 160)
    after = s.rgba.copy()
    after[..., 3] = s.alpha_gt  # a perfect refinement: every artifact changed back
    comp = panels.composite(s.rgba, cell=8)
    assert comp.shape == (160, 160, 3) and comp.dtype == np.uint8
    opaque = s.alpha_gt == 255
    np.testing.assert_array_equal(panels.composite(after)[opaque], s.rgb_gt[opaque])
    change = panels.change_map(s.rgba[..., 3], after[..., 3])
    raised = s.alpha_gt > s.rgba[..., 3]
    assert (change[raised] == panels.RAISED).all()
    assert (change[s.alpha_gt < s.rgba[..., 3]] == panels.LOWERED).all()
    # Downscaled, a block with any changed pixel keeps the colour.
    small = panels.change_map(s.rgba[..., 3], after[..., 3], size=(40, 40))
    assert small.shape == (40, 40, 3) and (small == panels.RAISED).all(axis=-1).any()
    panel = panels.before_after_panel(s.rgba, after, width=640, title="synthetic", inverse_gain=8)
    assert panel.shape[1] == 640 and panel.dtype == np.uint8
    with pytest.raises(TypeError, match="RGBA"):
        panels.before_after_panel(s.rgba[..., :3], after)
    with pytest.raises(ValueError, match="shape"):
        panels.change_map(s.alpha_gt, s.alpha_gt[1:])
