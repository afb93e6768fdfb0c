"""Agent output, appended to the log in batches.

An agent may print thousands of lines a second; one event per line would cost the
log, the editor and the event loop. So each agent's lines are batched: the first line
of a quiet agent goes out at once, the rest of a burst with the next batch (at most
one ``agent_output`` event per agent every `BATCH_S`, with ``line`` = the last line and
``lines`` = all of them). A batch keeps at most `BATCH_LINES` lines (the latest) and
counts the rest in ``dropped_lines``, so a flooding agent cannot grow memory or the log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from counterpoint_protocol.events import EventType

from counterpoint.engine.log import EventLog

log = logging.getLogger(__name__)
BATCH_S = 0.1
BATCH_LINES = 200


class OutputBatcher:
    def __init__(self, event_log: EventLog, run_id: str) -> None:
        self.log = event_log
        self.run_id = run_id
        self._pending: dict[str, list[str]] = {}
        self._sent: dict[str, float] = {}
        self._dropped: dict[str, int] = {}

    def add(self, agent: str, line: str) -> None:
        pending = self._pending.get(agent)
        now = time.monotonic()
        if pending is None and now - self._sent.get(agent, 0.0) >= BATCH_S:
            self._sent[agent] = now
            self.log.emit(self.run_id, EventType.AGENT_OUTPUT, agent, None, {"line": line})
            return
        if pending is None:
            pending = self._pending[agent] = []
            delay = max(0.0, BATCH_S - (now - self._sent.get(agent, 0.0)))
            asyncio.get_running_loop().call_later(delay, self.flush, agent)
        pending.append(line)
        if len(pending) > BATCH_LINES:
            del pending[0]
            self._dropped[agent] = self._dropped.get(agent, 0) + 1

    def flush(self, agent: str) -> None:
        """Append the agent's pending lines now (before any other event of that agent)."""
        lines = self._pending.pop(agent, None)
        dropped = self._dropped.pop(agent, 0)
        if not lines:
            return
        self._sent[agent] = time.monotonic()
        metadata: dict[str, Any] = {"line": lines[-1]}
        if len(lines) > 1:
            metadata["lines"] = lines
        if dropped:
            metadata["dropped_lines"] = dropped
        try:
            self.log.emit(self.run_id, EventType.AGENT_OUTPUT, agent, None, metadata)
        except RuntimeError:
            log.warning("output after the log closed: %s", agent)
