"""The ``ldmatte`` command.

Each subcommand lives in its own module ``<name>_cmd.py`` in this package, with
``ORDER`` (its place in ``--help``) and ``register(subparsers)``, which adds its
parser and sets ``func`` to the function that runs it and returns the exit
status. Modules are discovered, so adding a subcommand touches no other file.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys


def _subcommand_modules():
    names = [m.name for m in pkgutil.iter_modules(__path__) if m.name.endswith("_cmd")]
    modules = [importlib.import_module(f".{name}", __name__) for name in names]
    return sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.__name__))


def build_parser() -> argparse.ArgumentParser:
    from .._version import __version__

    parser = argparse.ArgumentParser(
        prog="ldmatte",
        description="Turn Layer Diffusion outputs into clean portrait matting data.",
    )
    parser.add_argument("--version", action="version", version=f"ldmatte {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _subcommand_modules():
        module.register(sub)
    from ._options import finite_floats

    finite_floats(parser)  # no float option takes inf or nan
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
