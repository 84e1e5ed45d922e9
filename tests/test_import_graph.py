"""The package's map, read from the source: layers import only downward, no import cycles, imports at the modules'
own places, `import ldmatte` stays light, CLI modules small.

Every ``import`` and ``from ... import`` is read with ``ast``, at module level and inside functions alike (a
function-level import is still an arrow between layers: it only moves the cycle to run time). ``from . import x``
points at the submodule ``x`` when ``x`` is a module, else at the package. Importing ``a.b.c`` counts as an arrow to
``a.b.c`` only, not to its parent packages (every module would otherwise depend on its package's ``__init__``).
"""
from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "python"
PACKAGE = "ldmatte"
# compiled modules (built from csrc/, present only where the extension is built): leaves of the graph
EXTENSIONS = ("ldmatte._native",)


def module_files(src: Path = SRC, package: str = PACKAGE) -> dict[str, Path | None]:
    """Dotted module name → source file, for every ``.py`` file of the package (``None`` for a compiled one)."""
    modules = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    for name in EXTENSIONS:
        if name.startswith(f"{package}."):
            modules.setdefault(name, None)
    return modules


def _base_package(module: str, path: Path, level: int) -> str:
    """The package a relative import of ``level`` dots in ``module`` starts from."""
    parts = module.split(".")
    if path.name != "__init__.py":
        parts = parts[:-1]  # a plain module's package is its parent
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts)


