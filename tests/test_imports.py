"""selftrain's modules import each other without a cycle, counting imports inside functions too: a circle
there works only while one side imports lazily, and ties the two modules' boundaries together."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "scripts" / "selftrain"


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The selftrain modules one module's source imports anywhere in it (top level or in a function)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 or node.module == "selftrain" or (node.module or "").startswith("selftrain."):
                base = (node.module or "").removeprefix("selftrain").lstrip(".")
                # `from . import x` and `from selftrain import x` name modules; `from .x import y` names x
                names = [base] if base else [a.name for a in node.names]
                out.update(n.split(".")[0] for n in names)
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names if a.name.startswith("selftrain."))
    return (out & modules) - {path.stem}


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """module -> the selftrain modules it imports."""
    paths = {p.stem: p for p in package.glob("*.py") if p.stem != "__init__"}
    return {name: imported_modules(path, set(paths)) for name, path in paths.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One import circle (a path back to its first module) per back edge of a depth-first walk."""
    found, state = [], {}  # state: 1 on the current path, 2 done

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_cycles_finds_a_circle_through_a_function_level_import(tmp_path):
    (tmp_path / "a.py").write_text("from .b import f\n")
    (tmp_path / "b.py").write_text("def f():\n    from selftrain.c import g\n")
    (tmp_path / "c.py").write_text("from . import a\nimport os\n")
    (tmp_path / "d.py").write_text("import selftrain.a\n")
    graph = import_graph(tmp_path)
    assert graph == {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]


def test_selftrain_modules_import_each_other_without_a_cycle():
    graph = import_graph()
    assert {"config", "prompts", "filters", "regimes"} <= set(graph)
    assert cycles(graph) == []
