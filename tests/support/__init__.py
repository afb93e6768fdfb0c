"""Test harnesses shared by the tests and the benchmarks: import from here, never from a test module.

- `processes`: the processes a test left behind (`survivors`), waiting on a condition (`wait_until`).
- `harness`: kill -9 appenders and runs, orphan counts, a raw JSON-RPC connection (`Framed`).
- `load`: many agents, file storms, runs in a row, and a memory/CPU `Sampler`.
- `fuzz`, `raw_lsp`, `damage`: hostile JSON-RPC input, a raw LSP server, damaged event logs.
"""
