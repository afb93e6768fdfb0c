"""The watch room: file watching planned so ignored trees never reach RustNotify (watcher,
plan, ignore) and spec signals from file events (signals).
"""

from __future__ import annotations

from counterpoint.engine.watch.ignore import SignalMatcher
from counterpoint.engine.watch.signals import FileSignalSource
from counterpoint.engine.watch.watcher import FileChange

__all__ = ["FileChange", "FileSignalSource", "SignalMatcher"]
