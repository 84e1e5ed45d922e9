"""``ldmatte eval``: matting metrics (SAD, MSE, MAD, Grad, Conn) of predicted mattes against ground truth."""
from __future__ import annotations

import json
import math
import sys

ORDER = 80


def register(sub) -> None:
    p = sub.add_parser(
        "eval", help="metrics of predicted mattes against ground truth (folders or a benchmark layout)",
        description="Pairs PRED and GT files by name stem (PNG, JPG; grayscale, 16-bit or RGBA alpha) and prints "
        "SAD, MSE, MAD, Grad and Conn per image and their mean, as ldmatte.metrics defines them (alphas in [0, 1]; "
        "SAD, Grad, Conn are sums / 1000; MSE and MAD are means, printed x1e3; JSON keeps plain values). The "
        "region is the trimap's unknown pixels when trimaps are given (--trimap, --benchmark), else the whole "
        "image. A missing file or a size mismatch is a failure of that image, the others are still evaluated; "
        "exit status 1 when any failed. Benchmarks: p3m-np (P3M-500-NP: original_image, mask, trimap), p3m-p "
        "(P3M-500-P: blurred_image, mask, trimap), ppm100 (PPM-100: image, matte; trimaps made from the matte, "
        "2%% of the shorter side eroded), am2k (AM-2k validation: original, mask, trimap), ldmatte (image, alpha, "
        "trimap).",
    )  # fmt: skip
    p.add_argument("pred", metavar="PRED", help="folder of predicted mattes")
    p.add_argument("gt", metavar="GT", nargs="?", help="folder of ground-truth mattes (or --benchmark)")
    p.add_argument("--trimap", metavar="DIR", help="folder of trimaps (0/128/255), paired by name")
    p.add_argument("--region", choices=("whole", "unknown"),
                   help="pixels evaluated (default: unknown with trimaps, else whole)")
    p.add_argument("--benchmark", nargs=2, metavar=("NAME", "ROOT"),
                   help="ground truth and trimaps from a benchmark layout: p3m-np, p3m-p, ppm100, am2k, ldmatte")
    p.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    p.add_argument("--video", action="store_true",
                   help="video metrics (adds dtSSD): frames of PRED and GT paired by sorted name")
    p.add_argument("--quiet", action="store_true", help="print only the mean and the failures")
    p.set_defaults(func=run)


def _fmt(v: float, scale: float = 1.0) -> str:
    return "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v * scale:.4f}"


def _table(result: dict, quiet: bool) -> None:
    cols = [("sad", 1.0, "SAD"), ("mse", 1e3, "MSEx1e3"), ("mad", 1e3, "MADx1e3"), ("grad", 1.0, "Grad"),
            ("conn", 1.0, "Conn")]  # fmt: skip
    names = [r["name"] for r in result.get("images", [])]
    width = max([len(n) for n in names] + [4])
    print(f"{'name':<{width}}  " + "  ".join(f"{h:>9}" for _, _, h in cols))
    if not quiet:
        for row in result.get("images", []):
            print(f"{row['name']:<{width}}  " + "  ".join(f"{_fmt(row.get(k), s):>9}" for k, s, _ in cols))
    print(f"{'mean':<{width}}  " + "  ".join(f"{_fmt(result['mean'].get(k), s):>9}" for k, s, _ in cols))


def _video(args) -> int:
    try:
        from ..video.evaluate import evaluate_video
    except ImportError as exc:
        print(f"ldmatte eval: --video needs ldmatte.video.evaluate, which cannot be imported here ({exc})",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.gt is None:
        print("ldmatte eval: --video needs GT (a folder of ground-truth frames)", file=sys.stderr)
        return 2
    try:
        result = evaluate_video(args.pred, args.gt)
    except (ValueError, OSError) as exc:
        print(f"ldmatte eval: {exc}", file=sys.stderr)
        return 2
    result = dict(result)
    result["images"] = result.get("frames", [])
    _table(result, args.quiet)
    print(f"dtSSD {_fmt(result['mean'].get('dtssd'))}")
    return _finish(args, {k: v for k, v in result.items() if k != "images"})


def _finish(args, result: dict) -> int:
    print(f"convention: {result['convention']}")
    for f in result.get("failures", []):
        print(f"ldmatte eval: {f['name']}: {f['reason']}", file=sys.stderr)
    if args.json:
        from ..fileio.readwrite import write_bytes_atomic

        try:
            write_bytes_atomic(args.json, (json.dumps(result, indent=1) + "\n").encode())
        except OSError as exc:
            from ..fileio.ownership import fault_message

            print(f"ldmatte eval: {fault_message(exc, args.json)}", file=sys.stderr)
            return 1
    failures = result.get("failures", [])
    if failures:
        print(f"{len(failures)} image(s) failed", file=sys.stderr)
    return 1 if failures else 0


def run(args) -> int:
    if args.video:
        return _video(args)
    from ..matting.evaluate import evaluate_folders

    if (args.gt is None) == (args.benchmark is None):
        print("ldmatte eval: give GT (a folder of ground truth) or --benchmark NAME ROOT, not both", file=sys.stderr)
        return 2
    try:
        result = evaluate_folders(args.pred, args.gt, trimap_dir=args.trimap,
                                  benchmark=tuple(args.benchmark) if args.benchmark else None,
                                  region=args.region, progress=sys.stderr.isatty())  # fmt: skip
    except (ValueError, OSError) as exc:
        print(f"ldmatte eval: {exc}", file=sys.stderr)
        return 2
    print(f"{result['count']} image(s), region: {result['region']}")
    _table(result, args.quiet)
    return _finish(args, result)
