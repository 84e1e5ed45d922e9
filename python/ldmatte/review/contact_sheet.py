"""A before/after contact sheet of a refinement run: small PNG thumbnails and one static HTML page.

For every image, :func:`write_thumbnails` writes five thumbnails: the input and
the refined image composited on a checkerboard, both alphas, and the changed
pixels (orange raised, blue lowered, from :func:`ldmatte.panels.change_map`).
:func:`write_sheet` writes ``index.html`` from the per-image records of the run
(the JSON reports written next to each output), so a rerun that skips finished
images still lists them. The page is self-contained (inline CSS, a few lines of
script to sort), links use relative paths, and images load lazily, so it opens
from a local folder and stays usable with thousands of rows.
"""
from __future__ import annotations

import html
import os
import pathlib
import urllib.parse

import cv2
import numpy as np

from ..fileio.readwrite import write_bytes_atomic, write_png_atomic
from .panels import LOWERED, RAISED, change_map, checkerboard

__all__ = ["THUMB_WIDTH", "KINDS", "thumbnails", "write_thumbnails", "write_sheet"]

THUMB_WIDTH = 224
KINDS = ("input", "refined", "alpha_in", "alpha_out", "changes")
CAPTIONS = {"input": "input", "refined": "refined", "alpha_in": "input alpha", "alpha_out": "refined alpha",
            "changes": "changed pixels"}  # fmt: skip


def _thumb_size(height: int, width: int, thumb_width: int) -> tuple[int, int]:
    """(width, height) of a thumbnail; never larger than the image."""
    w = min(width, thumb_width)
    return w, max(1, round(height * w / width))


def _small_premultiplied(rgba: np.ndarray, size) -> np.ndarray:
    """Area-averaged premultiplied RGBA: averaging colour weighted by alpha, as a composite would."""
    return cv2.resize(cv2.cvtColor(rgba, cv2.COLOR_RGBA2mRGBA), size, interpolation=cv2.INTER_AREA)


def _composite_thumb(small: np.ndarray) -> np.ndarray:
    """A small premultiplied RGBA over a checkerboard (the same as shrinking the full-size composite)."""
    bg = checkerboard(small.shape[0], small.shape[1], cell=8).astype(np.float32)
    out = small[..., :3] + bg * (1 - small[..., 3:] * np.float32(1 / 255))
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def thumbnails(before, after, width: int = THUMB_WIDTH) -> dict:
    """The five thumbnails (uint8 RGB or gray arrays, keyed by :data:`KINDS`) of one image.

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte.contact_sheet import thumbnails
    >>> im = np.zeros((64, 128, 4), np.uint8); im[16:48, 32:96] = (200, 80, 80, 250)
    >>> out = im.copy(); out[16:48, 32:96, 3] = 255
    >>> {k: v.shape for k, v in thumbnails(im, out, width=32).items()}  # doctest: +NORMALIZE_WHITESPACE
    {'input': (16, 32, 3), 'refined': (16, 32, 3), 'alpha_in': (16, 32), 'alpha_out': (16, 32),
     'changes': (16, 32, 3)}
    """
    before, after = np.asarray(before), np.asarray(after)
    for name, x in (("before", before), ("after", after)):
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[2] != 4:
            raise TypeError(f"{name}: expected an (H, W, 4) uint8 RGBA array, got {x.dtype} {x.shape}")
    if before.shape != after.shape:
        raise ValueError(f"before and after differ in shape: {before.shape} vs {after.shape}")
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 8:
        raise ValueError(f"width must be an integer >= 8, got {width!r}")
    size = _thumb_size(before.shape[0], before.shape[1], int(width))
    small_in, small_out = _small_premultiplied(before, size), _small_premultiplied(after, size)
    return {
        "input": _composite_thumb(small_in),
        "refined": _composite_thumb(small_out),
        "alpha_in": np.ascontiguousarray(small_in[..., 3]),
        "alpha_out": np.ascontiguousarray(small_out[..., 3]),
        "changes": change_map(before[..., 3], after[..., 3], size),
    }


