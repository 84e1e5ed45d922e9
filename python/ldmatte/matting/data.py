"""Training data for trimap-based matting: samples, the held-out split, augmentation, batches.

The field's recipe (Deep Image Matting, GCA, ViTMatte): every step composites
a dataset foreground over a random background, ``I = alpha * F + (1 - alpha) * B``
(:func:`ldmatte.training.composite`), after a random rescale, a crop of
``crop`` pixels (centred on an unknown pixel most of the time, so crops see
edges), a horizontal flip and colour jitter of the foreground; the trimap comes
from the cropped alpha with random erosion and dilation
(:func:`ldmatte.training.trimap`). Every random choice comes from a generator
seeded by the run's seed, the step and the slot in the batch, so a run resumed
from a checkpoint sees the same data it would have seen.

Backgrounds are image files from a folder, or ``"synthetic"``: procedural
textures (smooth colour noise, shapes, stripes, edges), so a demo needs no data.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import threading

import cv2
import numpy as np

from ..fileio.readwrite import ImageReadError, imread
from ..dataset.composite_trimap import composite, fit_background, trimap

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")

__all__ = ["Sample", "seeded_rng", "collect_samples", "smallest_sample", "split_samples", "synthetic_background",
           "BackgroundPool", "SampleReader", "AugmentConfig", "nested_subset", "training_example", "fixed_example",
           "write_heldout_set", "to_model_input"]  # fmt: skip

SYNTHETIC = "synthetic"


def seeded_rng(seed: int, *keys) -> np.random.Generator:
    """A generator that depends only on the seed and the keys (step, slot, sample key), not on call order."""
    digest = hashlib.sha256(json.dumps([int(seed), *map(str, keys)]).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


@dataclasses.dataclass(frozen=True)
class Sample:
    """One foreground of a dataset: its folder and id (``fg/<id>.png``, ``alpha/<id>.png``)."""

    dataset: str
    id: str

    @property
    def key(self) -> str:
        """``<dataset folder name>/<id>``: the name the split and the logs use."""
        return f"{os.path.basename(os.path.normpath(self.dataset))}/{self.id}"


def _kept_ids(folder: str) -> list[str]:
    """Kept ids of a dataset (manifest order), or the ids with both fg/<id>.png and alpha/<id>.png."""
    from ..dataset.manifest import manifest_files, read_manifest

    if any(os.path.exists(p) for p in manifest_files(folder)):
        return [i for i, e in read_manifest(folder).items() if e["status"] == "kept"]
    stems = [{n[:-4] for n in os.listdir(os.path.join(folder, sub)) if n.endswith(".png") and not n.startswith(".")}
             for sub in ("fg", "alpha")]  # fmt: skip
    return sorted(stems[0] & stems[1])


def collect_samples(datasets) -> list[Sample]:
    """The kept samples of one or more dataset folders (manifest order, or fg/alpha pairs without a manifest)."""
    out, seen = [], {}
    for folder in datasets:
        folder = os.path.abspath(os.fspath(folder))
        real = os.path.realpath(folder)
        if real in seen:  # its samples would count twice (and their keys clash)
            raise ValueError(f"dataset {folder} is given twice" + (f" (as {seen[real]})" if seen[real] != folder
                             else "") + "; name each dataset once")  # fmt: skip
        seen[real] = folder
        for sub in ("fg", "alpha"):
            if not os.path.isdir(os.path.join(folder, sub)):
                raise ValueError(f"{folder}: not a dataset folder (no {sub}/)")
        out.extend(Sample(folder, i) for i in _kept_ids(folder))
    keys = [s.key for s in out]
    if len(set(keys)) != len(keys):
        raise ValueError("two datasets share a folder name and ids; give them distinct folder names")
    return out


def _header_size(path: str) -> tuple[int, int] | None:
    """(height, width) of a PNG from its IHDR (24 bytes), None when it cannot tell; never opens a pipe."""
    import stat
    import struct

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with open(path, "rb") as f:
            head = f.read(24)
    except OSError:
        return None
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return int(height), int(width)


def smallest_sample(samples) -> tuple[int, Sample, tuple[int, int]] | None:
    """(shorter side, sample, (height, width)) of the sample with the shortest side, None if no size is known.

    Sizes come from the dataset's manifest (``height``, ``width`` of every
    line) or, without one, from the header of ``alpha/<id>.png``: nothing is
    decoded, so a large dataset is checked in a moment.
    """
    from ..dataset.manifest import manifest_files, read_manifest

    by_folder: dict[str, dict] = {}
    best = None
    for s in samples:
        if s.dataset not in by_folder:
            entries = read_manifest(s.dataset) if any(os.path.exists(p) for p in manifest_files(s.dataset)) else {}
            by_folder[s.dataset] = entries
        e = by_folder[s.dataset].get(s.id) or {}
        if isinstance(e.get("height"), int) and isinstance(e.get("width"), int):
            size = (e["height"], e["width"])
        else:
            size = _header_size(os.path.join(s.dataset, "alpha", f"{s.id}.png"))
        if size is not None and (best is None or min(size) < best[0]):
            best = (min(size), s, size)
    return best


def split_samples(samples: list[Sample], fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """(train, val): ``round(fraction * n)`` samples (at least 1 when fraction > 0) held out for validation.

    The held-out ones are those with the smallest hash of (seed, key), so the
    split depends on the seed and the samples, not on their order, and adding
    samples moves few of them.

    Examples
    --------
    >>> from ldmatte.matting.data import Sample, split_samples
    >>> s = [Sample("/d", f"{i}") for i in range(10)]
    >>> train, val = split_samples(s, 0.2, seed=0)
    >>> len(train), len(val), set(train) & set(val)
    (8, 2, set())
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"validation fraction must be in [0, 1), got {fraction!r}")
    n_val = 0 if fraction == 0 else max(1, int(round(fraction * len(samples))))
    if n_val >= len(samples):
        raise ValueError(f"{len(samples)} samples cannot hold out {n_val} for validation and still train")

    def rank(s):
        return hashlib.sha256(f"{seed}:{s.key}".encode()).hexdigest()

    held = set(sorted(samples, key=rank)[:n_val])
    return [s for s in samples if s not in held], [s for s in samples if s in held]


