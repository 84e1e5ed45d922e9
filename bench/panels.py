"""Before/after panels of the real Layer Diffusion samples, one PNG per file.

Rows: the input and its alpha refined by ``ldmatte.refine_alpha`` (the colour is
left as it is: padding changes only pixels that stay invisible). Columns: composite on a
checkerboard, alpha, inverse alpha, and the soft pixels (input) or the changed
pixels (refined: orange raised, blue lowered).

    python bench/panels.py --out bench/out/panels
    python bench/panels.py --data DIR --out DIR --width 1200 --fg-tol 8 --bg-tol 8
    python bench/panels.py --synthetic 0 --width 1200 --out docs/images    # the README's picture
"""
from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import DATA_DIR  # noqa: E402

from ldmatte import DEFAULTS, refine_alpha, synth  # noqa: E402
from ldmatte.panels import before_after_panel  # noqa: E402


def load_rgba(path) -> np.ndarray | None:
    """The image as (H, W, 4) uint8 RGBA, or None when the file has no alpha channel."""
    with Image.open(path) as im:
        if im.mode not in ("RGBA", "LA", "PA") and "transparency" not in im.info:
            return None
        return np.ascontiguousarray(np.asarray(im.convert("RGBA")))


def panel_for(path, width: int, params: dict, inverse_gain: float = 1.0, rgba=None):
    rgba = load_rgba(path) if rgba is None else rgba
    if rgba is None:
        return None, None
    alpha, rep = refine_alpha(np.ascontiguousarray(rgba[..., 3]), **params, return_report=True)
    out = rgba.copy()
    out[..., 3] = alpha
    title = (
        f"{path.name}  {rgba.shape[1]}x{rgba.shape[0]}  raised {rep.pixels_raised:,} px, lowered "
        f"{rep.pixels_lowered:,} px, components kept {rep.band_components:,} / filled {rep.interior_components:,}"
        f" / cleared {rep.floating_components:,}, U kept {rep.uncertain_kept_share:.1%}"
    )
    return before_after_panel(rgba, out, width=width, title=title, inverse_gain=inverse_gain), rep


def synthetic_panel(args, params) -> int:
    """The panel of one synthetic portrait (no real data needed), as OUT/demo.png."""
    sample = synth.make_sample(args.synthetic, size=1024)
    panel, _ = panel_for(pathlib.Path(f"synthetic portrait (seed {args.synthetic})"), args.width, params,
                         args.inverse_gain, rgba=sample.rgba)
    out_dir = pathlib.Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    Image.fromarray(panel).save(out_dir / "demo.png", optimize=True)
    print(out_dir / "demo.png")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DATA_DIR), help="folder of RGBA PNGs (default: the real samples)")
    ap.add_argument("--out", default="bench/out/panels", help="folder for the panels")
    ap.add_argument("--width", type=int, default=1600, help="panel width in pixels (default 1600)")
    ap.add_argument("--fg-tol", type=int, default=DEFAULTS["fg_tol"])
    ap.add_argument("--bg-tol", type=int, default=DEFAULTS["bg_tol"])
    ap.add_argument("--no-fill-interior", action="store_true", help="keep enclosed translucent regions")
    ap.add_argument("--inverse-gain", type=float, default=1.0,
                    help="multiply the inverse alpha (e.g. 8 shows 245..254)")
    ap.add_argument("--synthetic", type=int, metavar="SEED",
                    help="one synthetic portrait (ldmatte.synth, 1024^2) instead of --data; writes demo.png")
    args = ap.parse_args(argv)
    params = dict(fg_tol=args.fg_tol, bg_tol=args.bg_tol, fill_interior=not args.no_fill_interior)
    if args.synthetic is not None:
        return synthetic_panel(args, params)
    data = pathlib.Path(args.data)
    if not data.is_dir():
        print(f"no such folder: {data}", file=sys.stderr)
        return 2
    out_dir = pathlib.Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for path in sorted(data.glob("*.png")):
        panel, rep = panel_for(path, args.width, params, args.inverse_gain)
        if panel is None:
            print(f"skip {path.name}: no alpha channel")
            continue
        target = out_dir / f"{path.stem}_panel.png"
        Image.fromarray(panel).save(target)
        written += 1
        print(f"{target}  changed {rep.changed_share:.2%} of the pixels, U kept {rep.uncertain_kept_share:.1%}")
    print(f"{written} panels in {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
