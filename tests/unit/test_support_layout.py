"""Shared test harnesses live in `tests.support`: benchmarks import nothing else of the tests,
and a helper every suite needs (`survivors`, `wait_until`) is written once."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_benchmarks_import_only_the_shared_support_of_the_tests() -> None:
    wrong = {
        f"{path.name}: {module}"
        for path in sorted((REPO / "benchmarks").glob("*.py"))
        for module in imported_modules(path)
        if module.startswith("tests")
        and not (module == "tests.support" or module.startswith("tests.support."))
    }
    assert wrong == set()


def test_shared_helpers_are_defined_once() -> None:
    defined: dict[str, list[str]] = {"survivors": [], "wait_until": []}
    for path in sorted((REPO / "tests").rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name in defined:
                defined[node.name].append(str(path.relative_to(REPO)))
    assert defined == {
        "survivors": ["tests/support/processes.py"],
        "wait_until": ["tests/support/processes.py"],
    }
