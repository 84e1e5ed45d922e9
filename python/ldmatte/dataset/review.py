"""An HTML contact sheet of a dataset: kept and rejected samples, with reasons, for a person to browse.

Each sample is a thumbnail of its composite on a checkerboard next to its alpha
(``review/thumbs/<id>.jpg``, redrawn only when the sample's files are newer),
captioned with its id, its reasons and its measures. Buttons filter by reason.
"""
from __future__ import annotations

import collections
import html
import os

import cv2
import numpy as np

from .layout import read_sample
from .manifest import read_manifest, write_atomic
from .qc import RULES

__all__ = ["write_review"]

_STYLE = """body{font-family:sans-serif;margin:16px;background:#fafafa}
.grid{display:flex;flex-wrap:wrap;gap:8px}.card{background:#fff;border:1px solid #ccc;padding:4px;font-size:12px}
.card.rejected{border-color:#d55e00}.card img{display:block}.why{color:#d55e00}.hidden{display:none}
button{margin:2px}"""
_SCRIPT = """function show(c){for(const e of document.querySelectorAll('.card'))
e.classList.toggle('hidden',c!=='all'&&!e.classList.contains(c));}"""


def _checker_composite(rgba: np.ndarray) -> np.ndarray:
    try:
        from ..review.panels import composite
    except ImportError:  # pragma: no cover - a trimmed install without the panels module
        yy, xx = np.mgrid[: rgba.shape[0], : rgba.shape[1]]
        bg = np.where((yy // 16 + xx // 16) % 2 == 0, 255, 204)[..., None].astype(np.float32)
        a = rgba[..., 3:].astype(np.float32) / 255
        return np.clip(rgba[..., :3] * a + bg * (1 - a) + 0.5, 0, 255).astype(np.uint8)
    return composite(rgba)


def _thumb(root: str, entry: dict, height: int) -> str:
    rel = f"review/thumbs/{entry['id']}.jpg"
    path = os.path.join(root, rel)
    sources = [os.path.join(root, p) for p in entry["files"].values()]
    if os.path.exists(path) and all(os.path.getmtime(path) >= os.path.getmtime(s) for s in sources):
        return rel
    rgba = read_sample(root, entry)
    width = max(1, round(rgba.shape[1] * height / rgba.shape[0]))
    pair = [_checker_composite(rgba), np.repeat(rgba[..., 3:], 3, axis=2)]
    tile = np.concatenate([cv2.resize(p, (width, height), interpolation=cv2.INTER_AREA) for p in pair], axis=1)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(tile, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomic(path, buf.tobytes(), durable=False)
    return rel


def _card(root: str, entry: dict, height: int) -> str:
    q = entry.get("qc", {})
    reasons = q.get("reasons", [])
    measures = ", ".join(f"{k} {v:.3g}" for k, v in q.get("measures", {}).items() if v is not None)
    title = html.escape(" | ".join(filter(None, [entry.get("prompt"), measures])), quote=True)
    why = "".join(f"<div class='why'>{html.escape(d)}</div>" for d in q.get("details", []))
    classes = " ".join([entry["status"], *reasons])
    src = html.escape(_thumb(root, entry, height), quote=True)
    return (f"<div class='card {classes}' title='{title}'><img src='{src}' loading='lazy' alt=''>"
            f"<div>{html.escape(entry['id'])}</div>{why}</div>")  # fmt: skip


def write_review(dataset, out: str = "review.html", *, thumb_height: int = 160, limit: int | None = None) -> str:
    """Write an HTML contact sheet of a dataset (rejected first, grouped by reason, then kept).

    Parameters
    ----------
    dataset : path
    out : str
        File name inside the dataset folder.
    thumb_height : int
        Pixels; each thumbnail is the composite and the alpha side by side.
    limit : int, optional
        At most this many samples per status (the first in manifest order).

    Returns
    -------
    path of the page
    """
    root = os.fspath(dataset)
    if thumb_height < 8:
        raise ValueError(f"thumb_height must be >= 8, got {thumb_height}")
    entries = list(read_manifest(root).values())
    groups = {s: [e for e in entries if e["status"] == s][:limit] for s in ("rejected", "kept")}
    order = {r.code: k for k, r in enumerate(RULES)}
    groups["rejected"].sort(key=lambda e: min((order.get(r, 99) for r in e["qc"]["reasons"]), default=99))
    counts = collections.Counter(r for e in entries for r in e.get("qc", {}).get("reasons", []))
    buttons = ["<button onclick=\"show('all')\">all</button>", "<button onclick=\"show('kept')\">kept</button>",
               "<button onclick=\"show('rejected')\">rejected</button>"]  # fmt: skip
    buttons += [f"<button onclick=\"show('{c}')\">{c} ({n})</button>" for c, n in counts.most_common()]
    kept = sum(e["status"] == "kept" for e in entries)
    title = f"{html.escape(os.path.basename(os.path.normpath(root)))}: {kept} kept, {len(entries) - kept} rejected"
    body = [f"<h1>{title}</h1>", "<div>" + "".join(buttons) + "</div>"]
    for status, group in groups.items():
        body.append(f"<h2>{status} ({len(group)} shown)</h2><div class='grid'>")
        body += [_card(root, e, thumb_height) for e in group]
        body.append("</div>")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>ldmatte review</title><style>{_STYLE}"
            f"</style><script>{_SCRIPT}</script></head><body>{''.join(body)}</body></html>\n")  # fmt: skip
    path = os.path.join(root, out)
    write_atomic(path, page.encode("utf-8"), durable=False)
    return path
