"""``ldmatte train``: train a ViTMatte on ldmatte datasets (composites on the fly, held-out validation)."""
from __future__ import annotations

import sys

ORDER = 70


def register(sub) -> None:
    p = sub.add_parser(
        "train", help="train a trimap-based matting model (ViTMatte) on ldmatte datasets",
        description="Composites each dataset foreground over random backgrounds on the fly (random rescale, crops "
        "centred on edges, flips, colour jitter), makes trimaps by random erosion/dilation of the alpha and trains "
        "ViTMatte (transformers VitMatteForImageMatting) with L1 + Laplacian + gradient losses on the unknown "
        "region; AdamW, warm-up then cosine decay, mixed precision on a GPU. A --val share of the samples is held "
        "out (never trained on) and evaluated (SAD, MSE, Grad on the unknown region, next to the trimap-only "
        "baseline). RUN gets checkpoint/ (safetensors, a save_pretrained folder), log.jsonl and curve.png; the same "
        "command again resumes a stopped run (--steps and --minutes are totals for the run). Ctrl-C saves and stops.",
    )  # fmt: skip
    p.add_argument("datasets", metavar="DATASET", nargs="+", help="dataset folders (fg/, alpha/, manifest.jsonl)")
    p.add_argument("-o", "--output", required=True, metavar="RUN", help="run folder (made, or resumed)")
    p.add_argument("--backgrounds", required=True, metavar="DIR",
                   help="folder of background images, or 'synthetic' (procedural textures; demos without data)")
    p.add_argument("--model", default="vitmatte-tiny",
                   help="vitmatte-small (ViTMatte-S), vitmatte-tiny (CPU demos) or a folder with config.json")
    p.add_argument("--init", metavar="CHECKPOINT_DIR",
                   help="start from the weights of a local checkpoint folder (config.json + model.safetensors)")
    p.add_argument("--steps", type=int, help="total optimisation steps of the run")
    p.add_argument("--minutes", type=float, help="total training time of the run (whichever ends first with --steps)")
    p.add_argument("--batch", type=int, default=4, help="crops per step (default 4)")
    p.add_argument("--crop", type=int, default=512, help="crop side in pixels, a multiple of 32 (default 512)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    p.add_argument("--val", type=float, default=0.1, help="share of samples held out for validation (default 0.1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, metavar="N",
                   help="train on N samples only: the first N of an order drawn from --seed (nested subsets)")
    p.add_argument("--lr", type=float,
                   help="peak learning rate (default 5e-4; 5e-3 for vitmatte-tiny trained from scratch)")
    p.add_argument("--val-every", type=int, default=100, help="validate every N steps (default 100)")
    p.add_argument("--save-every", type=int, default=200, help="checkpoint every N steps (default 200)")
    p.add_argument("--workers", type=int, default=1, help="threads preparing batches (default 1)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..fileio.ownership import OutputFault, UsageError, fault_message, stop_on_signals

    def fail(msg, code=2) -> int:
        print(f"ldmatte train: {msg}", file=sys.stderr)
        return code

    try:
        import torch

        from ..matting.trainer import TrainConfig, train
    except ImportError as exc:
        return fail(f"needs torch and transformers (pip install 'ldmatte[train]'): {exc}")
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = TrainConfig(datasets=args.datasets, output=args.output, backgrounds=args.backgrounds, model=args.model,
                      init=args.init, steps=args.steps, minutes=args.minutes, batch=args.batch, crop=args.crop,
                      device=args.device, val=args.val, seed=args.seed, limit=args.limit, lr=args.lr,
                      val_every=args.val_every, save_every=args.save_every, workers=args.workers,
                      progress=not args.no_progress)  # fmt: skip
    with stop_on_signals() as stop:
        try:
            result = train(cfg, stop=stop)
        except OutputFault as exc:  # the run folder cannot be made or marked (read-only, full): a fault
            return fail(exc, 1)
        except (UsageError, ValueError) as exc:
            return fail(exc)
        except OSError as exc:  # named by the file it concerns (an input or the run folder)
            return fail(fault_message(exc), 1)
        except KeyboardInterrupt:  # a second Ctrl-C / SIGTERM: no wait for the checkpoint
            return fail(f"stopped by a second {stop.signal_name or 'signal'}; the last checkpoint resumes", 130)
    print(f"step {result.step}, {result.seconds / 60:.1f} min of training; run folder {result.output}",
          file=sys.stderr)  # fmt: skip
    if result.val and result.baseline:
        print(f"held-out SAD {result.val['sad']:.3f} (trimap-only baseline {result.baseline['sad']:.3f}), "
              f"MSE {result.val['mse']:.5f} ({result.baseline['mse']:.5f}), "
              f"Grad {result.val['grad']:.3f} ({result.baseline['grad']:.3f}); unknown region, mean per image")
    if result.interrupted:
        print(f"stopped by {stop.signal_name}; the same command resumes", file=sys.stderr)
        return 130
    return 0
