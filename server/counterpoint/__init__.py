"""Counterpoint: run parallel coding agents on a Markdown spec, coordinated by events.

`counterpoint.engine` is the engine (spec, scheduler, event log, watcher,
context, runners, checks); `counterpoint.lsp` and `counterpoint.cli` are its two
thin faces.
"""

__version__ = "0.1.0"
