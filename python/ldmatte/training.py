"""Training-data tools for matting models: composites over backgrounds and trimaps.

- :func:`composite`: ``alpha * F + (1 - alpha) * B`` with a background resized to
  cover the foreground and cropped to its size (Deep Image Matting / ViTMatte style).
- :func:`trimap`: known foreground and background shrunk with elliptical kernels,
  the rest unknown (0 / 128 / 255).
- :func:`composite_dataset` and :func:`trimap_folder`: the same over a dataset
  folder, deterministic with a seed (each sample's random choices derive from
  the seed and its id, not from the order of work).
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os

import cv2
import numpy as np

__all__ = ["composite", "fit_background", "trimap", "composite_dataset", "trimap_folder", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def _check_u8(x, name: str, ndim: int, channels: int | None = None) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype != np.uint8:
        raise TypeError(f"{name} must be uint8, got {a.dtype}")
    if a.ndim != ndim or (channels is not None and a.shape[-1] != channels) or 0 in a.shape:
        want = "(H, W)" if ndim == 2 else f"(H, W, {channels})"
        raise ValueError(f"{name} must be a non-empty {want} array, got shape {a.shape}")
    return a


def _rng(seed: int, *keys) -> np.random.Generator:
    """A generator that depends only on the seed and the keys (a sample's id, a copy index)."""
    digest = hashlib.sha256(json.dumps([int(seed), *map(str, keys)]).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def fit_background(bg, height: int, width: int, rng: np.random.Generator | None = None) -> tuple[np.ndarray, dict]:
    """Resize a background so it covers ``height x width`` (never shrinking it), then crop to that size.

    The crop is random with ``rng``, else centred. Returns the crop and what was
    done (``scale``, ``top``, ``left``).

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte.training import fit_background
    >>> out, how = fit_background(np.zeros((50, 100, 3), np.uint8), 100, 100)
    >>> out.shape, how
    ((100, 100, 3), {'scale': 2.0, 'top': 0, 'left': 50})
    """
    bg = _check_u8(bg, "bg", 3, 3)
    h, w = bg.shape[:2]
    scale = max(height / h, width / w, 1.0)
    if scale > 1.0:
        size = (max(width, int(np.ceil(w * scale))), max(height, int(np.ceil(h * scale))))
        bg = cv2.resize(bg, size, interpolation=cv2.INTER_CUBIC)
    dy, dx = bg.shape[0] - height, bg.shape[1] - width
    top = int(rng.integers(0, dy + 1)) if rng is not None else dy // 2
    left = int(rng.integers(0, dx + 1)) if rng is not None else dx // 2
    return np.ascontiguousarray(bg[top : top + height, left : left + width]), {"scale": round(scale, 6), "top": top,
                                                                              "left": left}  # fmt: skip


def composite(fg, alpha, bg, rng: np.random.Generator | None = None) -> np.ndarray:
    """Alpha-blend a foreground over a background: ``alpha * fg + (1 - alpha) * bg``.

    Parameters
    ----------
    fg : (H, W, 3) uint8
        Straight (not premultiplied) colour.
    alpha : (H, W) uint8
    bg : (h, w, 3) uint8
        Any size: resized to cover the foreground and cropped (:func:`fit_background`,
        random crop with ``rng``, else centred).

    Returns
    -------
    (H, W, 3) uint8

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte.training import composite
    >>> fg = np.full((1, 3, 3), 200, np.uint8); bg = np.zeros((1, 3, 3), np.uint8)
    >>> composite(fg, np.array([[0, 128, 255]], np.uint8), bg)[0, :, 0].tolist()
    [0, 100, 200]
    """
    fg, alpha = _check_u8(fg, "fg", 3, 3), _check_u8(alpha, "alpha", 2)
    if fg.shape[:2] != alpha.shape:
        raise ValueError(f"fg {fg.shape[:2]} and alpha {alpha.shape} differ in size")
    back, _ = fit_background(bg, *alpha.shape, rng)
    a = alpha[..., None].astype(np.float32) / 255
    return np.clip(fg * a + back * (1 - a) + 0.5, 0, 255).astype(np.uint8)


def _ellipse(size: int) -> np.ndarray | None:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)) if size > 1 else None


