"""A small static HTML sheet of image rows (``ldmatte key`` and ``ldmatte compare``).

Each row has a title (optionally a link), a table of statistics and a list of
captioned thumbnails; links are relative to the page's folder, images load
lazily, and the page is written atomically.

Examples
--------
>>> import os, tempfile
>>> from ldmatte.keying.sheet import write_rows_sheet
>>> path = os.path.join(tempfile.mkdtemp(), "index.html")
>>> write_rows_sheet(path, "demo", ["one line"], [dict(title="a", stats=[("x", "1")], images=[("in", "a.png")])])
>>> "<h2>a</h2>" in open(path).read()
True
"""
from __future__ import annotations

import html
import os
import urllib.parse

from ..fileio.readwrite import write_bytes_atomic

__all__ = ["write_rows_sheet"]

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f3f3f1;color:#222}
header{background:#262626;color:#eee;padding:16px 26px}header h1{margin:0 0 6px;font-size:20px}
header p{margin:2px 0;color:#bbb}main{padding:14px 26px}
.row{display:grid;grid-template-columns:260px minmax(0,1fr);gap:14px;background:#fff;border:1px solid #e0e0e0;
border-radius:8px;padding:10px 12px;margin-bottom:10px}
.row h2{font-size:15px;margin:0 0 6px;word-break:break-all}.row h2 a{color:#222}
table.s{border-collapse:collapse;font-size:12.5px}table.s th{text-align:left;color:#666;font-weight:normal;
padding:1px 10px 1px 0;vertical-align:top}.imgs{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start}
figure{margin:0}figcaption{font-size:12px;color:#666;text-align:center}
figure img{display:block;border:1px solid #ddd;max-width:%(w)dpx;height:auto}
.sw{display:inline-block;width:12px;height:12px;border:1px solid #999;vertical-align:-1px;margin-right:4px}
.failed{background:#fff;border:1px solid #e8c4c4;border-radius:8px;padding:10px 14px;margin-bottom:14px}
.failed h2{font-size:15px;color:#a33;margin:0 0 6px}
"""


def _url(rel: str) -> str:
    return urllib.parse.quote(rel.replace(os.sep, "/"))


def write_rows_sheet(path, title: str, summary, rows, failures=(), thumb_width: int = 224) -> None:
    """Write the page: ``rows`` of dicts with ``title``, optional ``link``, ``stats`` [(name, text)] (text is
    escaped; a value ``("swatch", "#rrggbb")`` draws a colour swatch) and ``images`` [(caption, relative path)];
    ``failures`` of dicts with ``input`` and ``reason``."""
    e = html.escape
    parts = []
    if failures:
        items = "".join(f"<tr><td><code>{e(f['input'])}</code></td><td>{e(f['reason'])}</td></tr>" for f in failures)
        parts.append(f'<div class="failed"><h2>{len(failures)} failed</h2><table>{items}</table></div>')
    for r in rows:
        head = e(r["title"])
        if r.get("link"):
            head = f'<a href="{_url(r["link"])}">{head}</a>'
        stats = []
        for k, v in r.get("stats", []):
            if isinstance(v, tuple) and v and v[0] == "swatch":
                v_html = f'<span class="sw" style="background:{e(v[1])}"></span>{e(v[1])}'
            else:
                v_html = e(str(v))
            stats.append(f"<tr><th>{e(k)}</th><td>{v_html}</td></tr>")
        figs = "".join(f'<figure><img src="{_url(p)}" loading="lazy" alt="{e(c)}"><figcaption>{e(c)}</figcaption>'
                       "</figure>" if p else f"<figure><figcaption>{e(c)}: none</figcaption></figure>"
                       for c, p in r.get("images", []))
        parts.append(f'<section class="row"><div><h2>{head}</h2><table class="s">{"".join(stats)}</table></div>'
                     f'<div class="imgs">{figs}</div></section>')
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f"<style>{_CSS % {'w': thumb_width}}</style></head><body><header><h1>{e(title)}</h1>"
            + "".join(f"<p>{e(s)}</p>" for s in summary) + "</header><main>" + "\n".join(parts)
            + "</main></body></html>\n")
    write_bytes_atomic(os.fspath(path), page.encode("utf-8"), durable=False)
