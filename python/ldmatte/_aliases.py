"""Compatibility names: the modules that moved when the package root was grouped by layer.

Each old name is the very module at its new place, loaded on first use: ``import ldmatte.io``,
``from ldmatte.files import collect_images`` and ``from ldmatte import synth`` keep working, and as the
old name and the new one are the same module object, patching an attribute through either (as tests do)
patches both. Code inside the package imports the new places; ``tests/test_import_graph.py`` checks it.
"""
from __future__ import annotations

import importlib
import importlib.machinery
import sys

__all__ = ["ALIASES", "install"]

ALIASES = {
    "ldmatte.io": "ldmatte.fileio.readwrite",
    "ldmatte.files": "ldmatte.fileio.ownership",
    "ldmatte._image_headers": "ldmatte.fileio._image_headers",
    "ldmatte.contact_sheet": "ldmatte.review.contact_sheet",
    "ldmatte.panels": "ldmatte.review.panels",
    "ldmatte.synth": "ldmatte.synthetic.portraits",
    "ldmatte.training": "ldmatte.dataset.composite_trimap",
    "ldmatte.prompts": "ldmatte.generate.prompts",
    "ldmatte.demo": "ldmatte.batch.demo",
}


class _AliasFinder:
    """Finder and loader of the old names (``sys.meta_path``): the module of an old name is its new module."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in ALIASES:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec):
        module = importlib.import_module(ALIASES[spec.name])
        spec.loader_state = module.__spec__
        return module

    def exec_module(self, module):
        # the import machinery stamps the old name's spec on the module it loaded: give it back its own
        module.__spec__ = module.__spec__.loader_state


def install() -> None:
    """Put the finder of the old names on ``sys.meta_path`` (once; after the ordinary finders)."""
    if not any(isinstance(finder, _AliasFinder) for finder in sys.meta_path):
        sys.meta_path.append(_AliasFinder())
