"""The house reads as the pipeline: no import cycles (imports inside functions count), at most 6 loose
modules at the top of drivesim/, no module over 600 lines, and every package imports only what the map in
docs/architecture.md ("The package map") says it may -- the test reads the map, so the two cannot drift.

    python -m pytest tests/test_layout.py -q
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "drivesim"
MAX_LINES, MAX_LOOSE_MODULES = 600, 6


def _modules() -> dict[str, Path]:
    """Dotted name -> file, generated gRPC stubs left out (protoc writes them)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "_pb2" in path.name:
            continue
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The drivesim modules `name` imports anywhere in its file (module level or in a function)."""
    def owner(dotted: str) -> str | None:  # `from drivesim.a import b` may name module a.b or a's attribute b
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] or [base]
        else:
            continue
        for target in targets:
            if target.split(".")[0] == "drivesim" and (hit := owner(target)) and hit != name:
                # reaching a submodule through its package is not an import of the package's own code
                if not name.startswith(hit + "."):
                    out.add(hit)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (iterative Tarjan: no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_top_level_holds_only_the_entry_points():
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(loose) <= MAX_LOOSE_MODULES, loose


def test_no_module_is_over_600_lines():
    long = {name: n for name, path in _modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, long


def _map() -> dict[str, set[str]]:
    """docs/architecture.md's package map: row (`scenario/`, `output/files.py`, `api.py`) -> what it may import."""
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## The package map", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for row, may in re.findall(r"^\| `([\w/.]+)` \|[^|]*\| ([^|]*) \|$", section, re.M):
        rows[row] = {"anything"} if may.strip() == "anything" else set(re.findall(r"`([\w/.]+)`", may))
    return rows


def _row(module: str, rows: dict[str, set[str]]) -> str:
    """The most specific map row of a dotted module name."""
    parts = module.split(".")[1:]
    for n in range(len(parts), 0, -1):
        for candidate in ("/".join(parts[:n]) + ".py", "/".join(parts[:n]) + "/"):
            if candidate in rows:
                return candidate
    return "__init__.py"


def test_the_map_covers_every_package_and_module_at_the_top():
    rows = _map()
    tops = {p.name + "/" for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    tops |= {p.name for p in PACKAGE.glob("*.py")}
    assert tops <= set(rows), sorted(tops - set(rows))
    for allowed in rows.values():
        assert allowed <= set(rows) | {"anything"}, allowed - set(rows)


def test_every_package_imports_only_what_the_map_allows():
    rows = _map()
    broken = []
    for module, imported in _graph().items():
        row = _row(module, rows)
        if "anything" in rows[row]:
            continue
        for target in imported:
            target_row = _row(target, rows)
            if target_row != row and target_row not in rows[row]:
                broken.append(f"{module} ({row}) imports {target} ({target_row})")
    assert not broken, "\n".join(sorted(broken))


def test_a_module_finds_its_most_specific_row():
    rows = _map()
    assert _row("drivesim.output.files", rows) == "output/files.py"
    assert _row("drivesim.output.folder", rows) == "output/"
    assert _row("drivesim.standards.openscenario.runner", rows) == "standards/"
    assert _row("drivesim", rows) == "__init__.py"
    assert rows["scenario/"] >= {"errors.py"} and "pipeline/" not in rows["scenario/"]
    assert rows["cli/"] == {"anything"} and rows["errors.py"] == set()


def test_every_script_is_documented_in_the_architecture_page():
    section = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8").split("## Scripts", 1)[1]
    listed = set(re.findall(r"^\| `([\w.]+)` \|", section, re.M))
    assert listed == {p.name for p in (REPO / "scripts").glob("*.sh")}
