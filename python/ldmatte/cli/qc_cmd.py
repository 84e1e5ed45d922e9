"""``ldmatte qc``: quality control again on an existing dataset (new verdicts, files moved to match)."""
from __future__ import annotations

import sys

ORDER = 55


def add_arguments(parser) -> None:
    """Add one ``--<threshold>`` option per :class:`~ldmatte.dataset.QCConfig` field (``ldmatte qc``, ``build``)."""
    import dataclasses

    from ..dataset.qc import QCConfig

    group = parser.add_argument_group("quality control thresholds (see ldmatte.dataset.qc.QCConfig)")
    for f in dataclasses.fields(QCConfig):
        group.add_argument(f"--{f.name.replace('_', '-')}", dest=f"qc_{f.name}", type=float, default=None,
                           metavar="X", help=f"default {f.default}")  # fmt: skip


def config_from_args(args, base: dict | None = None):
    """QCConfig from parsed options; options not given take ``base`` values (e.g. a dataset's), else defaults."""
    import dataclasses

    from ..dataset.qc import QCConfig

    values = dict(base or {})
    for f in dataclasses.fields(QCConfig):
        v = getattr(args, f"qc_{f.name}", None)
        if v is not None:
            values[f.name] = v
    known = {f.name for f in dataclasses.fields(QCConfig)}
    return QCConfig(**{k: v for k, v in values.items() if k in known})


def register(sub) -> None:
    p = sub.add_parser(
        "qc", help="re-run quality control on a dataset (rewrites verdicts, moves samples, deletes nothing)",
        description="Judge every finished sample of a dataset again, with the thresholds given here (others keep "
        "the dataset's last settings), write the new manifest atomically (merging shard manifests), then move "
        "samples between fg/, alpha/ and rejected/ to match. Nothing is deleted; another run puts samples back.",
    )  # fmt: skip
    p.add_argument("dataset", help="dataset folder written by 'ldmatte build'")
    p.add_argument("--defaults", action="store_true", help="start from the default thresholds, not the dataset's")
    p.add_argument("--dry-run", action="store_true", help="print what would change; write and move nothing")
    p.add_argument("--review", action="store_true", help="write review.html (contact sheet) afterwards")
    p.add_argument("--review-limit", type=int, default=None, help="at most this many samples per status on the page")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_arguments(p)
    p.set_defaults(func=run)


def _dataset_qc(root: str) -> dict:
    import json
    import os

    try:
        with open(os.path.join(root, "dataset.json"), encoding="utf-8") as f:
            return json.load(f).get("qc", {})
    except (OSError, ValueError):
        return {}


def run(args) -> int:
    from ..dataset import requalify, write_review

    try:
        qc = config_from_args(args, None if args.defaults else _dataset_qc(args.dataset))
        summary = requalify(args.dataset, qc, dry_run=args.dry_run, progress=not args.no_progress)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"ldmatte qc: {exc}", file=sys.stderr)
        return 2
    verb = "would be" if args.dry_run else "now"
    print(f"{summary.kept} kept, {summary.rejected} rejected; {len(summary.newly_rejected)} {verb} rejected, "
          f"{len(summary.newly_kept)} {verb} kept again", file=sys.stderr)  # fmt: skip
    for label, ids in (("rejected", summary.newly_rejected), ("kept", summary.newly_kept)):
        if ids:
            print(f"  {label}: {', '.join(ids[:20])}{' ...' if len(ids) > 20 else ''}", file=sys.stderr)
    if summary.unreadable:
        print(f"  {len(summary.unreadable)} samples had no readable files and were dropped from the manifest "
              f"(a build redoes them): {', '.join(summary.unreadable[:20])}", file=sys.stderr)  # fmt: skip
    if args.review and not args.dry_run:
        print(f"review page: {write_review(args.dataset, limit=args.review_limit)}", file=sys.stderr)
    return 0
