"""The CLI's live table is redrawn at most every `REDRAW_S`, not once an event: a run of 100,000
writes must not build 100,000 tables on the event loop; the last state is always drawn."""

from __future__ import annotations

import asyncio
import io
from types import SimpleNamespace
from typing import Any, cast

from counterpoint.cli import live
from counterpoint.cli.live import LiveView
from counterpoint_protocol.events import Event, EventType
from rich.console import Console


async def test_a_burst_of_events_is_one_redraw() -> None:
    run = SimpleNamespace(run_id="r1", agents={}, status=lambda: SimpleNamespace(agents=[]))
    view = LiveView(cast(Any, run))
    view.console = Console(file=io.StringIO(), force_terminal=True, width=100)
    view.fancy = True
    drawn: list[int] = []
    table = view._table

    def counted() -> Any:
        drawn.append(1)
        return table()

    view._table = counted  # type: ignore[method-assign]
    view.start()
    try:
        before = len(drawn)
        for n in range(1_000):
            view.on_event(
                Event(
                    id=n + 1,
                    run_id="r1",
                    type=EventType.FILE_WRITTEN,
                    actor="writer",
                    action=f"f{n}.txt",
                    metadata={},
                    timestamp="2026-01-01T00:00:00.000Z",
                )
            )
        assert len(drawn) == before  # nothing drawn per event
        assert view._redraw is not None
        while view._redraw is not None:  # until the one redraw due has happened
            await asyncio.sleep(live.REDRAW_S / 4)
        assert len(drawn) == before + 1
    finally:
        view.stop()
    assert len(drawn) == before + 2  # stop draws the final state
