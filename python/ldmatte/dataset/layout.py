"""Where a sample's files live, PNG reading and writing, and bringing files in line with the manifest.

Layout of a dataset folder (what matting trainers read)::

    fg/<id>.png              foreground RGB: straight colour where alpha > 0, padded colour where alpha = 0
    alpha/<id>.png           8-bit alpha
    rejected/fg/<id>.png     the same for samples that quality control deleted
    rejected/alpha/<id>.png
    rejected/manifest.jsonl  their manifest lines (reasons in ``qc.reasons``), rewritten after every run
    manifest.jsonl           one line per finished sample, kept or rejected
    README.md                the dataset card

Moving a sample between kept and rejected is a pair of renames, so nothing
quality control does is lost: another ``ldmatte qc`` with other thresholds puts
it back.
"""
from __future__ import annotations

import contextlib
import os

import numpy as np

from ..fileio import readwrite as io
from ..fileio.readwrite import ImageReadError
from .manifest import SAFE_ID, TMP_TAG, write_atomic

__all__ = ["KINDS", "STATUSES", "ImageReadError", "paths", "read_rgba", "encode_png", "read_sample",
           "write_sample", "move_sample", "file_ids", "remove_unlisted"]  # fmt: skip

KINDS = ("fg", "alpha")
STATUSES = ("kept", "rejected")
_DIRS = {"kept": "", "rejected": "rejected"}


def paths(status: str, sample_id: str) -> dict[str, str]:
    """Relative paths of a sample's files for a status.

    Examples
    --------
    >>> from ldmatte.dataset.layout import paths
    >>> paths("rejected", "a1")
    {'fg': 'rejected/fg/a1.png', 'alpha': 'rejected/alpha/a1.png'}
    """
    if status not in _DIRS:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    return {k: "/".join(p for p in (_DIRS[status], k, f"{sample_id}.png") if p) for k in KINDS}


def read_rgba(path) -> np.ndarray:
    """(H, W, 4) uint8 RGBA of an image file for a dataset sample.

    The checked reader of :func:`ldmatte.io.read_rgba` (16-bit files rounded to
    8 bits, truncated or corrupt files refused with the reason), except that a
    grayscale file without alpha is refused too: a sample needs a foreground.
    Raises :class:`ldmatte.fileio.readwrite.ImageReadError` (a ValueError).
    """
    rgba, info = io.read_rgba(path)
    if info.alpha_only:
        raise ImageReadError(path, "grayscale image without alpha channel: a dataset sample needs an RGBA image")
    return rgba


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of an RGB, RGBA or single-channel uint8 image (RGB order in): :func:`ldmatte.io.encode_png`."""
    return io.encode_png(image)


def write_sample(root: str, status: str, sample_id: str, rgba: np.ndarray, durable: bool = True) -> dict:
    """Write fg (RGB) and alpha of a refined RGBA atomically; return their relative paths."""
    rel = paths(status, sample_id)
    write_atomic(os.path.join(root, rel["fg"]), encode_png(np.ascontiguousarray(rgba[..., :3])), durable)
    write_atomic(os.path.join(root, rel["alpha"]), encode_png(np.ascontiguousarray(rgba[..., 3])), durable)
    return rel


def read_sample(root: str, entry: dict) -> np.ndarray:
    """The RGBA of a manifest entry (fg + alpha at the paths it names)."""
    files = entry["files"]
    try:
        fg = io.read_rgb(os.path.join(root, files["fg"]))
        alpha = io.read_gray(os.path.join(root, files["alpha"]))
    except ImageReadError:
        raise ImageReadError(root, f"sample {entry['id']}: missing or unreadable files {files}") from None
    if fg.shape[:2] != alpha.shape:
        raise ImageReadError(root, f"foreground {files['fg']} ({fg.shape[1]}x{fg.shape[0]}) and alpha "
                                   f"{files['alpha']} ({alpha.shape[1]}x{alpha.shape[0]}) differ in size")  # fmt: skip
    return np.dstack([fg, alpha])


def move_sample(root: str, sample_id: str, status: str) -> bool:
    """Rename a sample's files to the place of ``status`` where they are elsewhere; False if some are missing.

    Works file by file, so a move interrupted half-way is finished by the next call.
    """
    want = paths(status, sample_id)
    others = [paths(s, sample_id) for s in STATUSES if s != status]
    ok = True
    for kind in KINDS:
        dst = os.path.join(root, want[kind])
        if os.path.exists(dst):
            continue
        src = next((os.path.join(root, o[kind]) for o in others if os.path.exists(os.path.join(root, o[kind]))), None)
        if src is None:
            ok = False
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        os.replace(src, dst)
    return ok


def file_ids(root: str) -> dict[str, list[str]]:
    """Ids found in the image folders -> their relative paths, temp files included (id of the final name)."""
    found: dict[str, list[str]] = {}
    for status in STATUSES:
        for kind in KINDS:
            sub = os.path.dirname(paths(status, "x")[kind])
            folder = os.path.join(root, sub)
            if not os.path.isdir(folder):
                continue
            for name in os.listdir(folder):
                base = name.split(TMP_TAG)[0] if TMP_TAG in name else name
                if base.endswith(".png") and SAFE_ID.match(base[:-4]):
                    found.setdefault(base[:-4], []).append(f"{sub}/{name}")
    return found


def remove_unlisted(root: str, listed: dict, owns=lambda sample_id: True) -> int:
    """Delete what a build can prove it wrote and no longer needs; return the count.

    That is: temp files of writers that no longer run (:func:`ldmatte.io.remove_stale_temps`,
    and the ``<name>.tmp<pid>`` names of earlier versions for owned ids), and stale copies of listed samples
    at the place of the status they do not have. Images of ids without a manifest line are left alone: the
    folder may hold files the build did not write (a killed run's images are replaced when their ids are redone).
    """
    removed = len(io.remove_stale_temps(root))
    for sample_id, rels in file_ids(root).items():
        if not owns(sample_id):
            continue
        entry = listed.get(sample_id)
        keep = set(entry["files"].values()) if entry else set()
        for rel in rels:
            if rel in keep:
                continue
            if TMP_TAG in rel.rsplit("/", 1)[-1] or (entry and _stale_copy(root, rel, keep)):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(os.path.join(root, rel))
                    removed += 1
    return removed


def _stale_copy(root: str, rel: str, keep: set) -> bool:
    """A file of a listed sample is stale if the file of the same kind exists at the listed place."""
    kind = rel.rsplit("/", 2)[-2]
    return any(k.rsplit("/", 2)[-2] == kind and os.path.exists(os.path.join(root, k)) for k in keep)
