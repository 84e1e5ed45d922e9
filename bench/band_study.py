"""Where does the kept border band run thicker than the edge's blur explains, and what is it?

For every real Layer Diffusion sample the alpha is refined with the defaults
and the kept band (uncertain pixels whose value survived) is measured: at
each band pixel its local thickness is the diameter of the largest disc
inside the band that lies within ``--reach`` pixels (twice the band's
distance transform, maximum-filtered): about ``w`` for a ramp ``w`` pixels
wide, small for strands (their band is broken by opaque and clear pixels),
large for a wide soft edge, a halo or a translucent patch reaching the
border. The sample's edge blur is the ``--blur-percentile`` (default 10th)
percentile of the thickness: the sharpest edges (clothes, skin), where
the decoder's blur is all there is (a median would be set by the hair and fur
that make up most of the band on hairy samples); a band pixel is *thick* where
its thickness exceeds ``--factor`` times that blur (and ``--min-width`` pixels). Thick pixels group into stretches (8-connected,
at least ``--min-area`` pixels); each stretch is located (box) and described:

- ``mean alpha``, ``inside``: share of its pixels inside the filled silhouette
  ``alpha >= 128`` (a translucent patch inside the body is inside; a halo is not);
- ``texture``: mean absolute difference between the alpha and its Gaussian
  blur (sigma 1.5) over the stretch, in levels: strands (hair, fur) are rough,
  a halo, a soft edge or a translucent patch is smooth;
- ``kind``: a first reading of these numbers (``hair/fur`` when rough;
  ``translucent patch`` when smooth, mostly inside and above 128 on average;
  ``halo`` when smooth, outside and faint; ``soft edge`` otherwise). The
  panels are there to check the reading by eye.

    python bench/band_study.py --panels docs/images/band_study.png \\
        --overview docs/images/band_width_overview.png --out band_study.md
"""
from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import DATA_DIR  # noqa: E402

from ldmatte import refine_alpha  # noqa: E402

NOT_PORTRAITS = {"glass_bottle_t2i_sdxl"}
NOT_OUTPUTS = {"pad_input", "pad_reference_output"}  # padding test pair, not generated mattes


def load_rgba(path) -> np.ndarray | None:
    from PIL import Image

    with Image.open(path) as im:
        if im.mode != "RGBA":
            return None
        return np.ascontiguousarray(np.asarray(im))


def band_width(alpha: np.ndarray, reach: int = 16, fg_tol: int = 8, bg_tol: int = 8):
    """(refined alpha, kept band mask, local thickness at band pixels (0 elsewhere))."""
    out = refine_alpha(alpha)
    u = (alpha > bg_tol) & (alpha < 255 - fg_tol)
    band = u & (out == alpha)
    depth = ndimage.distance_transform_edt(band)
    width = np.where(band, 2.0 * ndimage.maximum_filter(depth, size=2 * reach + 1), 0.0)
    return out, band, width


def texture(alpha: np.ndarray) -> np.ndarray:
    a = alpha.astype(np.float32)
    return np.abs(a - ndimage.gaussian_filter(a, 1.5))


def kind_of(mean_alpha: float, inside: float, rough: float, rough_limit: float) -> str:
    if rough >= rough_limit:
        return "hair/fur"
    if inside >= 0.5 and mean_alpha >= 128:
        return "translucent patch"
    if inside < 0.5 and mean_alpha < 64:
        return "halo"
    return "soft edge"


