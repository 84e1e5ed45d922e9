"""GPU check: the CUDA path against the CPU path and the references, then timings.

    python3 bench/gpu_check.py --out DIR [--data DIR] [--batch 32]
    python3 bench/gpu_check.py --sanitize-workload     # small run for compute-sanitizer

(a) Correctness: label, refine_alpha, pad_rgb and refine on random, adversarial and
all real inputs (--data, default ../shared/data/layerdiffuse beside the repository),
plus a batch of more than 2**31 pixels (64-bit offsets). Integer outputs must equal
the CPU path and the reference exactly, padding may differ by one uint8 level. Every
mismatch is printed with its first differing positions.
(b) Timings with CUDA events after warm-up (medians): label of a 32 x 1024^2 batch
of real transition masks and of 50 % noise (Gpixel/s, us per image), CuPy's
cupyx.scipy.ndimage.label on the same when available, refine_alpha, pad_rgb and the
full RGBA refine of 32 x 1024^2 (images/s), and the CPU (Numba) path for comparison.
Writes DIR/gpu_check.md and DIR/gpu_check.json; exits 1 when anything mismatched.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]

import ldmatte  # noqa: E402
from ldmatte.reference import label_reference, pad_rgb_reference, refine_alpha_reference  # noqa: E402
from ldmatte.reference.patterns import (  # noqa: E402
    adversarial_masks, alpha_from_mask, blobs, chessboard, comb, diagonal_stripes, random_mask, snake, spiral,
)  # fmt: skip

T0 = time.perf_counter()


def log(*msg):
    print(f"[{time.perf_counter() - T0:7.1f}s]", *msg, flush=True)


def torch_mod():
    import torch

    return torch


def dev(a):
    return torch_mod().from_numpy(np.ascontiguousarray(a)).cuda()


def host(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def read_rgba(path):
    import cv2

    im = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return im if im is not None and im.ndim == 3 and im.shape[2] == 4 else None


def real_images(data_dir):
    if data_dir is None or not data_dir.is_dir():
        log(f"WARNING: no real samples at {data_dir}; real-input checks and real timings are skipped")
        return {}
    images = {p.stem: read_rgba(p) for p in sorted(data_dir.glob("*.png"))}
    return {k: v for k, v in images.items() if v is not None}


# ------------------------------------------------------------------ correctness


class Checker:
    """Counts checks and records every mismatch with a readable description."""

    def __init__(self):
        self.checks = 0
        self.mismatches = []

    def _fail(self, what, detail):
        self.mismatches.append(f"{what}: {detail}")
        log(f"MISMATCH {what}: {detail}")

    def equal(self, what, got, want, want_name="cpu"):
        self.checks += 1
        got, want = np.asarray(got), np.asarray(want)
        if got.shape != want.shape:
            return self._fail(what, f"shape {got.shape} vs {want_name} {want.shape}")
        if got.dtype != want.dtype:
            return self._fail(what, f"dtype {got.dtype} vs {want_name} {want.dtype}")
        bad = np.argwhere(got != want)
        if len(bad):
            first = ", ".join(f"{tuple(i)}: gpu {got[tuple(i)]} {want_name} {want[tuple(i)]}" for i in bad[:4])
            self._fail(what, f"{len(bad)} of {got.size} elements differ vs {want_name}; first {first}")

    def close(self, what, got, want, tol, want_name="reference"):
        self.checks += 1
        got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
        if got.shape != want.shape:
            return self._fail(what, f"shape {got.shape} vs {want_name} {want.shape}")
        diff = np.abs(got - want)
        if diff.size and diff.max() > tol:
            at = np.unravel_index(diff.argmax(), diff.shape)
            self._fail(what, f"max |diff| {diff.max():.6g} > {tol} vs {want_name} at {at}; {int((diff > tol).sum())} over")


def check_label(ck, name, stack, ref=True):
    for conn in (4, 8):
        gl, gn = ldmatte.label(dev(stack), conn, return_num=True)
        cl, cn = ldmatte.label(stack, conn, return_num=True)
        ck.equal(f"label {name} conn={conn} labels", host(gl), cl)
        ck.equal(f"label {name} conn={conn} num", host(gn), np.asarray(cn, np.int32))
        if ref:
            rl, rn = label_reference(stack, conn)
            ck.equal(f"label {name} conn={conn} labels", host(gl), rl, "reference")


def check_stats(ck, name, labels):
    from ldmatte.regions import component_stats

    got, want = component_stats(dev(labels), backend="cuda"), component_stats(labels)
    for i, (g, w) in enumerate(zip(got, want)):
        for field in ("area", "bbox", "touches_frame"):
            ck.equal(f"component_stats {name} image {i} {field}", getattr(g, field), getattr(w, field))


def check_refine(ck, name, alpha, params, ref=True):
    for p in params:
        g_out, g_rep = ldmatte.refine_alpha(dev(alpha), *p, return_report=True)
        c_out, c_rep = ldmatte.refine_alpha(alpha, *p, return_report=True)
        ck.equal(f"refine_alpha {name} {p} alpha", host(g_out), c_out)
        ck.equal(f"refine_alpha {name} {p} stats", [r.to_dict() for r in np.atleast_1d(g_rep)],
                 [r.to_dict() for r in np.atleast_1d(c_rep)])  # fmt: skip
        if ref:
            r_out, r_stats = refine_alpha_reference(alpha, *p)
            ck.equal(f"refine_alpha {name} {p} alpha", host(g_out), r_out, "reference")


def check_pad(ck, name, rgba, out_dtype=np.uint8, ref=True):
    tol = 1 if np.dtype(out_dtype) == np.uint8 else 1 / 255
    g = host(ldmatte.pad_rgb(dev(rgba), out_dtype))
    ck.close(f"pad_rgb {name} -> {np.dtype(out_dtype)}", g, ldmatte.pad_rgb(rgba, out_dtype), tol, "cpu")
    if ref:
        ck.close(f"pad_rgb {name} -> {np.dtype(out_dtype)}", g, pad_rgb_reference(rgba, out_dtype), tol)


PARAMS = [(8, 8, 8, True, True, 0.05), (8, 8, 4, True, True, 0.05), (0, 0, 8, False, False, None),
          (30, 8, 8, True, False, 0.5), (4, 12, 4, False, True, 1.0), (8, 8, 8, True, True, 0.0)]  # fmt: skip


def correctness(ck, images, rng):
    log("correctness: label on adversarial, structured and random masks")
    for name, m in adversarial_masks().items():
        check_label(ck, name, m[None])
    for name, m in {"spiral130": spiral(130), "snake": snake(131, 197), "comb": comb(131, 197),
                    "chess1": chessboard(131, 197), "diag2": diagonal_stripes(131, 197, 2)}.items():  # fmt: skip
        check_label(ck, name, m[None])
    for shape in [(1, 1), (1, 97), (97, 1), (33, 65), (67, 131), (257, 311)]:
        for d in (0.05, 0.5, 0.6, 0.95):
            check_label(ck, f"random {shape} {d}", random_mask(rng, *shape, d)[None])
    check_label(ck, "batch of 8", np.stack([random_mask(rng, 200, 300, d) for d in np.linspace(0, 1, 8)]))
    check_label(ck, "1 x 2^20", random_mask(rng, 1, 1 << 20, 0.6)[None], ref=False)
    check_label(ck, "2^20 x 1", random_mask(rng, 1 << 20, 1, 0.6)[None], ref=False)
    check_label(ck, "empty batch", np.zeros((0, 9, 9), np.uint8), ref=False)
    check_stats(ck, "random batch", ldmatte.label(np.stack([random_mask(rng, 97, 61, d) for d in (0.1, 0.5, 0.9)])))

    log("correctness: refine_alpha and pad_rgb on synthetic and random inputs")
    synth = {"blobs": np.stack([alpha_from_mask(blobs(rng, 161, 177, 4.0, 0.4), rng) for _ in range(3)]),
             "uniform": rng.integers(0, 256, (2, 140, 150)).astype(np.uint8),
             "1x300": rng.integers(0, 256, (1, 1, 300)).astype(np.uint8),
             "300x1": rng.integers(0, 256, (1, 300, 1)).astype(np.uint8)}  # fmt: skip
    for name, a in synth.items():
        check_refine(ck, name, a, PARAMS)
    for shape in [(1, 1, 1), (2, 1, 9), (2, 9, 1), (1, 2, 2), (3, 17, 23), (2, 97, 61)]:
        rgba = rng.integers(0, 256, shape + (4,)).astype(np.uint8)
        rgba[..., 3] *= rng.random(shape) < 0.5
        check_pad(ck, f"random {shape}", rgba)
        check_pad(ck, f"random {shape} float", (rgba / 255.0).astype(np.float32), np.float32)

    log(f"correctness: {len(images)} real samples (label, refine_alpha, pad_rgb, refine)")
    for name, rgba in images.items():
        alpha = np.ascontiguousarray(rgba[..., 3])
        check_label(ck, f"{name} transition", ((alpha > 8) & (alpha < 247)).astype(np.uint8)[None])
        check_label(ck, f"{name} support", (alpha > 8).astype(np.uint8)[None], ref=False)
        check_stats(ck, f"{name} transition", ldmatte.label(((alpha > 8) & (alpha < 247))[None]))
        check_refine(ck, name, alpha, PARAMS[:3])
        check_pad(ck, name, rgba)
        g = host(ldmatte.refine(dev(rgba)))
        c = ldmatte.refine(rgba)
        ck.equal(f"refine {name} alpha", g[..., 3], c[..., 3])
        ck.close(f"refine {name} rgb", g[..., :3], c[..., :3], 1, "cpu")
    if "pad_input" in images:
        import cv2

        golden = cv2.imread(str(DATA / "pad_reference_output.png"), cv2.IMREAD_UNCHANGED)
        if golden is not None:
            ck.close("pad_rgb golden pair", host(ldmatte.pad_rgb(dev(images["pad_input"]))), golden, 1, "golden")


def giant_batch(ck, rng):
    """A batch of more than 2**31 pixels: every 64-bit offset path of the kernels.

    Image i of the batch is a copy of sample i % 4; results are compared per sample
    on the device (strided views, no gathers of the whole batch).
    """
    torch = torch_mod()
    free, _ = torch.cuda.mem_get_info()
    if free < 40 * 2**30:
        log(f"giant batch skipped: only {free / 2**30:.0f} GiB free")
        return
    h = w = 512
    n, k = (1 << 31) // (h * w) + 1, 4
    log(f"correctness: giant batch {n} x {h} x {w} = {n * h * w / 2**31:.4f} * 2^31 pixels")
    alphas = np.stack([alpha_from_mask(blobs(rng, h, w, 3.0, 0.5), rng) for _ in range(k)])
    src = dev(alphas)[torch.arange(n, device="cuda") % k]

    def compare(what, got, want, tol=0):
        ck.checks += 1
        bad = []
        for j in range(k):
            g, r = got[j::k], dev(want[j])
            diff = torch.maximum(g, r) - torch.minimum(g, r)  # no sign, no widening of the batch
            worst = diff.flatten(1).amax(1) if diff.dim() > 1 else diff
            bad += [int(i) * k + j for i in host((worst > tol).nonzero().flatten())[:5]]
        if bad:
            ck._fail(f"giant batch {what}", f"images differing (first few per sample): {sorted(bad)[:12]}")

    masks = ((src > 8) & (src < 247)).to(torch.uint8)
    labels, num = ldmatte.label(masks, 8, return_num=True)
    ref = [label_reference((a > 8) & (a < 247), 8) for a in alphas]
    compare("label labels", labels, [r[0] for r in ref])
    compare("label num", num, [np.int32(r[1]) for r in ref])
    del labels, num, masks
    from ldmatte._arrays import describe
    from ldmatte._cuda import refine_alpha_cuda

    out, stats = refine_alpha_cuda(describe(src, "alpha", (np.uint8,), batch=True), ldmatte.RefineParams())
    ref = [refine_alpha_reference(a) for a in alphas]
    compare("refine_alpha alpha", out, [r[0] for r in ref])
    compare("refine_alpha stats", stats, [r[1] for r in ref])
    del out, stats
    rgba = torch.stack([src, src, src, src], dim=-1)
    del src
    padded = ldmatte.pad_rgb(rgba)
    del rgba
    compare("pad_rgb", padded, [pad_rgb_reference(np.dstack([a, a, a, a])) for a in alphas], tol=1)
    del padded
    release_memory()


def release_memory():
    torch = torch_mod()
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    ldmatte._backend.native().cuda_release_workspace()


# ------------------------------------------------------------------ timings


def gpu_ms(fn, reps, warmup=3):
    """Median milliseconds of fn() between CUDA events on the current stream."""
    torch = torch_mod()
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def wall_ms(fn, reps, warmup=1, sync=None):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def args_reps(reps):
    return f"median of {reps} CUDA-event timings after warm-up; CPU path: median of 3"


def batch_of(images, batch, size=(1024, 1024)):
    """``batch`` real RGBA images of ``size`` (cycling; others resized), or None."""
    import cv2

    pool = [im if im.shape[:2] == size else cv2.resize(im, size[::-1], interpolation=cv2.INTER_AREA)
            for im in images.values()]  # fmt: skip
    return np.stack([pool[i % len(pool)] for i in range(batch)]) if pool else None


def timings(images, batch, reps):
    rows = []
    rgba = batch_of(images, batch)
    if rgba is None:
        rng = np.random.default_rng(1)
        rgba = np.stack([np.dstack([rng.integers(0, 256, (1024, 1024, 3)),
                                    alpha_from_mask(blobs(rng, 1024, 1024, 8.0, 0.5), rng)]).astype(np.uint8)
                         for _ in range(batch)])  # fmt: skip
    alpha = np.ascontiguousarray(rgba[..., 3])
    px = alpha.size
    log(f"timings: batch {alpha.shape}, {args_reps(reps)}")
    masks = {"real transition 8<a<247": ((alpha > 8) & (alpha < 247)).astype(np.uint8),
             "noise 50%": (np.random.default_rng(0).random(alpha.shape) < 0.5).astype(np.uint8)}  # fmt: skip

    def row(op, what, gpu, cpu=None, unit="batch"):
        r = {"op": op, "input": what, "gpu_ms": round(gpu, 4), "cpu_ms": None if cpu is None else round(cpu, 3)}
        r["gpu_us_per_image"] = round(gpu * 1e3 / batch, 2)
        if op.startswith("label"):
            r["gpixel_per_s"] = round(px / gpu / 1e6, 2)
        r["images_per_s"] = round(batch / gpu * 1e3, 1)
        r["gpu_speedup_vs_cpu"] = None if cpu is None else round(cpu / gpu, 1)
        rows.append(r)
        extra = f"{r['gpixel_per_s']:7.2f} Gpixel/s" if "gpixel_per_s" in r else f"{r['images_per_s']:9.1f} images/s"
        cpu_txt = "" if cpu is None else f"   cpu {cpu:9.2f} ms ({r['gpu_speedup_vs_cpu']}x)"
        log(f"timing {op:30s} {what:24s} gpu {gpu:9.3f} ms {r['gpu_us_per_image']:9.2f} us/image {extra}{cpu_txt}")

    for what, m in masks.items():
        dm = dev(m)
        for conn in (8, 4):
            g = gpu_ms(lambda: ldmatte.label(dm, conn), reps)
            c = wall_ms(lambda: ldmatte.label(m, conn), 3)
            row(f"label conn={conn}", what, g, c)
        try:
            import cupy
            import cupyx.scipy.ndimage as cnd

            cm = cupy.asarray(m)
            st = np.zeros((3, 3, 3), bool)
            st[1] = True  # 8-connectivity inside each image, nothing across images
            g = wall_ms(lambda: cnd.label(cm, structure=st), reps, 2, cupy.cuda.Device().synchronize)
            row("cupyx.scipy.ndimage.label 8", what, g)
            del cm
        except ImportError:
            log("CuPy not installed: no cupyx.scipy.ndimage.label comparison")
        del dm
    da, drgba = dev(alpha), dev(rgba)
    row("refine_alpha (defaults)", "real alpha", gpu_ms(lambda: ldmatte.refine_alpha(da), reps),
        wall_ms(lambda: ldmatte.refine_alpha(alpha), 3))  # fmt: skip
    row("refine_alpha (no subject rule)", "real alpha",
        gpu_ms(lambda: ldmatte.refine_alpha(da, min_subject_fraction=None), reps),
        wall_ms(lambda: ldmatte.refine_alpha(alpha, min_subject_fraction=None), 3))  # fmt: skip
    row("pad_rgb", "real RGBA", gpu_ms(lambda: ldmatte.pad_rgb(drgba), reps), wall_ms(lambda: ldmatte.pad_rgb(rgba), 3))
    row("refine (RGBA in, RGBA out)", "real RGBA", gpu_ms(lambda: ldmatte.refine(drgba), reps),
        wall_ms(lambda: ldmatte.refine(rgba), 3))  # fmt: skip
    compose_timings(row, drgba, reps)
    del da, drgba
    release_memory()
    return rows


def compose_timings(row, drgba, reps):
    """The two compose steps of the GPU refine: the fused kernel (csrc/cuda/compose.cu) against the
    torch where + cat it replaced, on the same refined alpha and padding (target: refine >= 8,000 images/s
    for 32 x 1024^2 on an H100/H200; the torch steps took ~1.3 ms of the 6.44 ms batch)."""
    from ldmatte._cuda_compose import compose_rgba_cuda, fused_compose_available
    from ldmatte._refine import _compose

    if not fused_compose_available():
        log("the extension has no fused compose kernel: compose timings skipped")
        return
    torch = torch_mod()
    alpha = ldmatte.refine_alpha(drgba[..., 3].contiguous())
    padded = ldmatte.pad_rgb(drgba)

    def torch_steps():
        with_alpha = _compose("torch", drgba, alpha, drgba[..., :3])
        return with_alpha, _compose("torch", drgba, alpha, padded)

    def fused_steps():
        with_alpha = compose_rgba_cuda(drgba, alpha)
        first = with_alpha.clone() if checking else None
        return first, compose_rgba_cuda(with_alpha, alpha, padded, out=with_alpha)

    checking = True
    (t_first, t_out), (f_first, f_out) = torch_steps(), fused_steps()
    checking = False
    same = bool(torch.equal(t_first, f_first) and torch.equal(t_out, f_out))
    log(f"compose: fused kernel {'EQUALS' if same else 'MISMATCH against'} the torch where + cat path")
    row("compose x2 (fused kernel)", f"real RGBA, equal={same}", gpu_ms(fused_steps, reps))
    row("compose x2 (torch where + cat)", "real RGBA", gpu_ms(torch_steps, reps))


def kernel_breakdown(fn, reps=3):
    """[(kernel or copy, calls per run, GPU us per run)] of fn() from the profiler (CUPTI), largest first."""
    torch = torch_mod()
    from torch.profiler import ProfilerActivity, profile

    fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(reps):
            fn()
        torch.cuda.synchronize()
    rows = []
    for e in prof.key_averages():
        t = getattr(e, "device_time_total", None) or getattr(e, "cuda_time_total", 0) or 0
        if t > 0:
            rows.append((e.key[:70], round(e.count / reps, 1), round(t / reps, 1)))
    return sorted(rows, key=lambda r: -r[2])


def breakdowns(images, batch):
    """Per-kernel GPU time of one call of each op on a real batch, and throughput against batch size."""
    rgba = batch_of(images, batch)
    if rgba is None:
        return {}, []
    torch = torch_mod()
    alpha = np.ascontiguousarray(rgba[..., 3])
    da, drgba, dm = dev(alpha), dev(rgba), dev(((alpha > 8) & (alpha < 247)).astype(np.uint8))
    ops = {"label": lambda: ldmatte.label(dm), "refine_alpha": lambda: ldmatte.refine_alpha(da),
           "pad_rgb": lambda: ldmatte.pad_rgb(drgba), "refine": lambda: ldmatte.refine(drgba)}  # fmt: skip
    kernels = {}
    for name, fn in ops.items():
        try:
            kernels[name] = kernel_breakdown(fn)
        except Exception as exc:  # noqa: BLE001 - the profiler is optional
            log(f"kernel breakdown unavailable ({type(exc).__name__}: {exc})")
            break
        log(f"kernels of {name} (batch {batch}), GPU us per call:")
        for k, n, t in kernels[name][:14]:
            log(f"    {t:10.1f} us  x{n:<5} {k}")
    scaling = []
    for b in (1, 8, 32, 128):
        idx = torch.arange(b, device=da.device) % batch
        sa, sm, sr = da[idx].contiguous(), dm[idx].contiguous(), drgba[idx].contiguous()
        for name, fn in {"label": lambda: ldmatte.label(sm), "refine_alpha": lambda: ldmatte.refine_alpha(sa),
                         "pad_rgb": lambda: ldmatte.pad_rgb(sr), "refine": lambda: ldmatte.refine(sr)}.items():  # fmt: skip
            ms = gpu_ms(fn, 10)
            scaling.append({"op": name, "batch": b, "ms": round(ms, 4), "us_per_image": round(ms * 1e3 / b, 2),
                            "images_per_s": round(b / ms * 1e3, 1)})  # fmt: skip
            log(f"scaling {name:13s} batch {b:4d}: {ms:9.3f} ms  {ms * 1e3 / b:9.2f} us/image  {b / ms * 1e3:10.1f} images/s")
        del sa, sm, sr
    del da, drgba, dm
    release_memory()
    return kernels, scaling


# ------------------------------------------------------------------ compute-sanitizer workload


def sanitize_workload():
    """Every CUDA op once on small odd-sized batches (torch, no other kernels), checked on the host."""
    rng = np.random.default_rng(7)
    ck = Checker()
    stack = np.stack([alpha_from_mask(blobs(rng, 67, 131, 3.0, 0.5), rng) for _ in range(3)])
    row, col = rng.integers(0, 256, (1, 1, 300)).astype(np.uint8), rng.integers(0, 256, (2, 300, 1)).astype(np.uint8)
    for a in (stack, row, col):
        m = (a > 8) & (a < 247)
        for conn in (4, 8):
            got = host(ldmatte.label(dev(m), conn))
            ck.equal(f"label conn={conn} {a.shape}", got, label_reference(m, conn)[0], "reference")
        for p in PARAMS[:4]:
            got = host(ldmatte.refine_alpha(dev(a), *p))
            ck.equal(f"refine_alpha {p} {a.shape}", got, refine_alpha_reference(a, *p)[0], "reference")
    check_stats(ck, "workload", ldmatte.label((stack > 8) & (stack < 247)))
    for shape in [(3, 67, 131), (1, 2, 2), (2, 1, 9)]:
        rgba = rng.integers(0, 256, shape + (4,)).astype(np.uint8)
        ck.close(f"pad_rgb {shape}", host(ldmatte.pad_rgb(dev(rgba))), pad_rgb_reference(rgba), 1)
        f = (rgba / 255.0).astype(np.float32)
        got = host(ldmatte.pad_rgb(dev(f), np.float32))
        ck.close(f"pad_rgb float {shape}", got, pad_rgb_reference(f, np.float32), 1 / 255)
    print(f"sanitize workload: {ck.checks} checks, {len(ck.mismatches)} mismatches", flush=True)
    return 1 if ck.mismatches else 0


# ------------------------------------------------------------------ main


def write_report(out, facts, ck, rows, kernels=None, scaling=None):
    out.mkdir(parents=True, exist_ok=True)
    result = {"facts": facts, "checks": ck.checks, "mismatches": ck.mismatches, "timings": rows,
              "kernels_us_per_call": kernels or {}, "scaling": scaling or []}  # fmt: skip
    (out / "gpu_check.json").write_text(json.dumps(result, indent=1, default=str))
    lines = [f"# ldmatte GPU check: {facts.get('gpu')}", "",
             f"Correctness: {ck.checks} checks, {len(ck.mismatches)} mismatches.", ""]  # fmt: skip
    lines += [f"- MISMATCH {m}" for m in ck.mismatches[:50]]
    lines += ["", "| op | input | GPU ms / batch | us / image | Gpixel/s | images/s | CPU ms / batch | GPU / CPU |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r['op']} | {r['input']} | {r['gpu_ms']} | {r['gpu_us_per_image']} | {r.get('gpixel_per_s', '')} "
                     f"| {r['images_per_s']} | {r['cpu_ms']} | {r['gpu_speedup_vs_cpu']} |")  # fmt: skip
    if scaling:
        lines += ["", "| op | batch | ms | us / image | images/s |", "| --- | --- | --- | --- | --- |"]
        lines += [f"| {r['op']} | {r['batch']} | {r['ms']} | {r['us_per_image']} | {r['images_per_s']} |" for r in scaling]
    for name, ks in (kernels or {}).items():
        lines += ["", f"Kernels of {name} (GPU us per call): " + "; ".join(f"{k} x{n} {t}" for k, n, t in ks[:12])]
    (out / "gpu_check.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)


DATA = ROOT.parent / "shared" / "data" / "layerdiffuse"


def main(argv=None):
    global DATA
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=pathlib.Path, default=ROOT / "bench" / "out" / "gpu")
    ap.add_argument("--data", type=pathlib.Path, default=DATA, help="folder of real RGBA PNG samples")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--no-giant", action="store_true", help="skip the batch of more than 2**31 pixels")
    ap.add_argument("--sanitize-workload", action="store_true", help="only the small compute-sanitizer workload")
    args = ap.parse_args(argv)
    if args.sanitize_workload:
        return sanitize_workload()
    DATA = args.data
    import numba

    from ldmatte._info import info_dict

    facts = info_dict()
    torch = torch_mod()
    facts.update(torch=torch.__version__, torch_cuda=torch.version.cuda, numba_threads=numba.get_num_threads())
    try:
        import cupy

        facts["cupy"] = cupy.__version__
    except ImportError:
        facts["cupy"] = None
    log(f"facts: {facts}")
    if not facts["cuda_usable"]:
        log("the CUDA path is not usable here; nothing to check")
        return 1
    ck, rows = Checker(), []
    images = real_images(args.data)
    correctness(ck, images, np.random.default_rng(0))
    release_memory()
    if not args.no_giant:
        giant_batch(ck, np.random.default_rng(1))
    log(f"correctness: {ck.checks} checks, {len(ck.mismatches)} mismatches")
    rows = timings(images, args.batch, args.reps)
    kernels, scaling = breakdowns(images, args.batch)
    write_report(args.out, facts, ck, rows, kernels, scaling)
    log("done")
    return 1 if ck.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