def trimap(alpha, erode: int = 10, dilate: int = 10, fg_threshold: int = 255, bg_threshold: int = 0) -> np.ndarray:
    """A trimap from an alpha matte: 255 known foreground, 0 known background, 128 unknown.

    Known foreground is ``alpha >= fg_threshold`` eroded by an elliptical kernel
    of ``erode`` pixels; known background is ``alpha <= bg_threshold`` eroded by
    one of ``dilate`` pixels (the unknown band dilated into the background).
    The image frame does not erode (a subject cut by the frame stays known there).

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte.training import trimap
    >>> a = np.zeros((1, 9), np.uint8); a[0, 4:] = 255; a[0, 4] = 100
    >>> trimap(a, erode=3, dilate=3)[0].tolist()
    [0, 0, 0, 128, 128, 128, 255, 255, 255]
    """
    a = _check_u8(alpha, "alpha", 2)
    for name, v in (("erode", erode), ("dilate", dilate)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{name} must be an int >= 0 (kernel size in pixels), got {v!r}")
    if not 0 <= bg_threshold < fg_threshold <= 255:
        raise ValueError(f"need 0 <= bg_threshold < fg_threshold <= 255, got {bg_threshold}, {fg_threshold}")
    fg = (a >= fg_threshold).view(np.uint8)
    bg = (a <= bg_threshold).view(np.uint8)
    k_fg, k_bg = _ellipse(int(erode)), _ellipse(int(dilate))
    fg = cv2.erode(fg, k_fg) if k_fg is not None else fg
    bg = cv2.erode(bg, k_bg) if k_bg is not None else bg
    out = np.full(a.shape, 128, np.uint8)
    out[fg.astype(bool)] = 255
    out[bg.astype(bool)] = 0
    return out


def _image_files(folder: str) -> list[str]:
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"no such folder: {folder}")
    return sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTENSIONS))


def _dataset_ids(dataset: str) -> list[str]:
    """Kept ids of a dataset folder (manifest order), or the fg/alpha pairs when there is no manifest."""
    from .dataset.manifest import manifest_files, read_manifest

    if any(os.path.exists(p) for p in manifest_files(dataset)):
        return [i for i, e in read_manifest(dataset).items() if e["status"] == "kept"]
    fg = {os.path.splitext(f)[0] for f in _image_files(os.path.join(dataset, "fg"))}
    return sorted(fg & {os.path.splitext(f)[0] for f in _image_files(os.path.join(dataset, "alpha"))})


def _read(path: str, flags: int) -> np.ndarray:
    im = cv2.imread(path, flags)
    if im is None:
        raise ValueError(f"cannot read image {path}")
    return im