def study(path, args) -> dict:
    rgba = load_rgba(path)
    alpha = np.ascontiguousarray(rgba[..., 3])
    out, band, width = band_width(alpha, args.reach)
    w = width[band]
    rough = texture(alpha)
    smooth = band & (rough < args.rough)
    blur = float(np.percentile(w, args.blur_percentile)) if w.size else 0.0
    limit = max(args.factor * blur, args.min_width)
    thick = band & (width > limit)
    lab, n = ndimage.label(thick, structure=np.ones((3, 3), bool))
    silhouette = ndimage.binary_fill_holes(alpha >= 128)
    stretches = []
    if n:
        area = np.bincount(lab.ravel(), minlength=n + 1)
        boxes = ndimage.find_objects(lab)
        for i in np.flatnonzero(area >= args.min_area):
            if i == 0:
                continue
            m = lab == i
            mean_a, inside, r = float(alpha[m].mean()), float(silhouette[m].mean()), float(rough[m].mean())
            sl = boxes[i - 1]
            stretches.append(dict(sample=path.stem, area=int(area[i]), box=(sl[0].start, sl[1].start, sl[0].stop,
                                                                           sl[1].stop),
                                  width_median=float(np.median(width[m])), width_max=float(width[m].max()),
                                  mean_alpha=mean_a, inside=inside, texture=r,
                                  kind=kind_of(mean_a, inside, r, args.rough)))  # fmt: skip
    stretches.sort(key=lambda s: -s["area"])
    q = np.percentile(w, [50, 90, 99]) if w.size else (0, 0, 0)
    return dict(name=path.stem, rgba=rgba, alpha=alpha, out=out, band=band, width=width, thick=thick,
                portrait=path.stem not in NOT_PORTRAITS, band_px=int(band.sum()), blur=blur, smooth_share=float(smooth.sum() / max(band.sum(), 1)), p50=float(q[0]), p90=float(q[1]),
                p99=float(q[2]), wmax=float(w.max()) if w.size else 0.0, limit=limit,
                thick_share=float(thick.sum() / max(band.sum(), 1)), stretches=stretches)  # fmt: skip


