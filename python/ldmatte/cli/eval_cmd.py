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
        "image; trimaps are 0 background, 255 foreground, any other value unknown (a 0/1/2 label map is "
        "refused). An image whose trimap has no unknown pixel is skipped with a line and left out of the mean "
        "(not a failure). A missing or unreadable file, a size mismatch, or two files of one name (a.png and "
        "a.jpg) is a failure of that image, the others are still evaluated; exit status 1 when any failed, 2 on "
        "usage errors. --json OUT may not lie inside an input, and replaces only a file eval wrote. Benchmarks: "
        "p3m-np (P3M-500-NP: original_image, mask, trimap), p3m-p (P3M-500-P: blurred_image, mask, trimap), "
        "ppm100 (PPM-100: image, matte; trimaps made from the matte, 2 % of the shorter side eroded), am2k (AM-2k "
        "validation: original, mask, trimap), ldmatte (image, alpha, trimap).",
    )  # fmt: skip
    p.add_argument("pred", metavar="PRED", help="folder of predicted mattes")
    p.add_argument("gt", metavar="GT", nargs="?", help="folder of ground-truth mattes (or --benchmark)")
    p.add_argument("--trimap", metavar="DIR", help="folder of trimaps (0 background, 255 foreground, other values "
                   "unknown), paired by name")
    p.add_argument("--region", choices=("whole", "unknown"),
                   help="pixels evaluated (default: unknown with trimaps, else whole)")
    p.add_argument("--benchmark", nargs=2, metavar=("NAME", "ROOT"),
                   help="ground truth and trimaps from a benchmark layout: p3m-np, p3m-p, ppm100, am2k, ldmatte")
    p.add_argument("--json", metavar="OUT", help="also write the results as JSON (a new file, or one eval wrote)")
    p.add_argument("--video", action="store_true",
                   help="video metrics (adds dtSSD): frames of PRED and GT paired by name or, with no name in common, "
                   "in natural name order (00000.png with 000000.png; the counts must match)")
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
        _check_json(args, [args.pred, args.gt])
        result = evaluate_video(args.pred, args.gt)
    except (ValueError, OSError) as exc:
        return _refused(exc)
    result = dict(result)
    result["images"] = result.get("frames", [])
    _table(result, args.quiet)
    print(f"dtSSD {_fmt(result['mean'].get('dtssd'))}")
    return _finish(args, {k: v for k, v in result.items() if k != "images"})


def _refused(exc: Exception) -> int:
    """One line for what stopped eval before it started: exit 2, or 1 for a fault (a folder that cannot be read)."""
    from ..fileio.ownership import UsageError, fault_message

    if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
        print(f"ldmatte eval: {fault_message(exc)}", file=sys.stderr)
        return 1
    print(f"ldmatte eval: {exc if isinstance(exc, (UsageError, ValueError)) else fault_message(exc)}",
          file=sys.stderr)  # fmt: skip
    return 2


def _check_json(args, inputs) -> None:
    """--json OUT: not an input nor inside one, not in another command's folder, replacing only eval's own file."""
    if args.json:
        from ..fileio.ownership import check_output_file

        check_output_file(args.json, "eval", inputs=[i for i in inputs if i])


def _finish(args, result: dict) -> int:
    from ..fileio.ownership import signature

    print(f"convention: {result['convention']}")
    for f in result.get("skipped", []):
        print(f"ldmatte eval: {f['name']}: skipped: {f['reason']}", file=sys.stderr)
    for f in result.get("failures", []):
        print(f"ldmatte eval: {f['name']}: {f['reason']}", file=sys.stderr)
    if args.json:
        from ..fileio.readwrite import write_bytes_atomic

        try:
            write_bytes_atomic(args.json, (json.dumps({**signature("eval"), **result}, indent=1) + "\n").encode())
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
        _check_json(args, [args.pred, args.gt, args.trimap, args.benchmark and args.benchmark[1]])
        result = evaluate_folders(args.pred, args.gt, trimap_dir=args.trimap,
                                  benchmark=tuple(args.benchmark) if args.benchmark else None,
                                  region=args.region, progress=sys.stderr.isatty())  # fmt: skip
    except (ValueError, OSError) as exc:
        return _refused(exc)
    skipped = f", {len(result['skipped'])} skipped (no unknown pixel)" if result.get("skipped") else ""
    print(f"{result['count']} image(s), region: {result['region']}{skipped}")
    _table(result, args.quiet)
    return _finish(args, result)
