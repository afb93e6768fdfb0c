"""Run the benchmarks: `python -m benchmarks` runs every `benchmarks/bench_*.py`, one after another.

`python -m benchmarks scheduler` (or `bench_scheduler`) runs one; arguments after its
name go to it (`python -m benchmarks scheduler --sizes 20,100`). Each benchmark module
has `main(argv) -> dict`, prints its own table and JSON line; at the end this prints
one JSON line holding every result, keyed by name.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any


def available() -> list[str]:
    """Names of the benchmark modules (``bench_scheduler`` -> ``scheduler``) that have `main`."""
    names = []
    for path in sorted(Path(__file__).parent.glob("bench_*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if "\ndef main(" in text:
            names.append(path.stem.removeprefix("bench_"))
    return names


def run_one(name: str, argv: list[str]) -> dict[str, Any]:
    module = importlib.import_module(f"benchmarks.bench_{name.removeprefix('bench_')}")
    print(f"== {name} ==", flush=True)
    started = time.monotonic()
    result: dict[str, Any] = module.main(argv)
    print(f"({time.monotonic() - started:.1f} s)\n", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    names = available()
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        print("available: " + ", ".join(names))
        return 0
    if args and not args[0].startswith("-"):
        name = args[0].removeprefix("bench_")
        if name not in names:
            print(f"no benchmark {args[0]!r}; available: {', '.join(names)}", file=sys.stderr)
            return 2
        run_one(name, args[1:])
        return 0
    results = {name: run_one(name, []) for name in names}
    print(json.dumps({"benchmarks": results}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
