"""The language server's module structure: no import cycle among `counterpoint.lsp` modules (lazy
and TYPE_CHECKING imports count too), handlers importable one by one, and nothing heavy (pydantic,
the engine) loaded before `initialize` is answered."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import counterpoint.lsp

LSP = Path(counterpoint.lsp.__file__).resolve().parent
PACKAGE = "counterpoint.lsp"


def module_name(path: Path) -> str:
    parts = path.relative_to(LSP).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Every lsp module this file imports anywhere (top level, in a function, under TYPE_CHECKING)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from counterpoint.lsp.features import progress` imports the submodule `progress`
            # (an edge to it), `from counterpoint.lsp.features import register` the package.
            names = [
                f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known else node.module
                for alias in node.names
            ]
        else:
            continue
        found |= {name for name in names if name in known}
    return found


def import_graph() -> dict[str, set[str]]:
    files = {module_name(path): path for path in LSP.rglob("*.py")}
    known = set(files)
    graph = {name: imports_of(path, known) for name, path in files.items()}
    for name, edges in graph.items():
        # A package's __init__ runs before its submodules: importing a submodule imports the
        # package, but that edge is Python's, not ours; only the edges written in code count.
        edges.discard(name)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_among_lsp_modules() -> None:
    graph = import_graph()
    assert f"{PACKAGE}.server" in graph and f"{PACKAGE}.features.commands" in graph
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_feature_modules_import_the_server_only_for_typing() -> None:
    server = f"{PACKAGE}.server"
    offenders = []
    for path in (LSP / "features").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:  # top-level statements only: `if TYPE_CHECKING:` blocks are not
            if isinstance(node, ast.ImportFrom) and node.module == server:
                offenders.append(path.name)
    assert offenders == []


def test_handlers_are_module_level_functions() -> None:
    """No `@server.feature` / `@server.command` decorator inside a function: every handler can be
    imported and called on its own."""
    nested = []
    for path in LSP.rglob("*.py"):
        for func in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(func):
                if inner is func or not isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for decorator in inner.decorator_list:
                    target = decorator.func if isinstance(decorator, ast.Call) else decorator
                    if isinstance(target, ast.Attribute) and target.attr in ("feature", "command"):
                        nested.append(f"{path.name}:{inner.name}")
    assert nested == []


def test_creating_the_server_loads_neither_pydantic_nor_the_engine() -> None:
    """`initialize` is answered as fast as by a bare pygls server: the models and the engine load
    after it (a fresh interpreter: this test process has them loaded already)."""
    code = (
        "import json, sys\n"
        "from counterpoint.lsp.server import create_server\n"
        "create_server()\n"
        "heavy = [m for m in sys.modules if m.startswith(('pydantic', 'counterpoint.engine.engine',"
        " 'counterpoint_protocol.events', 'counterpoint_protocol.spec'))]\n"
        "print(json.dumps(sorted(heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(out.stdout) == []


def test_live_states_match_the_protocol() -> None:
    """The LSP's plain-string state sets (kept free of pydantic for start-up) equal the protocol's."""
    from counterpoint.lsp.features import live
    from counterpoint_protocol.events import TERMINAL_STATUSES, AgentStatus

    assert {str(s) for s in TERMINAL_STATUSES} == live.TERMINAL
    assert live.TERMINAL - {AgentStatus.BLOCKED.value, AgentStatus.SKIPPED.value} == live.ENDED