def aliases(src: Path = SRC, package: str = PACKAGE) -> dict[str, str]:
    """The compatibility names of moved modules (old name → new name), read from ``_aliases.py``."""
    path = src / package / "_aliases.py"
    if not path.exists():
        return {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["ALIASES"]:
            return ast.literal_eval(node.value)
    return {}


@dataclasses.dataclass(frozen=True)
class Import:
    """One import in ``module`` (line ``line``): the package module it names as written, and what that is."""

    module: str
    line: int
    written: str
    status: str  # "module", "alias" (a compatibility name) or "missing" (no such module in the package)


def read_imports(module: str, path: Path, modules: dict, compat: dict[str, str], package: str = PACKAGE):
    """The imports of package modules in ``module``'s source, at module or function level."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

    def status(name: str) -> str:
        return "module" if name in modules else "alias" if name in compat else "missing"

    def known(name: str) -> bool:
        return status(name) != "missing"

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == package or alias.name.startswith(f"{package}."):
                    yield Import(module, node.lineno, alias.name, status(alias.name))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _base_package(module, path, node.level)
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
                if source != package and not source.startswith(f"{package}."):
                    continue
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                # ``from pkg import sub`` imports the submodule; ``from pkg import name`` runs pkg/__init__.py
                name = submodule if known(submodule) else source
                yield Import(module, node.lineno, name, status(name))


def import_graph(src: Path = SRC, package: str = PACKAGE) -> dict[str, set[str]]:
    """Module → the package modules it imports (compatibility names resolved to the modules they name)."""
    modules = module_files(src, package)
    compat = aliases(src, package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        if path is None:
            continue
        for imp in read_imports(name, path, modules, compat, package):
            target = compat.get(imp.written, imp.written)
            if target in modules and target != name:
                graph[name].add(target)
    return graph


def all_imports(src: Path = SRC, package: str = PACKAGE) -> list[Import]:
    modules = module_files(src, package)
    compat = aliases(src, package)
    return [imp for name, path in modules.items() if path
            for imp in read_imports(name, path, modules, compat, package)]  # fmt: skip


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a closed path ``[a, b, ..., a]``) for each strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0

    # Tarjan's algorithm, iterative so that a deep package cannot hit the recursion limit
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))
    return [_cycle_in(group, graph) for group in groups]


def _cycle_in(group: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A closed path through ``group``'s first module, found breadth-first inside the group."""
    members = set(group)
    start = group[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [start, start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    return group  # unreachable for a strongly connected group


def test_graph_reads_relative_and_function_level_imports(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .a import f\n")
    (pkg / "_aliases.py").write_text("ALIASES = {'pkg.old': 'pkg.sub.c'}\n")
    (pkg / "a.py").write_text("def f():\n    from .sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("from .. import a\nfrom ..sub import c\nimport pkg.a\nfrom .gone import x\n")
    (pkg / "sub" / "c.py").write_text("from pkg import f\nfrom pkg import old\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph == {
        "pkg": {"pkg.a"},
        "pkg._aliases": set(),
        "pkg.a": {"pkg.sub.b"},
        "pkg.sub": set(),
        "pkg.sub.b": {"pkg.a", "pkg.sub.c"},
        "pkg.sub.c": {"pkg"},  # its import of its own old name is no arrow
    }
    assert find_cycles(graph) == [["pkg", "pkg.a", "pkg.sub.b", "pkg.sub.c", "pkg"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []
    flagged = {(i.module, i.line, i.written, i.status) for i in all_imports(tmp_path, "pkg") if i.status != "module"}
    assert flagged == {("pkg.sub.b", 4, "pkg.sub.gone", "missing"), ("pkg.sub.c", 2, "pkg.old", "alias")}


def test_package_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 50  # the walk found the package
    cycles = find_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


# The layers from the bottom up (docs/architecture.md): a module may import its own layer and those below it.
LAYERS = {
    "contracts": ("ldmatte._params", "ldmatte._stats", "ldmatte._version", "ldmatte._lazy", "ldmatte._aliases"),
    "kernels": ("ldmatte._kernels", "ldmatte._native"),
    "dispatch": ("ldmatte._arrays", "ldmatte._backend", "ldmatte._cuda_arch", "ldmatte._cuda", "ldmatte._cuda_compose"),
    "public array API": ("ldmatte", "ldmatte._label", "ldmatte._caar", "ldmatte._pad", "ldmatte._refine",
                         "ldmatte.regions", "ldmatte.report", "ldmatte._info", "ldmatte.metrics"),
    "files": ("ldmatte.fileio",),
    "review pictures and synthetic data": ("ldmatte.review", "ldmatte.synthetic"),
    "batch engine": ("ldmatte.batch",),
    "runs": ("ldmatte.dataset", "ldmatte.generate", "ldmatte.keying", "ldmatte.matting", "ldmatte.video"),
    "CLI": ("ldmatte.cli", "ldmatte.__main__"),
    "references": ("ldmatte.reference",),  # above everything: they may import any layer, none may import them
}


def layer_of(module: str) -> int | None:
    """The index of ``module``'s layer in LAYERS (the longest matching prefix), None for a module not listed."""
    best, rank = -1, None
    for index, prefixes in enumerate(LAYERS.values()):
        for prefix in prefixes:
            if (module == prefix or module.startswith(f"{prefix}.") and prefix != PACKAGE) and len(prefix) > best:
                best, rank = len(prefix), index
    return rank


def test_layers_import_only_downward():
    names = list(LAYERS)
    upward = sorted(f"{a} ({names[layer_of(a)]}) -> {b} ({names[layer_of(b)]})"
                    for a, targets in import_graph().items() for b in targets
                    if layer_of(a) is not None and layer_of(b) is not None and layer_of(b) > layer_of(a))  # fmt: skip
    assert not upward, "imports that point up a layer:\n" + "\n".join(upward)

def test_package_imports_name_modules_that_exist():
    # e.g. ``from .io import x`` left in a module that moved into a folder: it would fail only when called
    missing = sorted({f"{i.module}:{i.line}: {i.written}" for i in all_imports() if i.status == "missing"})
    assert not missing, "imports of modules the package does not have:\n" + "\n".join(missing)


def test_package_imports_modules_at_their_new_places():
    compat = aliases()
    old = sorted({f"{i.module}:{i.line}: {i.written} -> {compat[i.written]}"
                  for i in all_imports() if i.status == "alias"})  # fmt: skip
    assert not old, "compatibility names used inside the package (import the new place):\n" + "\n".join(old)


def test_old_names_are_the_new_modules():
    import importlib

    for old, new in aliases().items():
        module = importlib.import_module(old)
        assert module is importlib.import_module(new) and module.__name__ == new and module.__spec__.name == new


def test_import_ldmatte_leaves_reference_out():
    code = (
        "import sys, ldmatte\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('ldmatte.reference'))\n"
        "assert not loaded, loaded"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr


def test_cli_modules_stay_small():
    # a command parses, calls the library and prints; options shared by several commands go in cli/_options.py
    sizes = {path.name: len(path.read_text(encoding="utf-8").splitlines())
             for path in sorted((SRC / PACKAGE / "cli").glob("*.py"))}  # fmt: skip
    assert not {name: n for name, n in sizes.items() if n > 200}, sizes
