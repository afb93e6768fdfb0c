"""Benchmarks: each module prints a table and a JSON line (`python -m benchmarks.<name>`)."""
