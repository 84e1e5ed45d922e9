"""Where raw RGBA samples come from: synthetic portraits, a folder of PNGs (Layer Diffusion: ld_source).

A source lists every sample id up front (:meth:`ids`, deterministic, so shards
and resumes agree on the work) and then produces the samples asked for, in
order (:meth:`produce`), as :class:`Produced` records. A sample that cannot be
produced comes back with ``error`` set; the builder reports it and goes on.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import re

import numpy as np

from .layout import ImageReadError, read_rgba
from .manifest import SAFE_ID, check_id, read_lines

__all__ = ["Produced", "SyntheticSource", "FolderSource"]


@dataclasses.dataclass
class Produced:
    """One sample from a source: the raw RGBA, or an error.

    ``refined`` and ``report`` are set by sources that refine themselves (on the
    GPU, right after decoding); otherwise the builder refines ``rgba``.
    """

    id: str
    rgba: np.ndarray | None = None
    meta: dict = dataclasses.field(default_factory=dict)
    refined: np.ndarray | None = None
    report: object = None
    error: str | None = None


def _fraction(text: str) -> float:
    """A number in [0, 1) from a string, the same everywhere."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") / 2.0**64


class SyntheticSource:
    """Procedural portraits from :mod:`ldmatte.synth`, for demos and tests.

    Sample ``i`` is ``make_sample(seed + i, size, artifacts)`` with id
    ``syn<seed>-<i:06d>``. With ``bad_fraction`` > 0 that share of the samples
    (chosen by a hash of the id) is turned into one of the constructed bad kinds
    (:mod:`ldmatte.dataset.constructed`), so quality control has work to do.
    """

    name = "synthetic"

    def __init__(self, n: int, seed: int = 0, size=512, artifacts="realistic", bad_fraction: float = 0.0):
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be an int >= 0, got {n!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {seed!r}")
        if not 0.0 <= float(bad_fraction) <= 1.0:
            raise ValueError(f"bad_fraction must be in [0, 1], got {bad_fraction!r}")
        from ..synth import _check_artifacts, _check_size

        _check_size(size), _check_artifacts(artifacts)
        self.n, self.seed, self.size, self.artifacts, self.bad_fraction = n, seed, size, artifacts, float(bad_fraction)

    def ids(self) -> list[str]:
        return [f"syn{self.seed}-{i:06d}" for i in range(self.n)]

    def bad_kind(self, sample_id: str) -> str | None:
        from .constructed import BAD_KINDS

        u = _fraction(f"bad:{sample_id}")
        if u >= self.bad_fraction:
            return None
        return BAD_KINDS[int(_fraction(f"kind:{sample_id}") * len(BAD_KINDS))]

    def produce(self, ids):
        from ..synth import make_sample
        from .constructed import make_bad

        for sample_id in ids:
            index = int(sample_id.rsplit("-", 1)[1])
            seed = self.seed + index
            rgba = make_sample(seed, self.size, self.artifacts).rgba
            kind = self.bad_kind(sample_id)
            if kind is not None:
                rgba = make_bad(kind, rgba, seed)
            attrs = {"artifacts": str(self.artifacts), "constructed": kind or "none"}
            yield Produced(sample_id, rgba, {"seed": seed, "attributes": attrs, "constructed": kind})

    def describe(self) -> dict:
        return {"source": self.name, "n": self.n, "seed": self.seed, "size": self.size,
                "artifacts": self.artifacts, "bad_fraction": self.bad_fraction}  # fmt: skip


def _as_id(stem: str, taken: set) -> str:
    """A file-name-safe, unique id from a file stem (a short hash marks any change)."""
    if SAFE_ID.match(stem) and stem not in taken:
        return stem
    clean = re.sub(r"[^A-Za-z0-9._-]", "_", stem).lstrip("._-")[:100] or "img"
    return f"{clean}-{hashlib.sha256(stem.encode()).hexdigest()[:8]}"


class FolderSource:
    """Existing RGBA images in a folder (``*.png`` by default; recursive with ``recursive=True``).

    Ids are the file names without extension (made file-name safe where
    needed). ``metadata`` is an optional JSON-lines file whose records, matched
    by ``id`` (e.g. a prompt bank or the manifest of ``ldmatte generate``),
    give prompts, attributes, seeds and model identifiers. Unreadable images,
    images without an alpha channel and the like come back as errors.
    """

    name = "folder"

    def __init__(self, folder, pattern: str = "*.png", recursive: bool = False, metadata=None):
        import glob

        self.folder = os.fspath(folder)
        if not os.path.isdir(self.folder):
            raise FileNotFoundError(f"no such folder: {self.folder}")
        spec = os.path.join(glob.escape(self.folder), "**", pattern) if recursive else os.path.join(
            glob.escape(self.folder), pattern)  # fmt: skip
        files = sorted(p for p in glob.glob(spec, recursive=recursive) if os.path.isfile(p))
        self.files: dict[str, str] = {}
        for path in files:
            rel = os.path.relpath(path, self.folder)
            stem = os.path.splitext(rel)[0].replace(os.sep, "__")
            self.files[_as_id(stem, set(self.files))] = path
        self.metadata = {}
        if metadata is not None:
            self.metadata = {str(r["id"]): r for r in read_lines(os.fspath(metadata))}

    def ids(self) -> list[str]:
        return list(self.files)

    def produce(self, ids):
        for sample_id in ids:
            path = self.files[check_id(sample_id)]
            meta = {"origin": os.path.relpath(path, self.folder).replace(os.sep, "/")}
            meta.update(_metadata_fields(self.metadata.get(sample_id, {})))
            try:
                yield Produced(sample_id, read_rgba(path), meta)
            except (ImageReadError, OSError) as exc:
                yield Produced(sample_id, None, meta, error=str(exc).replace(self.folder + os.sep, ""))

    def describe(self) -> dict:
        return {"source": self.name, "folder": os.path.basename(os.path.normpath(self.folder)),
                "files": len(self.files), "metadata_records": len(self.metadata)}  # fmt: skip


_META_KEYS = ("prompt", "negative_prompt", "attributes", "seed", "model", "base_model", "steps", "guidance",
              "scheduler", "dtype", "height", "width", "tta")  # fmt: skip


def _metadata_fields(record: dict) -> dict:
    """The fields of a metadata record worth keeping in a dataset manifest."""
    return {k: record[k] for k in _META_KEYS if k in record}