def write_thumbnails(root, stem: str, before, after, width: int = THUMB_WIDTH) -> dict:
    """Write the thumbnails as ``root/<stem>.<kind>.png``; return their paths relative to ``root``.

    ``stem`` may contain ``/`` (subfolders are created). They are derived data,
    so they are written atomically but without fsync.
    """
    rel = {}
    for kind, img in thumbnails(before, after, width).items():
        rel[kind] = f"{stem}.{kind}.png"
        path = os.path.join(os.fspath(root), *rel[kind].split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_png_atomic(path, img, durable=False)
    return rel


def _url(rel: str) -> str:
    return urllib.parse.quote(rel.replace(os.sep, "/"))


def _link_to(target: str, folder: str) -> str:
    try:
        return _url(os.path.relpath(target, folder))
    except ValueError:  # another drive (Windows): an absolute file URI
        return pathlib.Path(target).resolve().as_uri()


def _pct(x) -> str:
    return f"{100 * float(x):.2f} %"


def haze_notes(rep: dict) -> list[str]:
    """The line that flags an image without a clear background (``RefineReport.to_dict()``), or none."""
    if not rep.get("no_clear_background"):
        return []
    if rep.get("haze_floor"):
        top = rep.get("haze_floor_max", 0)
        level = f"{rep['haze_floor']:g}" + (f" (up to {top})" if top > round(rep["haze_floor"]) else "")
        return [f"no clear background: a haze floor at alpha {level} was removed before refinement"]
    return ["no clear background: no haze floor found on the frame; refined by the plain rule"]


def _stats_html(rec: dict) -> str:
    rep, e = rec.get("report", {}), html.escape
    rows = []
    if rep:
        rows += [
            ("size", f"{rep['width']} × {rep['height']}"),
            ("changed", f"{_pct(rep['changed_share'])} <small>(+{rep['pixels_raised']:,} / "
                        f"−{rep['pixels_lowered']:,})</small>"),
            ("0 &lt; α &lt; 255", f"{_pct(rep['transition_share_before'])} → {_pct(rep['transition_share_after'])}"),
            ("uncertain kept", _pct(rep["uncertain_kept_share"])),
            ("components", f"{rep['band_components']} band, {rep['interior_components']} interior, "
                           f"{rep['floating_components']} floating, {rep['isolated_components']} isolated"),
        ]  # fmt: skip
        if rep.get("islands_removed"):
            rows.append(("islands removed", f"{rep['islands_removed']} ({rep['island_pixels_removed']:,} px)"))
    for name, m in rec.get("metrics", {}).items():
        rows.append((e(name), f"{m['before']:.4g} → <b>{m['after']:.4g}</b>"))
    if "refine_s" in rec.get("timings", {}):
        rows.append(("refine", f"{1000 * rec['timings']['refine_s']:.1f} ms"))
    notes = "".join(f'<p class="note">{e(n)}</p>' for n in [*haze_notes(rep), *rec.get("image", {}).get("notes", [])])
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table class='stats'>{body}</table>{notes}"


def _row_html(rec: dict, root: str) -> str:
    e, rep = html.escape, rec.get("report", {})
    out_rel = rec["output"]
    figs, (w, h) = [], _thumb_size(rep.get("height", 1), rep.get("width", 1), THUMB_WIDTH)
    for kind in KINDS:
        rel = rec.get("thumbnails", {}).get(kind)
        if rel and os.path.isfile(os.path.join(root, rel)):
            target = _link_to(rec["input"], root) if kind == "input" and rec.get("input") else _url(out_rel)
            img = (f'<a href="{target}"><img src="{_url(rel)}" width="{w}" height="{h}" loading="lazy" '
                   f'alt="{CAPTIONS[kind]}"></a>')  # fmt: skip
        else:
            img = f'<div class="missing" style="aspect-ratio:{w}/{h}">no thumbnail</div>'
        figs.append(f"<figure>{img}<figcaption>{CAPTIONS[kind]}</figcaption></figure>")
    sad = rec.get("metrics", {}).get("SAD", {}).get("after", 0)
    data = (f'data-name="{e(out_rel)}" data-changed="{rep.get("changed_share", 0)}" '
            f'data-unkept="{1 - rep.get("uncertain_kept_share", 1)}" data-sad="{sad}"')  # fmt: skip
    head = (f'<h2><a href="{_url(out_rel)}">{e(out_rel)}</a></h2>'
            f'<p class="src">{e(os.path.basename(rec.get("input", "")))} · '
            f'<a href="{_url(os.path.splitext(out_rel)[0] + ".json")}">report</a></p>')  # fmt: skip
    return f'<section class="row" {data}><div class="info">{head}{_stats_html(rec)}</div>' \
           f'<div class="thumbs">{"".join(figs)}</div></section>'


_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f3f3f1;color:#222}
header{background:#262626;color:#eee;padding:18px 28px}header h1{margin:0 0 6px;font-size:20px;font-weight:600}
header p{margin:2px 0;color:#bbb}header b{color:#fff}
.bar{display:flex;gap:18px;align-items:center;flex-wrap:wrap;padding:10px 28px;background:#fff;
border-bottom:1px solid #ddd;position:sticky;top:0;z-index:1}
.key{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:-1px;margin-right:4px}
main{padding:16px 28px}
.row{display:grid;grid-template-columns:270px minmax(0,1fr);gap:16px;background:#fff;border:1px solid #e0e0e0;
border-radius:8px;padding:12px 14px;margin-bottom:12px}
@media (max-width:900px){.row{grid-template-columns:minmax(0,1fr)}}
.info{min-width:0}.info h2{font-size:15px;margin:0 0 2px;word-break:break-all}
.info h2 a{color:#222;text-decoration:none}.src{margin:0 0 6px;color:#777;font-size:12px}.src a{color:#37c}
.stats{border-collapse:collapse;font-size:12.5px}.stats th{text-align:left;color:#666;font-weight:normal;
padding:1px 10px 1px 0;white-space:nowrap;vertical-align:top}.stats td{padding:1px 0}
.note{font-size:12px;color:#8a5a00;background:#fff6e0;padding:3px 6px;border-radius:4px;margin:6px 0 0}
.thumbs{display:grid;grid-template-columns:repeat(5,minmax(0,%(w)dpx));gap:8px;align-items:start}
figure{margin:0}figcaption{font-size:12px;color:#666;text-align:center}
figure img,.missing{display:block;width:100%%;height:auto;box-sizing:border-box;border:1px solid #ddd}
.missing{display:flex;align-items:center;justify-content:center;color:#999;border-style:dashed;font-size:12px}
.failed{background:#fff;border:1px solid #e8c4c4;border-radius:8px;padding:10px 14px;margin-bottom:16px}
.failed h2{font-size:15px;color:#a33;margin:0 0 6px}.failed td{padding:2px 12px 2px 0;vertical-align:top}
.failed code{word-break:break-all}
"""

_SCRIPT = """
document.getElementById('sort').onchange=function(){var k=this.value,c=document.getElementById('rows');
Array.from(c.children).sort(function(a,b){return k==='name'?a.dataset.name.localeCompare(b.dataset.name):
parseFloat(b.dataset[k])-parseFloat(a.dataset[k]);}).forEach(function(r){c.appendChild(r);});};
"""


def _failures_html(failures) -> str:
    if not failures:
        return ""
    e = html.escape
    rows = "".join(f"<tr><td><code>{e(f['input'])}</code></td><td>{e(f['reason'])}</td></tr>" for f in failures)
    return f'<div class="failed"><h2>{len(failures)} not refined</h2><table>{rows}</table></div>'


def write_sheet(path, records, title: str = "ldmatte refine", summary=(), failures=(),
                thumb_width: int = THUMB_WIDTH) -> None:  # fmt: skip
    """Write the HTML contact sheet atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The page; output and thumbnail paths in ``records`` are relative to its folder.
    records : list of dict
        Per-image records: ``output`` (relative path), ``input``, ``report``
        (:meth:`RefineReport.to_dict`), ``thumbnails`` (kind -> relative path),
        optional ``metrics`` (name -> {"before", "after"}), ``timings``, ``image``.
    title : str
    summary : list of str
        Lines under the title (counts, settings).
    failures : list of dict
        ``input`` and ``reason`` of the images that could not be refined.
    """
    path = os.fspath(path)
    root, e = os.path.dirname(os.path.abspath(path)), html.escape
    rows = "\n".join(_row_html(r, root) for r in sorted(records, key=lambda r: r["output"]))
    has_sad = any("SAD" in r.get("metrics", {}) for r in records)
    options = [("name", "name"), ("changed", "most changed"), ("unkept", "least uncertain kept")]
    options += [("sad", "highest SAD after")] if has_sad else []
    select = "".join(f'<option value="{v}">{t}</option>' for v, t in options)
    legend = (f'<span><span class="key" style="background:rgb{RAISED}"></span>raised</span>'
              f'<span><span class="key" style="background:rgb{LOWERED}"></span>lowered</span>'
              '<span><span class="key" style="background:#fff;border:1px solid #aaa"></span>both in one block</span>'
              '<span style="color:#777">composites on a checkerboard; click a thumbnail for the full image</span>')
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title><style>{_CSS % {"w": thumb_width}}</style></head><body>
<header><h1>{e(title)}</h1>{"".join(f"<p>{e(s)}</p>" for s in summary)}</header>
<div class="bar"><label>sort by <select id="sort">{select}</select></label>{legend}</div>
<main>{_failures_html(list(failures))}<div id="rows">
{rows}
</div></main><script>{_SCRIPT}</script></body></html>
"""  # fmt: skip
    write_bytes_atomic(path, page.encode("utf-8"), durable=False)
