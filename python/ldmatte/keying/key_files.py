"""Keying image files into an output folder: kill-safe, resumable, interruptible (``ldmatte key``).

Every input ``<rel>.<ext>`` (PNG, JPEG, WebP, BMP or TIFF, read with its EXIF
orientation applied; an alpha channel, if any, is ignored) gives ``OUTDIR/<rel stem>.png`` (the keyed, despilled RGBA)
and ``OUTDIR/<rel stem>.json`` (its record: key colour, alpha statistics,
settings), written in that order and atomically: the JSON marks a finished
image, so a rerun skips it unless the input or the settings changed.
``OUTDIR/key-summary.json`` and the contact sheet ``OUTDIR/index.html``
(thumbnails in ``OUTDIR/_sheet/``) are rewritten at the end, also after an
interruption or a fault. The output folder is claimed
(:meth:`ldmatte.files.OutputFolder.claim`, kind ``"key"``) and must not
overlap the inputs. Items run on the batch engine (:mod:`ldmatte.batch`).

Examples
--------
>>> import os, tempfile, numpy as np
>>> from ldmatte.io import write_png_atomic
>>> from ldmatte.keying.key_files import KeySettings, key_files, plan_key
>>> src, out = tempfile.mkdtemp(), os.path.join(tempfile.mkdtemp(), "out")
>>> im = np.zeros((40, 40, 3), np.uint8); im[:] = (20, 190, 40); im[10:, 12:28] = (200, 150, 120)
>>> write_png_atomic(os.path.join(src, "a.png"), im)
>>> jobs, failures = plan_key([src], out)
>>> run = key_files(jobs, out, KeySettings("vlahos"), progress=False)
>>> run.keyed, run.failures, run.records[0]["key_color"]
(1, [], '#14be28')
"""
from __future__ import annotations

import dataclasses
import os
import threading
import time

import numpy as np

from ..batch import file_jobs
from ..batch.file_jobs import FileJob, FileRun, input_stamp

from .keyer import METHODS, PARAMS, key
from .spill import DespillParams

__all__ = ["KIND", "SUMMARY", "SUFFIXES", "KeySettings", "KeyJob", "KeyRun", "plan_key", "key_files", "finish",
           "backing_warning"]

KIND = "key"
SUMMARY = "key-summary.json"
SHEET = "index.html"
THUMBS = "_sheet"
SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
_RESERVED = {SUMMARY, SHEET, THUMBS}


@dataclasses.dataclass(frozen=True)
class KeySettings:
    """What to key with: ``method``, its parameter object (None: defaults), the key colour, the despill."""

    method: str = "chromakey"
    params: object = None
    key_color: object = "auto"
    despill: object = "auto"  # "auto", None or DespillParams
    device: str = "cpu"
    unmix: bool = False

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.params is None:
            object.__setattr__(self, "params", PARAMS[self.method]())
        if not isinstance(self.params, PARAMS[self.method]):
            raise TypeError(f"method {self.method!r} takes {PARAMS[self.method].__name__}")
        from .key_color import parse_key_color

        parse_key_color(self.key_color)  # raises on a bad colour before any work

    def to_dict(self) -> dict:
        dp = self.despill
        return dict(method=self.method, params=dataclasses.asdict(self.params), key_color=str(self.key_color),
                    despill=dataclasses.asdict(dp) if isinstance(dp, DespillParams) else dp, unmix=self.unmix)


class KeyJob(FileJob):
    """One image to key: ``path`` the input file, ``output`` its PNG relative to the output folder (``/``)."""


class KeyRun(FileRun):
    """What :func:`key_files` did: ``records`` of every finished image, ``failures``, counts, stop reason."""

    @property
    def keyed(self) -> int:
        """Images keyed by this run (``done``)."""
        return self.done


