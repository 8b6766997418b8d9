"""The import graph of genre_lib: no circle, and no import running back up a floor
(genre_lib.FLOORS). Every import counts, at the top of a module or inside a function,
except those only a type checker runs (``if TYPE_CHECKING:``)."""

import ast
import functools
from pathlib import Path

import genre_lib
from genre_lib import FLOORS

PACKAGE = Path(genre_lib.__file__).parent


def _imports(path: Path) -> set[str]:
    """The genre_lib modules ``path`` imports (relative or absolute), type-checking blocks left out."""
    found: set[str] = set()

    def walk(node: ast.AST) -> None:
        for n in ast.iter_child_nodes(node):
            if isinstance(n, ast.If) and isinstance(n.test, ast.Name) and n.test.id == "TYPE_CHECKING":
                continue
            if isinstance(n, ast.ImportFrom):
                module = n.module or ""
                if n.level == 1:
                    found.update([module.split(".")[0]] if module else [a.name for a in n.names])
                elif module.startswith("genre_lib."):
                    found.add(module.split(".")[1])
                elif module == "genre_lib":
                    found.update(a.name for a in n.names)
            elif isinstance(n, ast.Import):
                found.update(a.name.split(".")[1] for a in n.names if a.name.startswith("genre_lib."))
            walk(n)

    walk(ast.parse(path.read_text()))
    return found


@functools.cache
def _graph() -> dict[str, set[str]]:
    modules = {p.stem: p for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    return {m: {d for d in _imports(p) if d in modules and d != m} for m, p in modules.items()}


def test_every_module_has_a_floor():
    assert set(_graph()) == set(FLOORS), "give a new module its floor in genre_lib.FLOORS"


def test_no_import_runs_back_up_a_floor():
    up = [(m, d, FLOORS[m], FLOORS[d]) for m, deps in _graph().items() for d in deps if FLOORS[d] > FLOORS[m]]
    assert up == [], "module (floor) imports a module of a higher floor: " + repr(up)


def test_no_import_circle():
    graph, state, circles = _graph(), {}, []

    def visit(m: str, path: list[str]) -> None:
        state[m] = "open"
        for d in sorted(graph[m]):
            if state.get(d) == "open":
                circles.append(path[path.index(d):] + [d])
            elif d not in state:
                visit(d, path + [d])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert circles == []


def test_the_graph_reader_skips_imports_only_a_type_checker_runs():
    """The reader on a made-up module: relative, absolute and function-level imports count."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        a = Path(tmp) / "a.py"
        a.write_text("from typing import TYPE_CHECKING\nfrom . import b\nif TYPE_CHECKING:\n    from .c import X\n"
                     "def f():\n    from genre_lib.d import y\n")
        assert _imports(a) == {"b", "d"}