def nested_subset(samples: list[Sample], n: int, seed: int) -> list[Sample]:
    """The first ``n`` samples in an order drawn from ``seed``: the subsets of sizes n1 < n2 are nested.

    Examples
    --------
    >>> from ldmatte.matting.data import Sample, nested_subset
    >>> s = [Sample("/d", f"{i}") for i in range(20)]
    >>> set(nested_subset(s, 5, 0)) <= set(nested_subset(s, 10, 0))
    True
    """
    if n > len(samples):
        raise ValueError(f"cannot take {n} samples: only {len(samples)} to train on")
    order = sorted(samples, key=lambda s: hashlib.sha256(f"subset:{seed}:{s.key}".encode()).hexdigest())
    return [s for s in samples if s in set(order[:n])]


def synthetic_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A procedural RGB background: smooth colour noise, a gradient, shapes, lines and often stripes.

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte.matting.data import synthetic_background
    >>> synthetic_background(np.random.default_rng(0), 48, 64).shape
    (48, 64, 3)
    """
    h, w = int(height), int(width)
    base = np.empty((h, w, 3), np.float32)
    for c in range(3):
        small = rng.random((int(rng.integers(2, 9)), int(rng.integers(2, 9)))).astype(np.float32)
        base[..., c] = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    base = base * rng.uniform(80, 255) + rng.uniform(-40, 40, 3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    base += (np.cos(angle) * xx / w + np.sin(angle) * yy / h)[..., None] * rng.uniform(-60, 60, 3)
    img = np.clip(base, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(3, 15))):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        kind = rng.integers(3)
        p = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        if kind == 0:
            cv2.circle(img, p, int(rng.integers(2, max(3, min(h, w) // 3))), colour, -1, cv2.LINE_AA)
        elif kind == 1:
            q = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.rectangle(img, p, q, colour, -1)
        else:
            q = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.line(img, p, q, colour, int(rng.integers(1, 6)), cv2.LINE_AA)
    if rng.random() < 0.4:  # stripes: high-frequency texture a model must not mistake for hair
        period = rng.uniform(3, 24)
        stripes = (np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period) > 0)[..., None]
        img = np.where(stripes, img, np.clip(img.astype(np.int16) + rng.integers(-60, 60, 3), 0, 255)).astype(np.uint8)
    if rng.random() < 0.5:
        k = int(rng.integers(1, 4)) * 2 + 1
        img = cv2.GaussianBlur(img, (k, k), 0)
    return img


class BackgroundPool:
    """Backgrounds: image files of a folder (read on use, a few cached) or procedural ones (``"synthetic"``)."""

    def __init__(self, source, cache: int = 64):
        self.source = os.fspath(source)
        self._cache: dict[str, np.ndarray] = {}
        self._cache_size = int(cache)
        self._lock = threading.Lock()
        self.skipped: list[str] = []
        if self.source == SYNTHETIC:
            self.files = []
            return
        if not os.path.isdir(self.source):
            raise ValueError(f"backgrounds: no such folder {self.source!r} (or use 'synthetic')")
        self.files = sorted(f for f in os.listdir(self.source) if f.lower().endswith(IMAGE_EXTENSIONS))
        if not self.files:
            raise ValueError(f"backgrounds: no images ({', '.join(IMAGE_EXTENSIONS)}) in {self.source}")

    @property
    def synthetic(self) -> bool:
        return self.source == SYNTHETIC

    def draw(self, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
        """A background of ``height x width`` (a random file, resized to cover and randomly cropped)."""
        if self.synthetic:
            return synthetic_background(rng, height, width)
        while True:
            with self._lock:
                if not self.files:
                    raise ValueError(f"backgrounds: none of the images in {self.source} could be read")
                name = self.files[int(rng.integers(len(self.files)))]
                bg = self._cache.get(name)
            if bg is not None:
                break
            try:  # the checked reader: a named pipe is refused from its stat, never opened (it would block)
                raw = imread(os.path.join(self.source, name), cv2.IMREAD_COLOR)
            except ImageReadError as exc:  # an unreadable file is dropped (said once), the others go on
                with self._lock:
                    if name in self.files:
                        self.files.remove(name)
                        self.skipped.append(name)
                        print(f"backgrounds: skipping unreadable {exc}", file=sys.stderr)
                continue
            bg = cv2.cvtColor(raw, cv2.COLOR_BGR2RGB)
            with self._lock:
                if len(self._cache) < self._cache_size:
                    self._cache[name] = bg
            break
        return fit_background(bg, height, width, rng)[0]


class SampleReader:
    """Reads a sample's fg (RGB) and alpha, keeping decoded ones in memory up to ``cache_mb``."""

    def __init__(self, cache_mb: float = 1024):
        self._cache: dict[Sample, tuple[np.ndarray, np.ndarray]] = {}
        self._budget = float(cache_mb) * 2**20
        self._used = 0
        self._lock = threading.Lock()

    def read(self, sample: Sample) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            hit = self._cache.get(sample)
        if hit is not None:
            return hit
        try:  # the checked reader: a named pipe is refused from its stat, never opened (it would block)
            fg = imread(os.path.join(sample.dataset, "fg", f"{sample.id}.png"), cv2.IMREAD_COLOR)
            alpha = imread(os.path.join(sample.dataset, "alpha", f"{sample.id}.png"), cv2.IMREAD_GRAYSCALE)
        except ImageReadError as exc:
            raise ValueError(f"{sample.dataset}: sample {sample.id}: fg or alpha missing or unreadable "
                             f"({exc.reason})") from None  # fmt: skip
        if fg.shape[:2] != alpha.shape:
            raise ValueError(f"{sample.dataset}: sample {sample.id}: fg {fg.shape[:2]} and alpha {alpha.shape} differ")
        pair = (cv2.cvtColor(fg, cv2.COLOR_BGR2RGB), alpha)
        with self._lock:
            if self._used + fg.nbytes + alpha.nbytes <= self._budget:
                self._cache[sample] = pair
                self._used += fg.nbytes + alpha.nbytes
        return pair


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Augmentation of a training example; kernel sizes are for a 512-pixel crop and scale with it."""

    crop: int = 512
    scale: tuple = (0.75, 1.5)  # random rescale of the sample before the crop
    edge_crop: float = 0.75  # share of crops centred on an unknown (0 < alpha < 255) pixel
    flip: float = 0.5
    jitter: float = 0.8  # share of examples with colour jitter of the foreground
    trimap_kernel: tuple = (3, 30)  # erosion / dilation kernel range, pixels at crop 512

    def kernel_range(self) -> tuple[int, int]:
        lo, hi = self.trimap_kernel
        f = self.crop / 512
        return max(1, int(round(lo * f))), max(2, int(round(hi * f)))


def _jitter_colour(fg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    hsv = cv2.cvtColor(fg, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-10, 10)) % 180  # OpenCV hue is 0..179
    hsv[..., 1] *= rng.uniform(0.7, 1.3)
    hsv[..., 2] = hsv[..., 2] * rng.uniform(0.75, 1.25) + rng.uniform(-20, 20)
    return cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB)


def _crop_box(alpha: np.ndarray, crop: int, rng: np.random.Generator, edge_share: float) -> tuple[int, int]:
    h, w = alpha.shape
    if rng.random() < edge_share:
        ys, xs = np.nonzero((alpha > 0) & (alpha < 255))
        if len(ys):
            k = int(rng.integers(len(ys)))
            top = int(np.clip(ys[k] - crop // 2, 0, h - crop))
            left = int(np.clip(xs[k] - crop // 2, 0, w - crop))
            return top, left
    return int(rng.integers(0, h - crop + 1)), int(rng.integers(0, w - crop + 1))


def training_example(fg, alpha, backgrounds: BackgroundPool, rng: np.random.Generator, aug: AugmentConfig):
    """One augmented (image, trimap, alpha) triple of ``aug.crop`` pixels square, all uint8."""
    crop = int(aug.crop)
    h, w = alpha.shape
    s = rng.uniform(*aug.scale) * max(1.0, crop / min(h, w))
    nh, nw = max(crop, int(round(h * s))), max(crop, int(round(w * s)))
    interp = cv2.INTER_AREA if nh < h else cv2.INTER_LINEAR
    fg = cv2.resize(fg, (nw, nh), interpolation=interp)
    alpha = cv2.resize(alpha, (nw, nh), interpolation=interp)
    top, left = _crop_box(alpha, crop, rng, aug.edge_crop)
    fg, alpha = fg[top : top + crop, left : left + crop], alpha[top : top + crop, left : left + crop]
    if rng.random() < aug.flip:
        fg, alpha = fg[:, ::-1], alpha[:, ::-1]
    fg, alpha = np.ascontiguousarray(fg), np.ascontiguousarray(alpha)
    if rng.random() < aug.jitter:
        fg = _jitter_colour(fg, rng)
    bg = backgrounds.draw(rng, crop, crop)
    image = composite(fg, alpha, bg)
    lo, hi = aug.kernel_range()
    tri = trimap(alpha, erode=int(rng.integers(lo, hi + 1)), dilate=int(rng.integers(lo, hi + 1)))
    return image, tri, alpha


def fixed_example(fg, alpha, backgrounds: BackgroundPool, rng: np.random.Generator, max_side: int,
                  kernel: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """A validation example: the whole sample (long side at most ``max_side``) over one background,
    no augmentation, trimap with ``kernel``-pixel erosion and dilation."""
    h, w = alpha.shape
    s = min(1.0, max_side / max(h, w))
    if s < 1.0:
        size = (max(1, int(round(w * s))), max(1, int(round(h * s))))
        fg = cv2.resize(fg, size, interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
    bg = backgrounds.draw(rng, *alpha.shape)
    return composite(fg, alpha, bg), trimap(alpha, erode=kernel, dilate=kernel), alpha


def write_heldout_set(datasets, out, *, backgrounds="synthetic", seed: int = 0, max_side: int = 512,
                      kernel: int = 10) -> list[str]:  # fmt: skip
    """Composite every kept sample of the datasets once into a benchmark folder (layout ``ldmatte``).

    Writes ``out/image/<name>.png`` (RGB composite), ``out/alpha/<name>.png``
    (ground truth), ``out/trimap/<name>.png`` (``kernel``-pixel erosion and
    dilation of the alpha) and ``out/heldout.json`` (how it was made).
    ``<name>`` is ``<dataset folder>_<id>``. Returns the names.

    Examples
    --------
    >>> import os, tempfile
    >>> from ldmatte.dataset import SyntheticSource, build
    >>> from ldmatte.matting.data import write_heldout_set
    >>> ds = os.path.join(tempfile.mkdtemp(), "test")
    >>> _ = build(SyntheticSource(1, seed=7, size=96), ds, progress=False)
    >>> write_heldout_set([ds], os.path.join(ds, "..", "heldout"), kernel=5)
    ['test_syn7-000000']
    """
    from ..fileio.readwrite import write_json_atomic, write_png_atomic

    out = os.fspath(out)
    pool, reader = BackgroundPool(backgrounds), SampleReader(cache_mb=0)
    names = []
    for sub in ("image", "alpha", "trimap"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    for sample in collect_samples(datasets):
        fg, alpha = reader.read(sample)
        image, tri, gt = fixed_example(fg, alpha, pool, seeded_rng(seed, "heldout", sample.key), max_side, kernel)
        name = sample.key.replace("/", "_")
        for sub, im in (("image", image), ("alpha", gt), ("trimap", tri)):
            write_png_atomic(os.path.join(out, sub, f"{name}.png"), im, durable=False)
        names.append(name)
    write_json_atomic(os.path.join(out, "heldout.json"), {
        "datasets": [os.path.abspath(os.fspath(d)) for d in datasets], "backgrounds": os.fspath(backgrounds),
        "seed": seed, "max_side": max_side, "trimap_kernel": kernel, "count": len(names)})  # fmt: skip
    return names


def to_model_input(images, trimaps, device="cpu", multiple: int = 32):
    """(B, 4, H', W') float tensor for ViTMatte: RGB scaled to [-1, 1], trimap to [0, 1], zero-padded
    at the bottom and right to a multiple of ``multiple`` (as ``VitMatteImageProcessor`` does)."""
    import torch

    img = torch.as_tensor(np.ascontiguousarray(images), device=device).permute(0, 3, 1, 2).float()
    tri = torch.as_tensor(np.ascontiguousarray(trimaps), device=device)[:, None].float()
    x = torch.cat([img / 127.5 - 1.0, tri / 255.0], dim=1)
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        x = torch.nn.functional.pad(x, (0, pw, 0, ph))
    return x


def _json_default(o):  # pragma: no cover - numpy scalars in logs
    return o.item() if hasattr(o, "item") else str(o)


def dumps(obj) -> str:
    """One JSON line (numpy scalars converted)."""
    return json.dumps(obj, default=_json_default)
