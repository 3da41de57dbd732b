"""The house rules of ``src/ohmap`` as checks: import flow, circles and sizes.

The layers, in the order data flow through the chain (docs/house.md):

0. the basics at the package's top (errors, logs, lines, settings, resample, cosmology, streams);
1. ``io``: file formats that carry no stage's data model;
2. the stages, each a subpackage: ``spectra``, ``linemaps``, ``inference``, ``gradients``,
   ``sample``;
3. ``mock`` (the chain run forwards) and ``report`` (figures), neither importing the other;
4. the front door: ``config`` (the configuration checked and turned into settings), ``inputs``
   (every input file checked; a data folder scanned for ``ohmap init``), then ``cli``.

A module may import modules of lower layers and of its own subpackage; within a subpackage, and
among the basics, the imports must not form a circle.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

#: Layer of each top-level name under ``ohmap`` (a subpackage or a module of the basics).
LAYERS = {
    "errors": 0,
    "logs": 0,
    "lines": 0,
    "settings": 0,
    "resample": 0,
    "cosmology": 0,
    "streams": 0,
    "io": 1,
    "spectra": 2,
    "linemaps": 3,
    "inference": 4,
    "gradients": 5,
    "sample": 6,
    "mock": 7,
    "report": 7,
    "config": 8,
    "inputs": 9,
    "cli": 10,
}


@dataclass(frozen=True)
class Import:
    """One import statement: the importing module, the imported ohmap module and the line."""

    module: str
    target: str
    path: Path
    line: int


def module_name(root: Path, path: Path) -> str:
    """Dotted name of a module file below ``root`` (the folder holding the package)."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(root: Path, package: str = "ohmap") -> list[Import]:
    """Every import of a ``package`` module by a module of ``package`` (nested ones included),
    resolved to the module it loads (``from pkg import sub`` loads ``pkg.sub`` when that is a
    module)."""
    modules = {module_name(root, p): p for p in (root / package).rglob("*.py")}
    found = []
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = name.split(".")
                    parts = parts if is_package else parts[:-1]
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                targets = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                    for a in node.names
                ]
            else:
                continue
            for target in targets:
                if target == package or target.startswith(package + "."):
                    found.append(Import(name, target, path, node.lineno))
    return found


def layer_of(module: str) -> int | None:
    """Layer of an ``ohmap`` module (None for the package itself, which anyone may import)."""
    parts = module.split(".")
    if len(parts) < 2:
        return None
    if parts[1] not in LAYERS:
        raise KeyError(f"{module}: no layer is assigned to ohmap.{parts[1]} (see LAYERS)")
    return LAYERS[parts[1]]


def against_the_flow(found: list[Import]) -> list[str]:
    """Imports of a module of the same or a later layer outside the importer's own subpackage."""
    bad = []
    for imp in found:
        src, dst = layer_of(imp.module), layer_of(imp.target)
        if dst is None or src is None:
            continue
        same_room = imp.module.split(".")[1] == imp.target.split(".")[1]
        basics = src == dst == 0
        if not same_room and not basics and dst >= src:
            bad.append(
                f"{imp.path}:{imp.line}: {imp.module} (layer {src}) imports {imp.target} "
                f"(layer {dst})"
            )
    return bad


def circles(found: list[Import]) -> list[list[str]]:
    """Strongly connected groups of modules (Tarjan), each a list of the modules in a circle."""
    graph: dict[str, set[str]] = {}
    for imp in found:
        if imp.target != imp.module:
            graph.setdefault(imp.module, set()).add(imp.target)
            graph.setdefault(imp.target, set())
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def long_definitions(path: Path, function_limit: int, class_limit: int) -> list[str]:
    """Functions and methods longer than ``function_limit`` lines, classes longer than
    ``class_limit`` (docstrings included)."""
    bad = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            n = node.end_lineno - node.lineno + 1
            limit = class_limit if isinstance(node, ast.ClassDef) else function_limit
            if n > limit:
                bad.append(f"{path}:{node.lineno}: {node.name} has {n} lines (at most {limit})")
    return bad
