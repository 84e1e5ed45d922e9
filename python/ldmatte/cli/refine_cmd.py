"""``ldmatte refine``: refine RGBA PNGs (files and folders) into an output folder, kill-safe and resumable.

Every input ``<rel>.png`` gives ``OUTDIR/<rel>.png`` (the refined RGBA, or the
refined alpha for a grayscale input) and ``OUTDIR/<rel stem>.json`` (its
report), written in that order and atomically: the JSON marks a finished image,
so a rerun skips it (unless the input's size or modification time changed), and
a killed run leaves at most temp files, removed by the next run.
``OUTDIR/refine-summary.json`` and the contact sheet ``OUTDIR/index.html``
(thumbnails in ``OUTDIR/_sheet/``) are rewritten at the end.

Workers are threads, not processes: the Numba kernels run with ``nogil=True``
and OpenCV's PNG codecs release the GIL, so threads use all cores without
starting interpreters, loading the kernels once per process or pickling images.
"""
from __future__ import annotations

import concurrent.futures as cf
import json
import os
import sys
import threading
import time

ORDER = 10
SUMMARY = "refine-summary.json"
SHEET = "index.html"
THUMBS = "_sheet"


def add_refine_options(p) -> None:
    """The options that map to :func:`ldmatte.refine` keywords."""
    from ..caar import DEFAULTS

    g = p.add_argument_group("refinement (see ldmatte.refine)")
    g.add_argument("--fg-tol", type=int, default=DEFAULTS["fg_tol"], help="opaque tolerance in levels "
                   "(alpha >= 255 - fg_tol is core; default %(default)s)")  # fmt: skip
    g.add_argument("--bg-tol", type=int, default=DEFAULTS["bg_tol"], help="clear tolerance in levels "
                   "(alpha <= bg_tol is background; default %(default)s)")  # fmt: skip
    g.add_argument("--connectivity", type=int, choices=(4, 8), default=DEFAULTS["connectivity"])
    g.add_argument("--no-snap", action="store_true", help="keep the values of the core and background")
    g.add_argument("--keep-translucent-interior", action="store_true",
                   help="do not fill translucent regions enclosed by the core (glass, veils)")  # fmt: skip
    sub = g.add_mutually_exclusive_group()
    sub.add_argument("--min-subject-fraction", type=float, default=DEFAULTS["min_subject_fraction"],
                     help="keep parts at least this fraction of the largest (default %(default)s)")  # fmt: skip
    sub.add_argument("--no-subject-rule", action="store_true", help="keep every separate part")


def refine_kwargs(args) -> dict:
    return dict(fg_tol=args.fg_tol, bg_tol=args.bg_tol, connectivity=args.connectivity, snap=not args.no_snap,
                fill_interior=not args.keep_translucent_interior,
                min_subject_fraction=None if args.no_subject_rule else args.min_subject_fraction)  # fmt: skip


def add_run_options(p) -> None:
    p.add_argument("-j", "--jobs", type=int, default=None, help="worker threads (default: CPU cores, at most 8)")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu",
                   help="cuda: refine on the GPU (torch + the CUDA build); auto: the GPU when usable; "
                   "default cpu (outputs then do not depend on the machine)")  # fmt: skip
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary (failures still)")


def register(sub) -> None:
    p = sub.add_parser(
        "refine", help="refine RGBA PNGs (alpha repair + colour padding) into an output folder",
        description="Refine Layer Diffusion RGBA PNGs: repair the alpha with the connectivity prior and re-pad "
        "the colour. Outputs mirror the inputs' relative paths under OUTDIR, each with a JSON report; a rerun "
        "skips finished images. Writes a before/after contact sheet OUTDIR/index.html. Grayscale PNGs are "
        "refined as alpha mattes. Exit status 1 when some inputs could not be refined, 2 on usage errors.",
    )  # fmt: skip
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="PNG files or folders of PNGs")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="output folder (created)")
    p.add_argument("-r", "--recursive", action="store_true", help="also look in subfolders of INPUT folders")
    p.add_argument("--overwrite", action="store_true", help="redo images that are already done")
    p.add_argument("--max-pixels", type=int, default=None, help="refuse larger images (default 8192 x 8192)")
    p.add_argument("--thumb-width", type=int, default=None, help="contact sheet thumbnail width (default 224)")
    add_run_options(p)
    add_refine_options(p)
    p.set_defaults(func=run)


class UsageError(ValueError):
    """A problem with the command line: nothing is refined."""


def _scan(folder: str, recursive: bool, skip: str) -> list[str]:
    found = []
    for root, dirs, files in os.walk(folder):
        # Hidden names are skipped (temp files are hidden), and so is the output folder.
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and os.path.realpath(os.path.join(root, d)) != skip)
        found += [os.path.join(root, f) for f in sorted(files) if f.lower().endswith(".png") and f[0] != "."]
        if not recursive:
            break
    return found