def plan_key(inputs, outdir, *, recursive: bool = False, follow_symlinks: bool = False):
    """``(jobs, failures)`` of a run; raises :class:`ldmatte.fileio.ownership.UsageError` when inputs and output overlap."""
    return file_jobs.plan_file_jobs(inputs, outdir, _RESERVED, recursive=recursive, follow_symlinks=follow_symlinks,
                                    suffixes=SUFFIXES, job=KeyJob)  # fmt: skip


def _hex(c) -> str:
    return "#" + "".join(f"{int(v):02x}" for v in c)


MIN_SCREEN_EXCESS = 24  # levels by which a backing's green (or blue) must exceed its other two channels
KEYED_OUT_SHARE = 0.99  # an image keyed out at least this much has no subject left


def backing_warning(key_rgb, alpha: np.ndarray, *, estimated: bool = True) -> str | None:
    """One line when a keyed image looks wrong, else None.

    An estimated key colour (from the border) that is neither green nor blue
    (its screen channel exceeds the other two by less than
    :data:`MIN_SCREEN_EXCESS` levels) means there was no backing to key; an
    image keyed out almost entirely (:data:`KEYED_OUT_SHARE`) has no subject left.

    Examples
    --------
    >>> import numpy as np
    >>> backing_warning((24, 178, 52), np.full((4, 4), 255, np.uint8)) is None
    True
    >>> backing_warning((128, 128, 128), np.zeros((4, 4), np.uint8)).startswith("no green or blue backing")
    True
    """
    r, g, b = (int(v) for v in key_rgb)
    gone = float((np.asarray(alpha) == 0).mean()) if np.asarray(alpha).size else 0.0
    if estimated and max(g - max(r, b), b - max(r, g)) < MIN_SCREEN_EXCESS:
        return (f"no green or blue backing: the key colour {_hex(key_rgb)} (from the border) is neither; "
                f"{100 * gone:.0f} % of the image keyed out (give --key-color if the backing is another colour)")
    if gone >= KEYED_OUT_SHARE:
        return f"{100 * gone:.1f} % of the image keyed out: no subject left in front of the {_hex(key_rgb)} backing"
    return None


