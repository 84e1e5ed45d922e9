"""Training-data tools for matting models: composites over backgrounds and trimaps.

- :func:`composite`: ``alpha * F + (1 - alpha) * B`` with a background resized to
  cover the foreground and cropped to its size (Deep Image Matting / ViTMatte style).
- :func:`trimap`: known foreground and background shrunk with elliptical kernels,
  the rest unknown (0 / 128 / 255).
- :func:`composite_dataset` and :func:`trimap_folder`: the same over a dataset
  folder, deterministic with a seed (each sample's random choices derive from
  the seed and its id, not from the order of work). They write only into a
  folder of their own (:class:`ldmatte.files.OutputFolder`), never over their
  inputs, through the atomic writers of :mod:`ldmatte.io`; a bad file is listed
  and the rest finishes; Ctrl-C stops after the images in flight.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os

import cv2
import numpy as np

__all__ = ["composite", "fit_background", "trimap", "composite_dataset", "trimap_folder", "FolderRun",
           "IMAGE_EXTENSIONS", "MAX_KERNEL"]  # fmt: skip

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


MAX_KERNEL = 1024  # pixels; larger kernels erase any subject and take minutes per image


@dataclasses.dataclass(frozen=True)
class FolderRun:
    """What :func:`trimap_folder` or :func:`composite_dataset` did.

    ``records`` the finished items of this run (in input order), ``report``
    the batch report (``failures``, ``interrupted``, ``fault``), ``output`` the
    claimed output folder.
    """

    records: list
    report: object
    output: object

    @property
    def failures(self) -> list:
        return self.report.failures

    @property
    def interrupted(self) -> bool:
        return self.report.interrupted


def _dataset_ids(dataset: str, problems: list) -> list[str]:
    """Kept ids of a dataset folder (manifest order), or the fg/alpha pairs when there is no manifest."""
    from ..fileio.ownership import collect_images
    from .manifest import manifest_files, read_manifest

    if any(os.path.exists(p) for p in manifest_files(dataset)):
        return [i for i, e in read_manifest(dataset).items() if e["status"] == "kept"]
    stems = []
    for sub in ("fg", "alpha"):
        folder = os.path.join(dataset, sub)
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"{dataset} is not a dataset folder: no {sub}/ folder and no manifest")
        files, found_problems = collect_images([folder])
        problems += found_problems
        stems.append({os.path.splitext(f.rel)[0] for f in files})
    return sorted(stems[0] & stems[1])


def _check_kernel(name: str, spec):
    """An int in [0, MAX_KERNEL] or a (low, high) range of them; ValueError otherwise."""
    values = spec if isinstance(spec, (tuple, list)) else (spec,)
    if len(values) not in (1, 2) or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in values):
        raise ValueError(f"{name} must be a kernel size in pixels (an int) or a (low, high) range, got {spec!r}")
    if not all(0 <= v <= MAX_KERNEL for v in values) or values[0] > values[-1]:
        raise ValueError(f"{name} must be between 0 and {MAX_KERNEL} pixels (a range: low <= high), got {spec!r}")
    return tuple(int(v) for v in values) if len(values) == 2 else int(values[0])


def _draw(spec, rng) -> int:
    """A kernel size: an int, or a uniform draw from an inclusive (low, high) range."""
    if isinstance(spec, tuple):
        return int(rng.integers(spec[0], spec[1] + 1))
    return spec


def _executor(workers):
    from ..batch import ThreadExecutor, check_count, default_workers

    return ThreadExecutor(check_count("workers", workers) or default_workers(4))


def _records_file(path: str, records: list, key: str, report) -> None:
    """Write the records file: this run's records, and the earlier run's for files it did not redo.

    A fault here is listed like any other (the files themselves are written).
    """
    from ..batch import Failure
    from ..fileio.ownership import fault_message
    from ..fileio.readwrite import write_bytes_atomic

    merged = {}
    with contextlib.suppress(OSError, ValueError):
        with open(path, encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                if isinstance(rec, dict) and os.path.isfile(os.path.join(os.path.dirname(path), str(rec.get(key)))):
                    merged[rec[key]] = rec
    merged.update((r[key], r) for r in records)
    data = "".join(json.dumps(merged[k], ensure_ascii=False) + "\n" for k in sorted(merged)).encode("utf-8")
    try:
        write_bytes_atomic(path, data)
    except OSError as exc:
        report.failures.append(Failure(os.path.basename(path), fault_message(exc, path)))
        if report.fault is None:
            report.fault = fault_message(exc, path)


def _one_composite(dataset, bg_files, out, sample_id, k, seed, max_pixels) -> dict:
    from ..batch import ItemError
    from ..fileio.readwrite import ImageReadError, read_image, write_png_atomic

    rng = _rng(seed, sample_id, k)
    bg_file = bg_files[int(rng.integers(len(bg_files)))]
    fg, _ = read_image(os.path.join(dataset, "fg", f"{sample_id}.png"), max_pixels)
    alpha, _ = read_image(os.path.join(dataset, "alpha", f"{sample_id}.png"), max_pixels)
    try:
        bg, _ = read_image(bg_file.path, max_pixels)
    except ImageReadError as exc:
        raise ItemError(f"background {bg_file.path}: {exc.reason}") from None
    fg, alpha, bg = _colour(fg), _gray(alpha), _colour(bg)
    if fg.shape[:2] != alpha.shape:
        raise ItemError(f"fg {fg.shape[1]}x{fg.shape[0]} and alpha {alpha.shape[1]}x{alpha.shape[0]} differ in size")
    back, how = fit_background(bg, *alpha.shape, rng)
    merged = composite(fg, alpha, back)
    name = f"{sample_id}_{k}.png"
    write_png_atomic(os.path.join(out, "merged", name), merged, durable=False)
    write_png_atomic(os.path.join(out, "alpha", name), alpha, durable=False)
    return {"image": f"merged/{name}", "alpha": f"alpha/{name}", "id": sample_id, "copy": k,
            "fg": f"fg/{sample_id}.png", "background": bg_file.rel, **how}  # fmt: skip


def _colour(im: np.ndarray) -> np.ndarray:
    """RGB of what io.read_image returned: gray repeated, alpha dropped."""
    if im.ndim == 2:
        return np.repeat(im[..., None], 3, axis=2)
    return np.ascontiguousarray(im[..., :3])


def _gray(im: np.ndarray) -> np.ndarray:
    """A single channel of what io.read_image returned: an RGBA's alpha, a colour image's gray."""
    if im.ndim == 2:
        return im
    if im.shape[2] == 4:
        return np.ascontiguousarray(im[..., 3])
    return cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)


def composite_dataset(dataset, backgrounds, out, *, per_fg: int = 1, seed: int = 0, workers: int | None = None,
                      progress: bool = False, overwrite: bool = False, stop=None,
                      max_pixels: int | None = None) -> FolderRun:  # fmt: skip
    """Composite every kept foreground of a dataset over random backgrounds.

    Writes ``out/merged/<id>_<k>.png`` (RGB), ``out/alpha/<id>_<k>.png`` (a copy
    of the alpha, so the folder is self-contained) and ``out/mapping.jsonl``
    (image, alpha, id, copy index, foreground, background file, scale and crop).
    The background and crop of copy ``k`` of a sample depend only on ``seed``,
    the id and ``k``.

    ``out`` must be new, empty or an earlier output of this function (a marker
    says so) unless ``overwrite``; it may not overlap the dataset's ``fg/`` and
    ``alpha/`` or the backgrounds (:class:`ldmatte.fileio.ownership.UsageError`). A sample
    that cannot be read is listed in ``failures`` and the others finish; a
    write fault every later write would repeat (disk full, read-only) stops the
    batch after the items in flight, as does ``stop`` (a
    :class:`ldmatte.files.StopFlag`, set by Ctrl-C in the CLI).

    Memory: each worker holds one sample at a time (foreground, alpha,
    background as decoded and resized, the composite and its PNG: about
    14 bytes per foreground pixel plus 3 per background pixel); images above
    ``max_pixels`` (default :data:`ldmatte.io.MAX_PIXELS`) are refused from
    their header before decoding.

    Returns
    -------
    FolderRun
    """
    from ..batch import Failure, run_items
    from ..fileio.ownership import OutputFolder, check_disjoint, collect_images
    from ..fileio.readwrite import MAX_PIXELS, check_max_pixels

    dataset, backgrounds, out = map(os.fspath, (dataset, backgrounds, out))
    if isinstance(per_fg, bool) or not isinstance(per_fg, int) or per_fg < 1:
        raise ValueError(f"per_fg must be an int >= 1, got {per_fg!r}")
    max_pixels = check_max_pixels(MAX_PIXELS if max_pixels is None else max_pixels)
    executor = _executor(workers)
    if not os.path.isdir(backgrounds):
        raise FileNotFoundError(f"no such folder: {backgrounds}")
    check_disjoint([os.path.join(dataset, "fg"), os.path.join(dataset, "alpha"), backgrounds], [out])
    problems = []
    bg_files, bg_problems = collect_images([backgrounds], suffixes=IMAGE_EXTENSIONS)
    if not bg_files:
        raise ValueError(f"no background images ({', '.join(IMAGE_EXTENSIONS)}) in {backgrounds}")
    ids = _dataset_ids(dataset, problems)
    folder = OutputFolder.claim(out, "composite", overwrite=overwrite)
    for sub in ("merged", "alpha"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    jobs = [(i, k) for i in ids for k in range(per_fg)]
    done = {}
    report = run_items(jobs, lambda job: _one_composite(dataset, bg_files, out, *job, seed, max_pixels),
                       name=lambda job: f"{job[0]} (copy {job[1]})", on_result=done.__setitem__,
                       executor=executor, ordered=True, total=len(jobs), desc="composite", progress=progress,
                       stop=stop)  # fmt: skip
    report.failures[:0] = [Failure(p.path, p.reason) for p in problems + bg_problems]
    records = [done[j] for j in jobs if j in done]
    _records_file(os.path.join(out, "mapping.jsonl"), records, "image", report)
    return FolderRun(records, report, folder)


def _one_trimap(path: str, out_name: str, out: str, rel: str, erode, dilate, seed, thresholds, max_pixels) -> dict:
    from ..fileio.readwrite import ImageReadError, read_image, write_png_atomic

    im, _ = read_image(path, max_pixels)
    grey = im.ndim == 2 or im.shape[2] == 4 or ((im[..., 0] == im[..., 1]).all() and (im[..., 1] == im[..., 2]).all())
    if not grey:
        # A photo or a foreground, not a matte: its gray would make a meaningless, mostly unknown trimap.
        raise ImageReadError(path, "RGB image without an alpha channel: not a matte (give alpha mattes: "
                                   "grayscale, RGBA, or a dataset folder, whose alpha/ is used)")  # fmt: skip
    rng = _rng(seed, rel)
    e, d = _draw(erode, rng), _draw(dilate, rng)
    write_png_atomic(os.path.join(out, out_name), trimap(_gray(im), e, d, *thresholds), durable=False)
    return {"trimap": out_name, "alpha": rel, "erode": e, "dilate": d}


def trimap_folder(source, out, *, erode=10, dilate=10, seed: int = 0, fg_threshold: int = 255,
                  bg_threshold: int = 0, overwrite: bool = False, workers: int | None = None, progress: bool = False,
                  stop=None, max_pixels: int | None = None) -> FolderRun:  # fmt: skip
    """Trimaps of every alpha in a folder (or a dataset's ``alpha/``): ``out/<name>.png`` plus ``out/trimaps.jsonl``.

    ``erode`` and ``dilate`` are kernel sizes in pixels (0 to 1024), or
    (low, high) ranges drawn per image from ``seed`` and the file name
    (training augmentation). RGBA inputs use their alpha channel, grayscale
    inputs their value, RGB inputs their gray value only when the three
    channels are equal (a matte saved in colour): other RGB images without
    alpha are photos or foregrounds, refused one by one as failures; 16-bit
    inputs are rounded to 8 bits.

    ``out`` must be new, empty or an earlier output of this function (a marker
    says so) unless ``overwrite``, and may not overlap the folder read
    (``ldmatte trimap DS -o DS/alpha`` is refused with
    :class:`ldmatte.fileio.ownership.UsageError`). An image that cannot be read is listed
    in ``failures`` and the others finish; see :func:`composite_dataset` for
    faults and ``stop``. Memory: each worker holds one image at a time (as
    decoded, up to 4 bytes per pixel, its matte and its trimap).

    Returns
    -------
    FolderRun
    """
    from ..batch import Failure, run_items
    from ..fileio.ownership import OutputFolder, check_disjoint, collect_images
    from ..fileio.readwrite import MAX_PIXELS, check_max_pixels

    source, out = os.fspath(source), os.fspath(out)
    erode, dilate = _check_kernel("erode", erode), _check_kernel("dilate", dilate)
    thresholds = (fg_threshold, bg_threshold)
    trimap(np.zeros((1, 1), np.uint8), 0, 0, *thresholds)  # the thresholds are checked before any work
    max_pixels = check_max_pixels(MAX_PIXELS if max_pixels is None else max_pixels)
    executor = _executor(workers)
    folder = os.path.join(source, "alpha") if os.path.isdir(os.path.join(source, "alpha")) else source
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"no such folder: {folder}")
    check_disjoint([folder], [out])
    files, problems = collect_images([folder], suffixes=IMAGE_EXTENSIONS)
    failures = [Failure(p.path, p.reason) for p in problems]
    jobs, taken = [], {}
    for f in files:
        name = os.path.splitext(f.rel)[0] + ".png"
        if os.path.normcase(name) in taken:
            failures.append(Failure(f.path, f"its trimap {name} is already that of {taken[os.path.normcase(name)]}"))
            continue
        taken[os.path.normcase(name)] = f.rel
        jobs.append((f.path, name, f.rel))
    out_folder = OutputFolder.claim(out, "trimap", overwrite=overwrite)
    done = {}
    report = run_items(jobs, lambda job: _one_trimap(job[0], job[1], out, job[2], erode, dilate, seed, thresholds,
                                                     max_pixels),
                       name=lambda job: job[0], on_result=lambda job, rec: done.__setitem__(job[1], rec),
                       executor=executor, ordered=True, total=len(jobs), desc="trimap", progress=progress,
                       stop=stop)  # fmt: skip
    report.failures[:0] = failures
    records = [done[j[1]] for j in jobs if j[1] in done]
    _records_file(os.path.join(out, "trimaps.jsonl"), records, "trimap", report)
    return FolderRun(records, report, out_folder)
