"""Memory of a run grows with what it has to know (agents, signals, distinct paths written), not
with the number of writes: the run's write bookkeeping and the built-in checks'."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, cast

from counterpoint.engine.engine import Engine, read_spec
from counterpoint.engine.run import RunOptions

PATHS = ["src/a.py", "src/b.py", "docs/c.md"]


def deep_size(obj: object, stop: tuple[object, ...] = ()) -> int:
    """Bytes held by ``obj`` and what it refers to (containers and plain objects), each counted once;
    the traversal does not enter ``stop``."""
    seen = {id(s) for s in stop}
    total = 0
    todo = [obj]
    while todo:
        item = todo.pop()
        if id(item) in seen or isinstance(item, type):
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            todo.extend(item)
        elif hasattr(item, "__dict__"):
            todo.append(vars(item))
    return total


async def run_rewrites(folder: Path, rewrites: int) -> tuple[int, int, dict[str, Any]]:
    """One replay agent rewriting three files ``rewrites`` times in a real run: the deep size of the
    run's write records and of its built-in checks afterwards, and the report."""
    folder.mkdir()
    (folder / ".git").mkdir()
    steps = [
        {"action": "write_file", "path": PATHS[i % len(PATHS)], "content": f"v{i % 7}\n"}
        for i in range(rewrites)
    ]
    (folder / "writer.jsonl").write_text("".join(json.dumps(s) + "\n" for s in steps))
    spec_path = folder / "w.agents.md"
    spec_path.write_text("---\nrunner: replay\n---\n# W\n\n## writer\ntranscript: writer.jsonl\n- write\n")
    engine = await Engine.open(folder)
    try:
        run = engine.create_run(await read_spec(spec_path), RunOptions())
        report = await engine.execute(run)
        assert run.checks is not None
        checks = cast(Any, run.checks).builtin
        return (
            deep_size(run.files.writes),
            deep_size(checks, stop=(checks.run, checks._pending)),
            report,
        )
    finally:
        await engine.aclose()


async def test_a_runs_write_bookkeeping_does_not_grow_with_rewrites(tmp_path: Path) -> None:
    writes_small, checks_small, first = await run_rewrites(tmp_path / "small", 30)
    writes_large, checks_large, second = await run_rewrites(tmp_path / "large", 240)
    assert first["status"] == second["status"] == "succeeded"
    assert second["events"] > first["events"] + 2 * 200
    # One entry a path (three paths) whatever the number of writes (a write record is ~250 bytes:
    # 210 more writes kept would be ~50 KB; a hash table's resizes may differ by a few bytes).
    assert writes_large <= writes_small + 512, (writes_small, writes_large)
    assert checks_large <= checks_small + 512, (checks_small, checks_large)