class _Keyer:
    def __init__(self, outdir, settings: KeySettings, max_pixels=None, thumb_width=None):
        from ..fileio import readwrite as io
        from ..review import contact_sheet

        self.outdir, self.settings = os.fspath(outdir), settings
        self.max_pixels = io.MAX_PIXELS if max_pixels is None else max_pixels
        self.thumb_width = thumb_width or contact_sheet.THUMB_WIDTH
        self.settings_dict = settings.to_dict()
        self._gpu_lock = threading.Lock()
        from .key_color import parse_key_color

        self._estimated = parse_key_color(settings.key_color) is None  # the key colour comes from each border

    def done_record(self, job: KeyJob):
        return file_jobs.done_record(self.outdir, job, settings=self.settings_dict)

    def _key(self, rgb):
        s = self.settings
        kw = dict(key_color=s.key_color, despill_params=s.despill, return_key_color=True, unmix=s.unmix)
        if s.device == "cpu":
            return key(rgb, s.method, s.params, **kw)
        import torch

        with self._gpu_lock:
            out, colour = key(torch.from_numpy(rgb).cuda(), s.method, s.params, **kw)
            return out.cpu().numpy(), colour

    def process(self, job: KeyJob) -> dict:
        from ..fileio import readwrite as io
        from ..review import contact_sheet

        t0 = time.perf_counter()
        stamp = input_stamp(job.path)
        img, info = io.read_color(job.path, self.max_pixels)  # EXIF orientation applied, as the photo is seen
        notes = list(info.notes)
        out, colour = self._key(np.ascontiguousarray(img))
        t1 = time.perf_counter()
        dst = os.path.join(self.outdir, *job.output.split("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        io.write_png_atomic(dst, out)
        opaque_in = np.concatenate([img, np.full(img.shape[:2] + (1,), 255, np.uint8)], axis=-1)
        stem = f"{THUMBS}/{os.path.splitext(job.output)[0]}"
        small = contact_sheet.thumbnails(opaque_in, out, self.thumb_width)
        thumbs = {}
        for kind, name in (("input", "input"), ("refined", "keyed"), ("alpha_out", "alpha")):
            thumbs[name] = f"{stem}.{name}.png"
            path = os.path.join(self.outdir, *thumbs[name].split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            io.write_png_atomic(path, small[kind], durable=False)
        a = out[..., 3]
        stats = {"transparent": float((a == 0).mean()), "translucent": float(((a > 0) & (a < 255)).mean()),
                 "opaque": float((a == 255).mean())}
        rec = dict(input=os.path.abspath(job.path), input_stamp=stamp, output=job.output, key_color=_hex(colour),
                   settings=self.settings_dict, alpha=stats, thumbnails=thumbs,
                   image={**info.to_dict(), "notes": notes},
                   timings={"key_s": round(t1 - t0, 6), "total_s": round(time.perf_counter() - t0, 6)})
        warning = backing_warning(colour, a, estimated=self._estimated)
        if warning:
            rec["warning"] = warning
        io.write_json_atomic(os.path.splitext(dst)[0] + ".json", rec)  # last: marks the image done
        return rec


def key_files(jobs, outdir, settings: KeySettings, *, overwrite: bool = False, workers: int | None = None,
              progress: bool = True, stop=None, failures=(), max_pixels=None, thumb_width=None) -> KeyRun:
    """Key ``jobs`` into ``outdir`` (finished ones skipped unless ``overwrite``) on the batch engine."""
    keyer = _Keyer(outdir, settings, max_pixels, thumb_width)
    return file_jobs.run_file_jobs(jobs, keyer.outdir, keyer.process, keyer.done_record, overwrite=overwrite,
                                   workers=workers, progress=progress, stop=stop, failures=failures, desc="key",
                                   result=KeyRun)  # fmt: skip


def summary_dict(run: KeyRun, settings: KeySettings) -> dict:
    """The content of ``key-summary.json``."""
    return file_jobs.summary_dict(run, settings.to_dict(), "keyed")


def _sheet_row(rec: dict) -> dict:
    a = rec.get("alpha", {})
    stats = [("key colour", ("swatch", rec.get("key_color", ""))),
             ("size", f"{rec.get('image', {}).get('width', '?')} x {rec.get('image', {}).get('height', '?')}"),
             ("alpha = 0", f"{100 * a.get('transparent', 0):.1f} %"),
             ("0 < alpha < 255", f"{100 * a.get('translucent', 0):.1f} %"),
             ("alpha = 255", f"{100 * a.get('opaque', 0):.1f} %")]
    stats += [("note", n) for n in rec.get("image", {}).get("notes", [])]
    stats += [("warning", rec["warning"])] if rec.get("warning") else []
    thumbs = rec.get("thumbnails", {})
    return dict(title=rec["output"], link=rec["output"], stats=stats,
                images=[("input", thumbs.get("input")), ("keyed, on a checkerboard", thumbs.get("keyed")),
                        ("alpha", thumbs.get("alpha"))])


def finish(outdir, run: KeyRun, settings: KeySettings):
    """Write the summary and the contact sheet; ``(summary, fault line or None)`` (a write fault is not raised)."""
    from .sheet import write_rows_sheet

    p = settings.to_dict()
    lines = file_jobs.summary_lines(run, "keyed", [
        f"method {p['method']}: " + ", ".join(f"{k}={v}" for k, v in p["params"].items()),
        f"key colour {p['key_color']}, despill {p['despill']}, unmix {p['unmix']}"])  # fmt: skip
    summary = summary_dict(run, settings)
    rows = [_sheet_row(r) for r in sorted(run.records, key=lambda r: r["output"])]
    return file_jobs.write_summary_files(outdir, SUMMARY, summary, lambda: write_rows_sheet(
        os.path.join(outdir, SHEET), "ldmatte key", lines, rows, summary["failures"]))
