"""Writing a generated dataset: per-image seeds, atomic PNGs, an append-only manifest, resume.

Layout of an output folder::

    raw/<id>.png        the decoder's RGBA, as LayerDiffuse writes it
    refined/<id>.png    after :func:`ldmatte.refine`
    manifest.jsonl      one line per finished image, appended after both PNGs are in place

A line is appended only after its files were written (temp file + rename), so the
manifest never names a missing or partial file; a run that stops is resumed by
skipping the ids already in the manifest. The manifest, ids and atomic writes are
those of :mod:`ldmatte.dataset.manifest` and :mod:`ldmatte.io`. Seeds derive from the run seed and the
record id, so an image does not depend on the batch it falls in.
"""
from __future__ import annotations

import hashlib
import os
import time

import numpy as np

from ..dataset.manifest import MANIFEST, append_line, check_id, read_lines, repair_tail
from ..fileio import readwrite as io

__all__ = ["DatasetWriter", "image_seed"]


def image_seed(seed: int, record_id: str) -> int:
    """Seed of one image, in [0, 2**63), from the run seed and the record id.

    Examples
    --------
    >>> from ldmatte.generate.dataset import image_seed
    >>> image_seed(0, "s0-000001") == image_seed(0, "s0-000001") != image_seed(1, "s0-000001")
    True
    """
    digest = hashlib.sha256(f"ldmatte-image:{int(seed)}:{record_id}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


class DatasetWriter:
    """Output folder of a generation run (see the module docstring).

    Written through the dataset's own primitives: ids checked by
    :func:`~ldmatte.dataset.manifest.check_id`, PNGs by
    :func:`ldmatte.io.write_png_atomic`, lines by
    :func:`~ldmatte.dataset.manifest.append_line` (one write, fsync) after their
    files; on start a torn last line is cut (:func:`~ldmatte.dataset.manifest.repair_tail`)
    and temp files of writers that no longer run are removed.

    Parameters
    ----------
    out_dir : path
    settings : dict
        Stored in every manifest line (model, steps, guidance, size, ...).
    """

    def __init__(self, out_dir, settings: dict | None = None):
        self.out_dir = os.fspath(out_dir)
        self.settings = dict(settings or {})
        for sub in ("raw", "refined"):
            os.makedirs(os.path.join(self.out_dir, sub), exist_ok=True)
        self.manifest = os.path.join(self.out_dir, MANIFEST)
        repair_tail(self.manifest)
        io.remove_stale_temps(self.out_dir)
        self.done = {rec["id"] for rec in read_lines(self.manifest)}

    def pending(self, records) -> list[dict]:
        """Records not yet in the manifest, first occurrence of each id, ids checked as file names."""
        todo, seen = [], set()
        for rec in records:
            rid = check_id(str(rec["id"]))
            if rid in self.done or rid in seen:
                continue
            seen.add(rid)
            todo.append(rec)
        return todo

    def add(self, record: dict, seed: int, raw: np.ndarray, refined: np.ndarray | None, report=None) -> dict:
        """Write the PNGs of one image, then append its manifest line; return the line."""
        rid = check_id(str(record["id"]))
        entry = {"id": rid, "prompt": record["prompt"], "negative_prompt": record.get("negative_prompt"),
                 "attributes": record.get("attributes", {}), "seed": int(seed)}  # fmt: skip
        entry["raw"] = f"raw/{rid}.png"
        io.write_png_atomic(os.path.join(self.out_dir, entry["raw"]), raw)
        if refined is not None:
            entry["refined"] = f"refined/{rid}.png"
            io.write_png_atomic(os.path.join(self.out_dir, entry["refined"]), refined)
        if report is not None:
            entry["report"] = report.to_dict()
        entry.update(self.settings)
        entry["created"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        append_line(self.manifest, entry)
        self.done.add(rid)
        return entry
