"""Live progress of a run in the terminal: one line per agent (rich), or plain lines when not a TTY."""

from __future__ import annotations

import asyncio
import sys
import time

from counterpoint_protocol.events import Event, EventType
from rich.console import Console
from rich.live import Live
from rich.table import Table

from counterpoint.engine.run import Run, waiting_text

STYLE = {
    "succeeded": "green",
    "failed": "red",
    "timed_out": "red",
    "blocked": "yellow",
    "cancelled": "yellow",
    "running": "cyan",
    "waiting": "dim",
    "queued": "dim",
    "gated": "magenta",
}
_PLAIN_TYPES = {
    EventType.AGENT_STARTED,
    EventType.AGENT_FINISHED,
    EventType.SIGNAL,
    EventType.AGENT_WAITING,
    EventType.FINDING,
    EventType.CHECK_FINISHED,
    EventType.NOTICE,
}


REDRAW_S = 0.125


class LiveView:
    def __init__(self, run: Run, *, enabled: bool = True) -> None:
        self.run = run
        self.console = Console(stderr=True)
        self.enabled = enabled
        self.fancy = enabled and self.console.is_terminal
        self._live: Live | None = None
        self._t0 = time.monotonic()
        self._drawn = 0.0
        self._redraw: asyncio.TimerHandle | None = None
        """A redraw due once `REDRAW_S` has passed (events in between cost nothing)."""

    def start(self) -> None:
        if self.fancy:
            self._live = Live(self._table(), console=self.console, refresh_per_second=8, transient=False)
            self._live.start()

    def stop(self) -> None:
        if self._redraw is not None:
            self._redraw.cancel()
            self._redraw = None
        if self._live is not None:
            self._live.update(self._table())
            self._live.stop()
            self._live = None

    def note(self, text: str) -> None:
        self.console.print(f"[yellow]{text}[/]")

    def on_event(self, event: Event) -> None:
        if event.run_id != self.run.run_id or not self.enabled:
            return
        if self._live is not None:
            self._schedule_redraw()
        elif event.type in _PLAIN_TYPES:
            at = time.monotonic() - self._t0
            detail = {
                EventType.SIGNAL: lambda: (
                    f"signal {event.action}" + (f" by {event.actor}" if event.actor else "")
                ),
                EventType.AGENT_WAITING: lambda: (
                    f"{event.actor} waiting on {waiting_text(event.metadata.get('waiting_on', []))}"
                ),
                EventType.AGENT_STARTED: lambda: f"{event.actor} started",
                EventType.AGENT_FINISHED: lambda: (
                    f"{event.actor} {event.action}"
                    + (f" in {event.metadata['duration_s']:.2f}s" if "duration_s" in event.metadata else "")
                    + (f": {event.metadata['error']}" if event.metadata.get("error") else "")
                ),
                EventType.FINDING: lambda: (
                    f"finding ({event.actor}): {event.metadata.get('path')}:{event.metadata.get('line')}: {event.metadata.get('message')}"
                ),
                EventType.CHECK_FINISHED: lambda: f"check {event.actor} {event.action}",
                EventType.NOTICE: lambda: f"notice: {event.action}",
            }[EventType(event.type)]()
            sys.stderr.write(f"[{at:7.2f}s] {detail}\n")

    def _schedule_redraw(self) -> None:
        """Redraw the table at most every `REDRAW_S`: 100,000 writes are not 100,000 tables."""
        if self._redraw is not None:
            return
        wait = max(0.0, REDRAW_S - (time.monotonic() - self._drawn))
        self._redraw = asyncio.get_running_loop().call_later(wait, self._draw)

    def _draw(self) -> None:
        self._redraw = None
        self._drawn = time.monotonic()
        if self._live is not None:
            self._live.update(self._table())

    def _table(self) -> Table:
        table = Table(box=None, show_header=True, header_style="bold", title=f"run {self.run.run_id}")
        table.add_column("agent")
        table.add_column("state")
        table.add_column("time", justify="right")
        table.add_column("waiting on / last output", overflow="ellipsis", no_wrap=True, max_width=80)
        for agent in self.run.status().agents:
            state = agent.state
            duration = f"{agent.duration_s:.1f}s" if agent.duration_s is not None else ""
            detail = (
                waiting_text(agent.waiting_on) if state == "waiting" else (agent.error or agent.last_output)
            )
            table.add_row(agent.name, f"[{STYLE.get(state, '')}]{state}[/]", duration, detail or "")
        return table