def checker(h, w, cell=8):
    yy, xx = np.mgrid[:h, :w]
    return np.where(((yy // cell) + (xx // cell)) % 2, 200, 140).astype(np.float32)


def composite(rgba):
    a = rgba[..., 3:4].astype(np.float32) / 255
    bg = checker(*rgba.shape[:2])[..., None]
    return (rgba[..., :3] * a + bg * (1 - a)).astype(np.uint8)


def crop_box(box, shape, pad=24, min_side=96):
    y0, x0, y1, x1 = box
    cy, cx = (y0 + y1) // 2, (x0 + x1) // 2
    side = max(y1 - y0, x1 - x0) + 2 * pad
    side = min(max(side, min_side), min(shape))
    top = int(np.clip(cy - side // 2, 0, shape[0] - side))
    left = int(np.clip(cx - side // 2, 0, shape[1] - side))
    return np.s_[top : top + side, left : left + side]


def save_panels(results, path, n_rows):
    """Rows: the largest thick stretches over all samples. Columns: composite, alpha, band width, refined."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(((s, r) for r in results if r["portrait"] for s in r["stretches"]), key=lambda t: -t[0]["area"])
    # at most 2 per sample so that every sample with thick stretches gets seen
    picked, per = [], {}
    for s, r in rows:
        if per.get(r["name"], 0) < 2:
            picked.append((s, r))
            per[r["name"]] = per.get(r["name"], 0) + 1
    picked = picked[:n_rows]
    if not picked:
        return False
    fig, axes = plt.subplots(len(picked), 4, figsize=(10, 2.6 * len(picked)), squeeze=False)
    for row, (s, r) in zip(axes, picked):
        sl = crop_box(s["box"], r["alpha"].shape)
        width = np.where(r["band"][sl], r["width"][sl], np.nan)
        row[0].imshow(composite(r["rgba"][sl]))
        row[0].set_title(f"{r['name']}\n{s['kind']}, {s['area']} px", fontsize=8)
        row[1].imshow(r["alpha"][sl], cmap="gray", vmin=0, vmax=255)
        row[1].set_title(f"alpha (mean {s['mean_alpha']:.0f}, texture {s['texture']:.1f})", fontsize=8)
        im = row[2].imshow(width, cmap="viridis", vmin=0, vmax=max(2 * r["limit"], 1))
        row[2].contour(r["thick"][sl], levels=[0.5], colors="cyan", linewidths=0.7)
        row[2].set_title(f"band thickness (blur {r['blur']:.1f}, thick > {r['limit']:.1f})", fontsize=8)
        fig.colorbar(im, ax=row[2], fraction=0.046)
        row[3].imshow(r["out"][sl], cmap="gray", vmin=0, vmax=255)
        row[3].set_title("refined alpha (defaults)", fontsize=8)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=60)
    plt.close(fig)
    return True


def save_overview(results, path):
    """Every sample: composite with the thick stretches outlined, and the band width map."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(results)
    cols = 4
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, 2 * cols, figsize=(2.2 * 2 * cols, 2.4 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for k, r in enumerate(results):
        a, b = axes[k // cols, 2 * (k % cols)], axes[k // cols, 2 * (k % cols) + 1]
        step = max(1, max(r["alpha"].shape) // 256)
        a.imshow(composite(r["rgba"][::step, ::step]))
        a.contour(ndimage.binary_dilation(r["thick"], iterations=step)[::step, ::step], levels=[0.5], colors="red",
                  linewidths=0.8)  # fmt: skip
        a.set_title(r["name"], fontsize=7)
        b.imshow(np.where(r["band"], r["width"], np.nan)[::step, ::step], cmap="viridis", vmin=0,
                 vmax=max(2 * r["limit"], 1))  # fmt: skip
        b.set_title(f"thickness p50 {r['p50']:.1f} p99 {r['p99']:.1f}", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=60)
    plt.close(fig)


def table(header, rows) -> str:
    f = lambda v: f"{v:.3f}" if isinstance(v, float) and abs(v) < 10 else f"{v:.1f}" if isinstance(v, float) else str(v)  # noqa: E731
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                     + ["| " + " | ".join(f(c) for c in r) + " |" for r in rows])  # fmt: skip


def render(results, args) -> str:
    per_sample = [[r["name"] + ("" if r["portrait"] else " (not a portrait)"), r["alpha"].shape[1], r["band_px"],
                   r["smooth_share"], r["blur"], r["p50"], r["p90"], r["p99"], r["wmax"], r["limit"], r["thick_share"], len(r["stretches"]),
                   ", ".join(sorted({s["kind"] for s in r["stretches"]})) or "-"] for r in results]  # fmt: skip
    stretches = [[s["sample"], f"y {s['box'][0]}..{s['box'][2]}, x {s['box'][1]}..{s['box'][3]}", s["area"],
                  s["width_median"], s["width_max"], s["mean_alpha"], s["inside"], s["texture"], s["kind"]]
                 for r in results for s in r["stretches"]]  # fmt: skip
    kinds = {}
    for r in results:
        for s in r["stretches"]:
            kinds[s["kind"]] = kinds.get(s["kind"], 0) + s["area"]
    return "\n".join([
        "# Band thickness on the real samples (bench/band_study.py)", "",
        f"Refined with the defaults; thickness = twice the band depth within {args.reach} px; thick = thickness > max({args.factor} x blur, {args.min_width}) px; "
        f"stretches of at least {args.min_area} px; rough = texture >= {args.rough} levels.", "",
        table(["sample", "image px", "band px", "smooth share", "blur (p10)", "thickness p50", "p90", "p99", "max", "thick limit", "thick share",
               "stretches", "kinds"], per_sample), "",  # fmt: skip
        "Thick pixels by kind (all samples): " + (", ".join(f"{k} {v} px" for k, v in sorted(kinds.items())) or "none"),
        "", "## Thick stretches", "",
        table(["sample", "box", "px", "thickness median", "max", "mean alpha", "inside", "texture", "kind"],
              stretches) if stretches else "(none)", "",  # fmt: skip
    ])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DATA_DIR), help="folder of real Layer Diffusion RGBA samples")
    ap.add_argument("--reach", type=int, default=16, help="radius (px) within which a pixel takes the band's depth")
    ap.add_argument("--blur-percentile", type=float, default=10.0, help="percentile of the thickness taken as blur")
    ap.add_argument("--factor", type=float, default=3.0, help="thick: width above this times the median")
    ap.add_argument("--min-width", type=float, default=8.0, help="thick: and above this many pixels")
    ap.add_argument("--min-area", type=int, default=50, help="smallest stretch reported (pixels)")
    ap.add_argument("--rough", type=float, default=6.0, help="texture (levels) from which a stretch reads as strands")
    ap.add_argument("--panels", help="PNG of the largest thick stretches")
    ap.add_argument("--panel-rows", type=int, default=14)
    ap.add_argument("--overview", help="PNG of every sample with its thick stretches outlined")
    ap.add_argument("--out", help="write the markdown report here")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="study only these samples (file stems)")
    args = ap.parse_args(argv)
    paths = [p for p in sorted(pathlib.Path(args.data).glob("*.png")) if p.stem not in NOT_OUTPUTS]
    paths = [p for p in paths if not args.only or p.stem in args.only]
    results = [study(p, args) for p in paths if load_rgba(p) is not None]
    if not results:
        print(f"no RGBA samples in {args.data}", file=sys.stderr)
        return 1
    text = render(results, args)
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text)
    if args.panels:
        save_panels(results, args.panels, args.panel_rows)
    if args.overview:
        save_overview(results, args.overview)
    return 0


if __name__ == "__main__":
    sys.exit(main())
