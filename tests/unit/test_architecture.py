"""The shape of the code, checked on its syntax trees: no import cycle, small modules and classes.

Every import counts, wherever it is written: at the top, inside a function (a lazy import hides a
cycle, it does not remove it) and under ``TYPE_CHECKING``. An import names the most specific
project module it reaches (``from counterpoint.engine.spec import validate`` is an edge to
``counterpoint.engine.spec.validate``; ``from counterpoint.engine.spec import load_spec`` one to the
package). ``protocol/`` is the contract both sides share: it imports nothing from the server.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = (ROOT / "server", "counterpoint"), (ROOT / "protocol", "counterpoint_protocol")
MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 300


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for base, package in SOURCES:
        for path in sorted((base / package).rglob("*.py")):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imported(module: str, path: Path, tree: ast.Module) -> Iterator[str]:
    """Every project module `module` names in an import, anywhere in its tree."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield from _known(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:
                    yield f"{base}.{alias.name}"
                else:
                    yield from _known(base)


def _known(name: str) -> Iterator[str]:
    """The most specific project module `name` (or one of its parents) is."""
    parts = name.split(".")
    while parts:
        if ".".join(parts) in MODULES:
            yield ".".join(parts)
            return
        parts.pop()


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[module] = {target for target in _imported(module, path, tree) if target != module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One concrete cycle for each strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_one_cycle(graph, component) for component in components]


def _one_cycle(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest way from the component's first module back to itself, inside the component."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & component):
                if target == start:
                    return [*paths[node], start]
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle through {start} in {sorted(component)}")


def test_the_scan_sees_lazy_and_type_checking_imports() -> None:
    """The scanner is not blind to what the rules are about: imports inside functions and under
    ``TYPE_CHECKING`` are edges too (checked on a synthetic module and on the real graph)."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from counterpoint.engine.run import Run\n"
        "def later() -> None:\n"
        "    import counterpoint.engine.engine\n"
        "    from counterpoint.engine.spec import validate\n"
        "    from . import spec\n"
    )
    tree = ast.parse(source)
    path = ROOT / "server/counterpoint/engine/example.py"
    assert set(_imported("counterpoint.engine.example", path, tree)) == {
        "counterpoint.engine.run",
        "counterpoint.engine.engine",
        "counterpoint.engine.spec.validate",
        "counterpoint.engine.spec",
    }
    graph = _graph()
    assert "counterpoint.engine.engine" in graph["counterpoint.lsp.core"]  # lazy and TYPE_CHECKING
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_import_cycle_among_the_project_modules() -> None:
    cycles = _cycles(_graph())
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_protocol_imports_nothing_from_the_server() -> None:
    graph = _graph()
    reaching = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if module.startswith("counterpoint_protocol")
        for target in targets
        if not target.startswith("counterpoint_protocol")
    )
    assert reaching == []
    for module, path in MODULES.items():  # not even a package outside the scan (counterpoint.*)
        if module.startswith("counterpoint_protocol"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module or ""]
                assert not [n for n in names if n == "counterpoint" or n.startswith("counterpoint.")], module


def test_modules_and_classes_stay_small() -> None:
    too_big = []
    for module, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            too_big.append(f"module {module}: {lines} lines (at most {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                size = node.end_lineno - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    too_big.append(f"class {module}.{node.name}: {size} lines (at most {MAX_CLASS_LINES})")
    assert too_big == []


def _class_index() -> dict[str, list[tuple[str, ast.ClassDef]]]:
    """Every project class by name: (module, definition)."""
    index: dict[str, list[tuple[str, ast.ClassDef]]] = {}
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                index.setdefault(node.name, []).append((module, node))
    return index


def _base_name(base: ast.expr) -> str:
    return ast.unparse(base.value if isinstance(base, ast.Subscript) else base).rpartition(".")[2]


def _is_interface(node: ast.ClassDef, index: dict[str, list[tuple[str, ast.ClassDef]]]) -> bool:
    """A Protocol, an ABC with abstract methods, or an exception: a base made to be a base."""
    names = {_base_name(base) for base in node.bases}
    if names & {"Protocol", "ABC", "Exception", "BaseModel"} or any(
        isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
        and any(ast.unparse(d).endswith("abstractmethod") for d in item.decorator_list)
        for item in node.body
    ):
        return True
    return any(_is_interface(parent, index) for name in names for _, parent in index.get(name, []))


def test_no_inheritance_only_to_split_a_class() -> None:
    """A project class that another project class inherits from is an interface (Protocol, ABC,
    exception, pydantic model) or shared by several subclasses: never one class cut in two files."""
    index = _class_index()
    subclasses: dict[str, list[str]] = {}
    for name, definitions in index.items():
        for module, node in definitions:
            for base in node.bases:
                if _base_name(base) in index:
                    subclasses.setdefault(_base_name(base), []).append(f"{module}.{name}")
    split = sorted(
        f"{base} has one subclass, {children[0]}, and is no interface"
        for base, children in subclasses.items()
        if len(children) == 1 and not any(_is_interface(node, index) for _, node in index[base])
    )
    assert split == []


def test_the_split_class_rule_can_fail() -> None:
    tree = ast.parse("class Half:\n    x = 1\nclass Whole(Half):\n    y = 2\n")
    half, _whole = (node for node in tree.body if isinstance(node, ast.ClassDef))
    assert not _is_interface(half, {"Half": [("m", half)]})
    proto = ast.parse("class P(Protocol):\n    pass\n").body[0]
    assert isinstance(proto, ast.ClassDef) and _is_interface(proto, {})