def collect(inputs, outdir: str, recursive: bool = False):
    """Plan the work: ``(jobs, failures)``; a job is ``(input path, output path relative to outdir)``.

    Raises UsageError when an output would replace an input.
    """
    skip, jobs, failures, taken = os.path.realpath(outdir), [], [], {}
    reserved = {SUMMARY, SHEET, THUMBS}
    for arg in inputs:
        if os.path.isdir(arg):
            pairs = [(f, os.path.relpath(f, arg)) for f in _scan(arg, recursive, skip)]
        elif os.path.isfile(arg):
            pairs = [(arg, os.path.basename(arg))]
        else:
            failures.append({"input": arg, "reason": "no such file or folder"})
            continue
        for src, rel in pairs:
            rel = os.path.splitext(rel)[0].replace(os.sep, "/") + ".png"
            key = os.path.normcase(rel)
            if key.split("/")[0] in reserved or os.path.splitext(key)[0] + ".json" in reserved:
                failures.append({"input": src, "reason": f"output name {rel!r} is reserved for the run's own files"})
            elif key in taken:
                failures.append({"input": src, "reason": f"output {rel!r} is already the output of {taken[key]}"})
            else:
                taken[key] = src
                jobs.append((src, rel))
    sources = {os.path.realpath(src) for src, _ in jobs}
    for src, rel in jobs:
        for out in (rel, os.path.splitext(rel)[0] + ".json"):
            if os.path.realpath(os.path.join(outdir, out)) in sources:
                raise UsageError(f"output {os.path.join(outdir, out)} would overwrite an input; "
                                 "choose another output folder")  # fmt: skip
    return jobs, failures


def resolve_device(device: str) -> str:
    """``cpu`` or ``cuda`` for the --device choice; UsageError when cuda is asked for and cannot run."""
    if device == "cpu":
        return "cpu"
    from .. import _backend

    why = None
    try:
        import torch

        if not torch.cuda.is_available():
            why = "torch sees no CUDA GPU"
    except ImportError:
        why = "torch is not installed"
    if why is None and not _backend.cuda_usable():
        why = "ldmatte was built without its CUDA kernels (reinstall with a CUDA compiler and LDMATTE_CUDA=ON)"
    if why and device == "cuda":
        raise UsageError(f"--device cuda: {why}; use --device cpu")
    return "cpu" if why else "cuda"


