"""Fail on an import cycle between fastgd's modules (``python scripts/check_imports.py``; CI runs it).

Reads every ``from . import`` / ``from .module import`` of the package (the
imports at any depth, lazy ones inside functions too), builds the module
graph and prints each cycle it finds. Exit status 1 if there is one.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "fastgd"


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """``{module: the fastgd modules it imports}``, for every module of ``package``."""
    modules = {path.stem for path in package.glob("*.py")}
    graph = {}
    for path in package.glob("*.py"):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    imported.add(node.module.split(".")[0])
                else:  # `from . import name`: a module, or else a name of the package's __init__
                    imported.update(alias.name if alias.name in modules else "__init__" for alias in node.names)
        graph[path.stem] = (imported & modules) - {path.stem}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle of ``graph`` found by depth-first search, each once (as the path that closes it)."""
    found, seen = [], set()

    def visit(node: str, path: list[str]) -> None:
        for target in sorted(graph.get(node, ())):
            if target in path:
                cycle = [*path[path.index(target) :], target]
                key = frozenset(cycle)
                if key not in seen:
                    seen.add(key)
                    found.append(cycle)
            elif len(path) < len(graph):
                visit(target, [*path, target])

    for start in sorted(graph):
        visit(start, [start])
    return found


def main() -> int:
    found = cycles(import_graph())
    for cycle in found:
        print("import cycle: " + " -> ".join(cycle))
    if not found:
        print(f"no import cycles among {len(import_graph())} modules of fastgd")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
