"""Folder layouts of public matting benchmarks, read as (name, image, ground truth, trimap) items, and the
matte and trimap readers that evaluation and prediction share (:func:`read_matte`, :func:`read_trimap`).

=============  ==========================================================  ============================
name           folders (under ROOT[/<set>][/validation] or ROOT/validation/<set>)  trimaps
=============  ==========================================================  ============================
``p3m-np``     P3M-500-NP: ``original_image/``, ``mask/``, ``trimap/``       given
``p3m-p``      P3M-500-P: ``blurred_image/``, ``mask/``, ``trimap/``         given
``ppm100``     PPM-100: ``image/``, ``matte/``                               made from the matte (below)
``am2k``       AM-2k validation: ``original/``, ``mask/``, ``trimap/``       given
``ldmatte``    ``image/``, ``alpha/``, ``trimap/`` (held-out composites of   given
               :func:`ldmatte.matting.data.write_heldout_set`)
=============  ==========================================================  ============================

Files pair by name stem (``.jpg`` image, ``.png`` mask). PPM-100 has no
trimaps: one is made from each matte with :func:`ldmatte.training.trimap`,
known foreground ``matte == 255`` and known background ``matte == 0``, each
eroded by an elliptical kernel of :func:`ppm_kernel` pixels (2 % of the shorter
side, at least 3): a fixed, reproducible rule, so results on PPM-100 compare
only with results that use it. Trimap values other than 0 and 255 count as
unknown (some releases store 127 or 128).
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from ..dataset.composite_trimap import IMAGE_EXTENSIONS

__all__ = ["BENCHMARKS", "BenchmarkItem", "benchmark_items", "ppm_kernel", "read_matte", "read_trimap"]


@dataclasses.dataclass(frozen=True)
class _Layout:
    sets: tuple  # folder names the set may be found under
    image: tuple  # candidate image folder names, first found wins
    gt: str
    trimap: str | None


BENCHMARKS = {
    "p3m-np": _Layout(("P3M-500-NP",), ("original_image",), "mask", "trimap"),
    "p3m-p": _Layout(("P3M-500-P",), ("blurred_image", "original_image"), "mask", "trimap"),
    "ppm100": _Layout(("PPM-100",), ("image",), "matte", None),
    "am2k": _Layout(("AM-2k", "AM-2K"), ("original",), "mask", "trimap"),
    "ldmatte": _Layout((), ("image",), "alpha", "trimap"),
}


@dataclasses.dataclass(frozen=True)
class BenchmarkItem:
    """One benchmark image: its name (file stem) and paths (``trimap`` None: make it from the ground truth)."""

    name: str
    image: str | None
    gt: str
    trimap: str | None


def ppm_kernel(height: int, width: int) -> int:
    """Erosion kernel (pixels) of the trimaps made for PPM-100: 2 % of the shorter side, at least 3.

    Examples
    --------
    >>> from ldmatte.matting.benchmarks import ppm_kernel
    >>> ppm_kernel(2000, 1500), ppm_kernel(100, 100)
    (30, 3)
    """
    return max(3, int(round(0.02 * min(height, width))))


def read_trimap(path) -> np.ndarray:
    """A trimap file as uint8 0 / 128 / 255: 0 background, 255 foreground, anything else unknown (128).

    A file holding only values 0 to 2, some above 0, is a label map (0 / 1 / 2), not a trimap: refused
    (ValueError), since read as a trimap all its labelled pixels would count as unknown.
    """
    import cv2

    from ..fileio.readwrite import ImageReadError, imread

    try:
        t = imread(path, cv2.IMREAD_GRAYSCALE)
    except ImageReadError as exc:
        raise ValueError(f"cannot read trimap {exc}") from None
    if 0 < int(t.max()) <= 2:
        raise ValueError(f"trimap {path} holds only the values 0 to 2 (a label map?): trimaps are 0 background, "
                         "255 foreground, any other value unknown")  # fmt: skip
    return np.where((t == 0) | (t == 255), t, np.uint8(128)).astype(np.uint8)


def read_matte(path) -> np.ndarray:
    """A matte file as (H, W) uint8, or float64 in [0, 1] for 16-bit files.

    Grayscale files as they are, colour files by their gray value, RGBA files by their alpha.
    """
    import cv2

    from ..fileio.readwrite import imread

    im = imread(path, cv2.IMREAD_UNCHANGED)  # ImageReadError (a ValueError) names the file and the reason
    if im.ndim == 3:
        im = im[..., 3] if im.shape[2] == 4 else cv2.cvtColor(im[..., :3], cv2.COLOR_BGR2GRAY)
    if im.dtype == np.uint16:
        return im / 65535.0
    if im.dtype != np.uint8:
        raise ValueError(f"{path}: unsupported matte type {im.dtype}")
    return im


def _u8(a: np.ndarray) -> np.ndarray:
    return a if a.dtype == np.uint8 else np.clip(np.round(a * 255), 0, 255).astype(np.uint8)


def _stems(folder: str) -> dict[str, str]:
    out = {}
    for name in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(name)
        if ext.lower() in IMAGE_EXTENSIONS and not name.startswith("."):
            out.setdefault(stem, os.path.join(folder, name))
    return out


def _find_set(root: str, layout: _Layout) -> str:
    candidates = [root, os.path.join(root, "validation")]
    for s in layout.sets:
        candidates += [os.path.join(root, s), os.path.join(root, "validation", s), os.path.join(root, s, "validation")]
    for folder in candidates:
        if os.path.isdir(os.path.join(folder, layout.gt)):
            return folder
    return ""


def benchmark_items(name: str, root) -> tuple[list[BenchmarkItem], list[tuple[str, str]]]:
    """The items of a benchmark under ``root`` and the problems found: ([items], [(name, reason)]).

    A ground truth without its image or trimap is a problem (the item is left out);
    ``image`` is None when a layout has no image folder (evaluation only needs
    ground truth and trimaps).
    """
    if name not in BENCHMARKS:
        raise ValueError(f"benchmark must be one of {sorted(BENCHMARKS)}, got {name!r}")
    layout, root = BENCHMARKS[name], os.fspath(root)
    folder = _find_set(root, layout)
    if not folder:
        where = " or ".join([f"{root}/{layout.gt}"] + [f"{root}/[validation/]{s}/{layout.gt}" for s in layout.sets])
        raise ValueError(f"{name}: no ground-truth folder found ({where})")
    if layout.trimap and not os.path.isdir(os.path.join(folder, layout.trimap)):  # checked before it is listed
        raise ValueError(f"{name}: no trimap folder {os.path.join(folder, layout.trimap)}")
    gts = _stems(os.path.join(folder, layout.gt))
    image_dir = next((os.path.join(folder, d) for d in layout.image if os.path.isdir(os.path.join(folder, d))), None)
    images = _stems(image_dir) if image_dir else {}
    trimaps = _stems(os.path.join(folder, layout.trimap)) if layout.trimap else {}
    items, problems = [], []
    for stem, gt in gts.items():
        if image_dir and stem not in images:
            problems.append((stem, f"no image in {image_dir}"))
            continue
        if layout.trimap and stem not in trimaps:
            problems.append((stem, f"no trimap in {os.path.join(folder, layout.trimap)}"))
            continue
        items.append(BenchmarkItem(stem, images.get(stem), gt, trimaps.get(stem)))
    return items, problems


def item_trimap(item: BenchmarkItem, gt_u8: np.ndarray) -> np.ndarray:
    """The item's trimap (read, or made from the ground truth by the PPM-100 rule when it has none)."""
    from ..dataset.composite_trimap import trimap

    if item.trimap is not None:
        return read_trimap(item.trimap)
    k = ppm_kernel(*gt_u8.shape)
    return trimap(gt_u8, erode=k, dilate=k)
