"""Writing a generated dataset: per-image seeds, atomic PNGs, an append-only manifest, resume.

Layout of an output folder::

    raw/<id>.png        the decoder's RGBA, as LayerDiffuse writes it
    refined/<id>.png    after :func:`ldmatte.refine`
    manifest.jsonl      one line per finished image, appended after both PNGs are in place

A line is appended only after its files were written (temp file + rename), so the
manifest never names a missing or partial file; a run that stops is resumed by
skipping the ids already in the manifest. Seeds derive from the run seed and the
record id, so an image does not depend on the batch it falls in.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import time

import numpy as np

__all__ = ["DatasetWriter", "image_seed", "read_manifest"]

MANIFEST = "manifest.jsonl"
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


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


def read_manifest(path) -> list[dict]:
    """Records of a manifest; a torn last line (an interrupted append) is ignored."""
    if not os.path.exists(path):
        return []
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict) and "id" in rec:
                out.append(rec)
    return out


def _write_png_atomic(path: str, rgba: np.ndarray) -> None:
    import cv2

    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    if not ok:  # pragma: no cover - OpenCV only fails on invalid input
        raise RuntimeError(f"PNG encoding failed for {path}")
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(buf.tobytes())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class DatasetWriter:
    """Output folder of a generation run (see the module docstring).

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
        self.done = {rec["id"] for rec in read_manifest(self.manifest)}
        self._repair_tail()

    def pending(self, records) -> list[dict]:
        """Records not yet in the manifest, first occurrence of each id, ids checked as file names."""
        todo, seen = [], set()
        for rec in records:
            rid = str(rec["id"])
            if not _SAFE_ID.match(rid):
                raise ValueError(f"record id {rid!r} is not usable as a file name (letters, digits, '.', '_', '-')")
            if rid in self.done or rid in seen:
                continue
            seen.add(rid)
            todo.append(rec)
        return todo

    def _repair_tail(self) -> None:
        # An interrupted append may leave a line without its newline: end it so the
        # next record starts on a line of its own (the torn line is skipped on read).
        if os.path.exists(self.manifest) and os.path.getsize(self.manifest):
            with open(self.manifest, "rb") as f:
                f.seek(-1, os.SEEK_END)
                last = f.read(1)
            if last != b"\n":
                with open(self.manifest, "ab") as f:
                    f.write(b"\n")

    def add(self, record: dict, seed: int, raw: np.ndarray, refined: np.ndarray | None, report=None) -> dict:
        """Write the PNGs of one image, then append its manifest line; return the line."""
        rid = str(record["id"])
        entry = {"id": rid, "prompt": record["prompt"], "negative_prompt": record.get("negative_prompt"),
                 "attributes": record.get("attributes", {}), "seed": int(seed)}  # fmt: skip
        entry["raw"] = f"raw/{rid}.png"
        _write_png_atomic(os.path.join(self.out_dir, entry["raw"]), raw)
        if refined is not None:
            entry["refined"] = f"refined/{rid}.png"
            _write_png_atomic(os.path.join(self.out_dir, entry["refined"]), refined)
        if report is not None:
            entry["report"] = report.to_dict()
        entry.update(self.settings)
        entry["created"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        with open(self.manifest, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.done.add(rid)
        return entry
