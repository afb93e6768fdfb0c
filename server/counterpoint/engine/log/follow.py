"""Following a log that other processes append to (`EventLog.follow`): a thread of its own reads
the events after the last one it delivered, hands them to the loop in id order, then sleeps in
`LogReader.wait` (PostgreSQL: LISTEN, woken by the writers' NOTIFY; SQLite: watching the file)
until something may have been committed. A read that fails (a database restarting, a network
drop) is retried on a new reader; nothing is skipped, since the next read starts after the last
event delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable

from counterpoint_protocol.events import Event

from counterpoint.engine.log.base import EventLogError, LogReader

log = logging.getLogger(__name__)
PAGE = 2000
"""Events read at a time."""
WAIT_S = 0.5
"""The longest a follower sleeps between reads (so a stop is noticed within it)."""
CHECK_S = 10.0
"""The longest a follower goes without reading (when no wake-up came)."""
RETRY_S = 1.0
"""The pause before a failed read is tried again."""


class Follower:
    """One follow of a log; `start`, then `stop` (from any thread)."""

    def __init__(
        self,
        make_reader: Callable[[], LogReader],
        run_id: str | None,
        after_id: int,
        on_events: Callable[[list[Event]], None],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.make_reader = make_reader
        self.run_id = run_id
        self.after_id = after_id
        self.on_events = on_events
        self.loop = loop
        self.error: EventLogError | None = None
        """The last read failure (cleared by the next read that works)."""
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="counterpoint-eventlog-follow", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def _run(self) -> None:
        reader: LogReader | None = None
        try:
            while not self._stopped.is_set():
                try:
                    if reader is None:
                        reader = self.make_reader()
                    events = reader.query(self.run_id, None, self.after_id, PAGE)
                    self.error = None
                    if events:
                        self.after_id = events[-1].id
                        self._deliver(events)
                    if len(events) < PAGE:
                        self._sleep(reader)
                except EventLogError as exc:
                    if self.error is None or str(exc) != str(self.error):
                        log.warning("following the event log: %s (trying again)", exc)
                    self.error = exc
                    if reader is not None:
                        _close(reader)
                        reader = None
                    self._stopped.wait(RETRY_S)
        finally:
            if reader is not None:
                _close(reader)

    def _sleep(self, reader: LogReader) -> None:
        """Until something of the run may have been committed (or `CHECK_S`: a notice lost with a
        dropped connection is then made up for), looking at the stop flag every `WAIT_S`."""
        deadline = time.monotonic() + CHECK_S
        while not self._stopped.is_set() and time.monotonic() < deadline:
            if reader.wait(WAIT_S, self.run_id):
                return

    def _deliver(self, events: list[Event]) -> None:
        if self.loop.is_closed():
            self._stopped.set()
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            self.loop.call_soon_threadsafe(self._hand_over, events)

    def _hand_over(self, events: list[Event]) -> None:
        if self._stopped.is_set():
            return
        try:
            self.on_events(events)
        except Exception:
            log.exception("an event follower failed")


def _close(reader: LogReader) -> None:
    try:
        reader.close()
    except Exception:  # a reader's connection that is already gone
        log.debug("closing a follower's reader failed", exc_info=True)
