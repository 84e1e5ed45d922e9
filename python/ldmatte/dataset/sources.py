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

from ..batch.file_jobs import input_stamp
from .layout import ImageReadError, read_rgba
from .manifest import SAFE_ID, check_id, read_lines

__all__ = ["Produced", "SyntheticSource", "SyntheticIds", "FolderSource"]


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
        from ..synthetic.portraits import _check_artifacts, _check_size

        _check_size(size), _check_artifacts(artifacts)
        self.n, self.seed, self.size, self.artifacts, self.bad_fraction = n, seed, size, artifacts, float(bad_fraction)

    def ids(self) -> "SyntheticIds":
        """The ids ``syn<seed>-<i:06d>``, i < n, as a lazy sequence (a billion of them cost no memory)."""
        return SyntheticIds(self.n, self.seed)

    def bad_kind(self, sample_id: str) -> str | None:
        from .constructed import BAD_KINDS

        u = _fraction(f"bad:{sample_id}")
        if u >= self.bad_fraction:
            return None
        return BAD_KINDS[int(_fraction(f"kind:{sample_id}") * len(BAD_KINDS))]

    def produce(self, ids):
        from ..synthetic.portraits import make_sample
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


class SyntheticIds:
    """The ids of a :class:`SyntheticSource`, computed on demand: a sequence with a fast ``in``.

    Examples
    --------
    >>> from ldmatte.dataset.sources import SyntheticIds
    >>> ids = SyntheticIds(10**9, seed=2)
    >>> len(ids), ids[1], "syn2-000001" in ids, "syn2-1" in ids
    (1000000000, 'syn2-000001', True, False)
    """

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self._prefix = n, seed, f"syn{seed}-"

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> str:
        if not -self.n <= i < self.n:
            raise IndexError(i)
        return f"{self._prefix}{i % self.n:06d}"

    def __iter__(self):
        return (f"{self._prefix}{i:06d}" for i in range(self.n))

    def __contains__(self, sample_id) -> bool:
        if not isinstance(sample_id, str) or not sample_id.startswith(self._prefix):
            return False
        rest = sample_id[len(self._prefix):]
        return rest.isdigit() and rest.isascii() and int(rest) < self.n and rest == f"{int(rest):06d}"


def _as_id(stem: str, taken: set) -> str:
    """A file-name-safe, unique id from a file stem (a short hash marks any change)."""
    if SAFE_ID.match(stem) and stem not in taken:
        return stem
    clean = re.sub(r"[^A-Za-z0-9._-]", "_", stem).lstrip("._-")[:100] or "img"
    return f"{clean}-{hashlib.sha256(stem.encode()).hexdigest()[:8]}"


class FolderSource:
    """Existing RGBA images in a folder (``*.png`` by default; recursive with ``recursive=True``).

    Ids are the file names without extension (made file-name safe where
    needed). Each real file is taken once (device + inode), and links to
    folders are entered only with ``follow_symlinks`` (each folder once, so a
    link loop ends). ``metadata`` is an optional JSON-lines file whose records,
    matched by ``id`` (e.g. a prompt bank or the manifest of ``ldmatte
    generate``), give prompts, attributes, seeds and model identifiers.
    Unreadable images, images without an alpha channel and the like come back
    as errors. A sample whose file changed (size or modification time) since
    it was built is redone (:meth:`changed`).
    """

    name = "folder"

    def __init__(self, folder, pattern: str = "*.png", recursive: bool = False, metadata=None,
                 follow_symlinks: bool = False):  # fmt: skip
        import fnmatch

        from ..fileio.ownership import collect_images

        self.folder = os.fspath(folder)
        if not os.path.isdir(self.folder):
            raise FileNotFoundError(f"no such folder: {self.folder}")
        self.inputs = [self.folder]
        found, problems = collect_images([self.folder], recursive=recursive, follow_symlinks=follow_symlinks,
                                         suffixes=("",))  # fmt: skip
        # Files that match but cannot be used (a broken link, a named pipe): the build lists them as errors.
        self.problems = [p for p in problems if fnmatch.fnmatch(os.path.basename(p.path), pattern)]
        self.files: dict[str, str] = {}
        self._stamps: dict[str, list] = {}
        for f in found:
            if not fnmatch.fnmatch(f.rel.rsplit("/", 1)[-1], pattern):
                continue
            stem = os.path.splitext(f.rel)[0].replace("/", "__")
            sample_id = _as_id(stem, set(self.files))
            self.files[sample_id] = f.path
            self._stamps[sample_id] = [f.size, f.mtime_ns]
        self.metadata = {}
        if metadata is not None:
            self.metadata = {str(r["id"]): r for r in read_lines(os.fspath(metadata))}

    def ids(self) -> list[str]:
        return list(self.files)

    def changed(self, entry: dict) -> bool:
        """True when the file of a built sample changed since (a sample built without a stamp: False)."""
        stamp = entry.get("source_stamp")
        return stamp is not None and entry.get("id") in self._stamps and self._stamps[entry["id"]] != stamp

    def produce(self, ids):
        for sample_id in ids:
            path = self.files[check_id(sample_id)]
            meta = {"origin": os.path.relpath(path, self.folder).replace(os.sep, "/")}
            meta.update(_metadata_fields(self.metadata.get(sample_id, {})))
            try:
                stamp = input_stamp(path)  # before reading: a file replaced meanwhile is redone by the next run
                yield Produced(sample_id, read_rgba(path), {**meta, "source_stamp": stamp})
            except (ImageReadError, OSError) as exc:
                yield Produced(sample_id, None, meta, error=str(exc).replace(self.folder + os.sep, ""))

    def settings(self) -> dict:
        """What the samples depend on: the folder itself (its files may come and go: they are tracked by stamp)."""
        return {"source": self.name, "folder": os.path.realpath(self.folder)}

    def describe(self) -> dict:
        return {"source": self.name, "folder": os.path.basename(os.path.normpath(self.folder)),
                "files": len(self.files), "metadata_records": len(self.metadata)}  # fmt: skip


_META_KEYS = ("prompt", "negative_prompt", "attributes", "seed", "model", "base_model", "steps", "guidance",
              "scheduler", "dtype", "height", "width", "tta")  # fmt: skip


def _metadata_fields(record: dict) -> dict:
    """The fields of a metadata record worth keeping in a dataset manifest."""
    return {k: record[k] for k in _META_KEYS if k in record}
