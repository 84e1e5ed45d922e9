"""Build matting datasets from Layer Diffusion outputs: sources, refinement, quality control, review.

- :func:`build` with a source (:class:`SyntheticSource`, :class:`FolderSource`,
  :class:`LayerDiffusionSource`) writes ``fg/``, ``alpha/``, ``rejected/``,
  ``manifest.jsonl`` and a dataset card; kill-safe, resumable, shardable.
- :mod:`~ldmatte.dataset.qc`: the rules that delete bad samples (:class:`QCConfig`, :func:`evaluate`).
- :func:`requalify`: quality control again on an existing dataset (``ldmatte qc``).
- :func:`write_review`: an HTML contact sheet of kept and rejected samples.

Examples
--------
>>> import tempfile
>>> from ldmatte.dataset import SyntheticSource, build
>>> summary = build(SyntheticSource(2, seed=0, size=96), tempfile.mkdtemp(), progress=False)
>>> summary.processed, summary.errors
(2, [])
"""
from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "build": "builder",
    "BuildSummary": "builder",
    "prepare": "builder",
    "SyntheticSource": "sources",
    "FolderSource": "sources",
    "Produced": "sources",
    "LayerDiffusionSource": "ld_source",
    "QCConfig": "qc",
    "evaluate": "qc",
    "RULES": "qc",
    "requalify": "qc_rerun",
    "write_review": "review",
    "write_card": "card",
    "read_manifest": "manifest",
    "parse_shard": "manifest",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