def _one_composite(dataset, backgrounds, bg_files, out, sample_id, k, seed) -> dict:
    from .dataset.manifest import write_atomic

    rng = _rng(seed, sample_id, k)
    bg_name = bg_files[int(rng.integers(len(bg_files)))]
    fg = cv2.cvtColor(_read(os.path.join(dataset, "fg", f"{sample_id}.png"), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    alpha = _read(os.path.join(dataset, "alpha", f"{sample_id}.png"), cv2.IMREAD_GRAYSCALE)
    bg = cv2.cvtColor(_read(os.path.join(backgrounds, bg_name), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    back, how = fit_background(bg, *alpha.shape, rng)
    merged = composite(fg, alpha, back)
    name = f"{sample_id}_{k}.png"
    for sub, image in (("merged", cv2.cvtColor(merged, cv2.COLOR_RGB2BGR)), ("alpha", alpha)):
        ok, buf = cv2.imencode(".png", image)  # OpenCV's default: its fastest strategy
        write_atomic(os.path.join(out, sub, name), buf.tobytes(), durable=False)
    return {"image": f"merged/{name}", "alpha": f"alpha/{name}", "id": sample_id, "copy": k,
            "fg": f"fg/{sample_id}.png", "background": bg_name, **how}  # fmt: skip


def composite_dataset(dataset, backgrounds, out, *, per_fg: int = 1, seed: int = 0, workers: int | None = None,
                      progress: bool = False) -> list[dict]:  # fmt: skip
    """Composite every kept foreground of a dataset over random backgrounds.

    Writes ``out/merged/<id>_<k>.png`` (RGB), ``out/alpha/<id>_<k>.png`` (a copy
    of the alpha, so the folder is self-contained) and ``out/mapping.jsonl``
    (image, alpha, id, copy index, foreground, background file, scale and crop).
    The background and crop of copy ``k`` of a sample depend only on ``seed``,
    the id and ``k``.

    Returns
    -------
    the mapping records
    """
    from tqdm import tqdm

    from .dataset.manifest import write_jsonl_atomic

    dataset, backgrounds, out = map(os.fspath, (dataset, backgrounds, out))
    if isinstance(per_fg, bool) or not isinstance(per_fg, int) or per_fg < 1:
        raise ValueError(f"per_fg must be an int >= 1, got {per_fg!r}")
    bg_files = _image_files(backgrounds)
    if not bg_files:
        raise ValueError(f"no background images ({', '.join(IMAGE_EXTENSIONS)}) in {backgrounds}")
    jobs = [(i, k) for i in _dataset_ids(dataset) for k in range(per_fg)]
    for sub in ("merged", "alpha"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    with concurrent.futures.ThreadPoolExecutor(max(1, int(workers or min(4, os.cpu_count() or 1)))) as pool:
        futures = [pool.submit(_one_composite, dataset, backgrounds, bg_files, out, i, k, seed) for i, k in jobs]
        records = [f.result() for f in tqdm(futures, unit="img", desc="composite", disable=not progress)]
    write_jsonl_atomic(os.path.join(out, "mapping.jsonl"), records)
    return records


def _draw(spec, rng) -> int:
    """A kernel size: an int, or a uniform draw from an inclusive (low, high) range."""
    if isinstance(spec, (tuple, list)):
        lo, hi = (int(v) for v in spec)
        if not 0 <= lo <= hi:
            raise ValueError(f"kernel size range must satisfy 0 <= low <= high, got {spec!r}")
        return int(rng.integers(lo, hi + 1))
    return spec


def trimap_folder(source, out, *, erode=10, dilate=10, seed: int = 0, fg_threshold: int = 255,
                  bg_threshold: int = 0) -> list[dict]:  # fmt: skip
    """Trimaps of every alpha in a folder (or a dataset's ``alpha/``): ``out/<name>.png`` plus ``out/trimaps.jsonl``.

    ``erode`` and ``dilate`` are kernel sizes in pixels, or (low, high) ranges
    drawn per image from ``seed`` and the file name (training augmentation).
    RGBA inputs use their alpha channel, colour inputs their grey value.
    """
    from .dataset.manifest import write_atomic, write_jsonl_atomic

    source, out = os.fspath(source), os.fspath(out)
    folder = os.path.join(source, "alpha") if os.path.isdir(os.path.join(source, "alpha")) else source
    names = [f for f in _image_files(folder)]
    os.makedirs(out, exist_ok=True)
    records = []
    for name in names:
        im = _read(os.path.join(folder, name), cv2.IMREAD_UNCHANGED)
        if im.dtype != np.uint8:
            raise ValueError(f"{name}: alpha must be 8-bit, got {im.dtype}")
        alpha = im if im.ndim == 2 else (im[..., 3] if im.shape[2] == 4 else cv2.cvtColor(im, cv2.COLOR_BGR2GRAY))
        rng = _rng(seed, name)
        e, d = _draw(erode, rng), _draw(dilate, rng)
        stem = os.path.splitext(name)[0]
        ok, buf = cv2.imencode(".png", trimap(np.ascontiguousarray(alpha), e, d, fg_threshold, bg_threshold))
        write_atomic(os.path.join(out, f"{stem}.png"), buf.tobytes(), durable=False)
        records.append({"trimap": f"{stem}.png", "alpha": name, "erode": e, "dilate": d})
    write_jsonl_atomic(os.path.join(out, "trimaps.jsonl"), records)
    return records