class Runner:
    """Refines jobs into ``outdir``; one instance per run (shared by ``refine`` and ``demo``)."""

    def __init__(self, outdir, kwargs, device="cpu", max_pixels=None, thumb_width=None, extra=None):
        from .. import contact_sheet, io

        self.outdir, self.kwargs, self.device = outdir, kwargs, device
        self.max_pixels = io.MAX_PIXELS if max_pixels is None else max_pixels
        self.thumb_width = thumb_width or contact_sheet.THUMB_WIDTH
        self.extra = extra  # extra(rel, before, after) -> {"name": {"before", "after"}}: metrics for the sheet
        self._gpu_lock = threading.Lock()

    def _refine(self, rgba):
        import ldmatte

        if self.device == "cpu":
            return ldmatte.refine(rgba, **self.kwargs, return_report=True, backend="cpu")
        import torch

        with self._gpu_lock:  # one image at a time on the device; reading and writing still overlap
            out, report = ldmatte.refine(torch.from_numpy(rgba).cuda(), **self.kwargs, return_report=True)
            return out.cpu().numpy(), report

    def process(self, src: str, rel: str) -> dict:
        """Refine one file; return its record (raises on failure)."""
        from .. import contact_sheet, io

        t0 = time.perf_counter()
        stamp = _stamp(src)  # before reading: a file replaced meanwhile is redone by the next run
        rgba, info = io.read_rgba(src, self.max_pixels)
        t1 = time.perf_counter()
        out, report = self._refine(rgba)
        t2 = time.perf_counter()
        dst = os.path.join(self.outdir, *rel.split("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        io.write_png_atomic(dst, out[..., 3] if info.alpha_only else out)
        t3 = time.perf_counter()
        stem = f"{THUMBS}/{os.path.splitext(rel)[0]}"
        thumbs = contact_sheet.write_thumbnails(self.outdir, stem, rgba, out, self.thumb_width)
        rec = dict(input=os.path.abspath(src), input_stamp=stamp, output=rel, image=info.to_dict(), device=self.device,
                   settings=self.kwargs, report=report.to_dict(), thumbnails=thumbs)  # fmt: skip
        if self.extra:
            rec["metrics"] = self.extra(rel, rgba, out)
        t4 = time.perf_counter()
        spans = dict(read_s=t1 - t0, refine_s=t2 - t1, write_s=t3 - t2, sheet_s=t4 - t3, total_s=t4 - t0)
        rec["timings"] = {k: round(v, 6) for k, v in spans.items()}
        io.write_json_atomic(os.path.splitext(dst)[0] + ".json", rec)  # last: marks the image as done
        return rec


def _stamp(path: str) -> list:
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def _done_record(outdir: str, src: str, rel: str):
    """The record of a finished image, or None when it must be (re)done (missing, or the input changed)."""
    png = os.path.join(outdir, *rel.split("/"))
    try:
        if os.path.isfile(png):
            with open(os.path.splitext(png)[0] + ".json", encoding="utf-8") as f:
                rec = json.load(f)
            if isinstance(rec, dict) and rec.get("output") == rel and rec.get("input_stamp") == _stamp(src):
                return rec
    except (OSError, ValueError):
        pass
    return None


def _one_kernel_thread() -> None:
    # The workers give the parallelism; each kernel runs on one thread (the setting is per thread).
    import numba

    numba.set_num_threads(1)


def execute(runner: Runner, jobs, overwrite=False, n_jobs=None, progress=True):
    """Run ``jobs``; return (records of finished images, failures, count refined now, count skipped)."""
    from tqdm import tqdm

    records, failures, todo = [], [], []
    for src, rel in jobs:
        rec = None if overwrite else _done_record(runner.outdir, src, rel)
        (todo.append((src, rel)) if rec is None else records.append(rec))
    skipped = len(records)
    n_jobs = max(1, min(n_jobs or min(os.cpu_count() or 1, 8), len(todo) or 1))
    init = _one_kernel_thread if n_jobs > 1 else None
    with tqdm(total=len(todo), file=sys.stderr, disable=not progress, unit="img", desc="refine") as bar, \
            cf.ThreadPoolExecutor(n_jobs, initializer=init) as pool:  # fmt: skip
        futures = {pool.submit(runner.process, src, rel): src for src, rel in todo}
        for fut in cf.as_completed(futures):
            try:
                records.append(fut.result())
            except Exception as exc:  # noqa: BLE001 - a bad file is listed, the others finish
                from ..io import ImageReadError

                reason = exc.reason if isinstance(exc, ImageReadError) else f"{type(exc).__name__}: {exc}"
                failures.append({"input": futures[fut], "reason": reason})
            bar.update(1)
    return records, failures, len(records) - skipped, skipped


def finish(outdir, records, failures, refined, skipped, kwargs, seconds, title="ldmatte refine", extra_lines=()):
    """Write the summary JSON and the contact sheet; return the summary dict."""
    from .. import contact_sheet, io
    from .._version import __version__

    failures = sorted(failures, key=lambda f: f["input"])
    other = sorted(r["output"] for r in records if r.get("settings") != kwargs)
    summary = dict(ldmatte=__version__, settings=kwargs, seconds=round(seconds, 3),
                   counts=dict(refined=refined, skipped=skipped, failed=len(failures)),
                   failures=failures, other_settings=other)  # fmt: skip
    io.write_json_atomic(os.path.join(outdir, SUMMARY), summary)
    counts = f"{len(records)} images: {refined} refined now, {skipped} already done, {len(failures)} failed"
    lines = [f"{counts} ({seconds:.1f} s)", "settings: " + ", ".join(f"{k}={v}" for k, v in kwargs.items()),
             *extra_lines]  # fmt: skip
    contact_sheet.write_sheet(os.path.join(outdir, SHEET), records, title, lines, failures)
    return summary


def run(args) -> int:
    import ldmatte

    from .. import io

    kwargs = refine_kwargs(args)
    try:
        ldmatte.refine(__import__("numpy").zeros((1, 1, 4), "uint8"), **kwargs)  # the library checks the options
        for name, value, low in (("--jobs", args.jobs, 1), ("--max-pixels", args.max_pixels, 1),
                                 ("--thumb-width", args.thumb_width, 8)):  # fmt: skip
            if value is not None and value < low:
                raise UsageError(f"{name} must be at least {low}, got {value}")
        device = resolve_device(args.device)
        jobs, failures = collect(args.inputs, args.output, args.recursive)
        if not jobs and not failures:
            raise UsageError("no PNG files found in the inputs" + ("" if args.recursive else " (try --recursive)"))
        os.makedirs(args.output, exist_ok=True)
    except (UsageError, ValueError, OSError) as exc:
        print(f"ldmatte refine: {exc}", file=sys.stderr)
        return 2
    io.remove_stale_temps(args.output)  # left by a killed run
    start = time.perf_counter()
    runner = Runner(args.output, kwargs, device, args.max_pixels, args.thumb_width)
    progress = not args.quiet and sys.stderr.isatty()
    records, failed, refined, skipped = execute(runner, jobs, args.overwrite, args.jobs, progress)
    failures += failed
    summary = finish(args.output, records, failures, refined, skipped, kwargs, time.perf_counter() - start)
    report(summary, args.output, args.quiet)
    return 1 if failures else 0


def report(summary: dict, outdir: str, quiet: bool) -> None:
    """Print the counts (stdout) and the failures (stderr)."""
    for f in summary["failures"]:
        print(f"failed: {f['input']}: {f['reason']}", file=sys.stderr)
    if quiet:
        return
    c = summary["counts"]
    print(f"refined {c['refined']}, skipped {c['skipped']} (already done), failed {c['failed']} "
          f"in {summary['seconds']:.1f} s")  # fmt: skip
    if summary["other_settings"]:
        print(f"note: {len(summary['other_settings'])} finished outputs were made with other settings "
              "(--overwrite redoes them)")  # fmt: skip
    print(f"contact sheet: {os.path.join(outdir, SHEET)}")
