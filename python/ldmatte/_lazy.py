"""Lazy exports for subpackages whose modules pull in heavy dependencies (torch, diffusers, PIL)."""
from __future__ import annotations

import importlib


def lazy_exports(package: str, namespace: dict, exports: dict):
    """``__getattr__`` and ``__dir__`` for ``package``: each name of ``exports`` is imported from
    ``package.<module>`` on first use and cached in the package's ``namespace``."""

    def __getattr__(name):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{exports[name]}", package), name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
