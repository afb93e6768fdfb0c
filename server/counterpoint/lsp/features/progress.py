"""Work-done progress created by the server: begin, coalesced reports, and an end for every token.

Reports are coalesced: whatever changed is sent at most every `FLUSH_S`, and at
most `REPORTS_PER_FLUSH` at a time (least recently reported first), so 50 agents
streaming output cost the editor a bounded number of messages per second (24),
and the final state is never lost (`end` carries it). Clients without
`window.workDoneProgress` get `window/logMessage` lines for begin and end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from counterpoint.lsp.core import CounterpointServer

log = logging.getLogger(__name__)
FLUSH_S = 0.25
REPORTS_PER_FLUSH = 6
"""At most this many reports per flush (the least recently reported first): bursts stay small."""
CREATE_TIMEOUT_S = 5.0


@dataclass
class _Token:
    token: str
    title: str
    cancellable: bool
    on_cancel: Callable[[], None] | None
    message: str | None = None
    percentage: int | None = None
    state: str = "creating"  # creating -> active -> ended
    dirty: bool = False
    end_message: str | None = None
    last_report: float = 0.0
    end_requested: bool = False


class ProgressManager:
    def __init__(self, server: CounterpointServer) -> None:
        self.server = server
        self.tokens: dict[str, _Token] = {}
        self._flusher: asyncio.Task[None] | None = None

    # -- API --------------------------------------------------------------------------------------

    def begin(
        self,
        token: str,
        title: str,
        message: str | None = None,
        *,
        percentage: int | None = None,
        on_cancel: Callable[[], None] | None = None,
    ) -> None:
        if token in self.tokens:
            return
        entry = _Token(token, title, on_cancel is not None, on_cancel, message, percentage)
        self.tokens[token] = entry
        if self.server.supports_work_done_progress:
            self.server.spawner.spawn(self._open(entry), name=f"progress {token}")
        else:
            entry.state = "active"
            self._log(f"{title}: {message or 'started'}")
        self._ensure_flusher()

    def update(self, token: str, message: str | None = None, percentage: int | None = None) -> None:
        entry = self.tokens.get(token)
        if entry is None or entry.state == "ended":
            return
        if message is not None and message != entry.message:
            entry.message = message[:200]
            entry.dirty = True
        if percentage is not None and percentage != entry.percentage:
            entry.percentage = percentage
            entry.dirty = True

    def end(self, token: str, message: str | None = None) -> None:
        entry = self.tokens.get(token)
        if entry is None or entry.state == "ended":
            return
        entry.end_message = message
        if entry.state == "creating":
            entry.end_requested = True
            return
        self._send_end(entry)

    def end_all(self) -> None:
        for entry in list(self.tokens.values()):
            if entry.state == "active":
                self._send_end(entry)
            entry.state = "ended"
        self.tokens.clear()

    def cancel(self, token: str) -> bool:
        """The client cancelled this progress: cancel what it stands for."""
        entry = self.tokens.get(str(token))
        if entry is None or entry.on_cancel is None:
            return False
        entry.on_cancel()
        return True

    # -- sending ----------------------------------------------------------------------------------

    async def _open(self, entry: _Token) -> None:
        try:
            await asyncio.wait_for(self.server.work_done_progress.create_async(entry.token), CREATE_TIMEOUT_S)
        except Exception as exc:  # the client refused or did not answer: fall back to log lines
            log.info("progress %s not created: %s", entry.token, exc)
            entry.state = "ended"
            self.tokens.pop(entry.token, None)
            self._log(f"{entry.title}: {entry.message or 'started'}")
            return
        if entry.state == "ended":
            return
        self.server.work_done_progress.begin(
            entry.token,
            types.WorkDoneProgressBegin(
                title=entry.title,
                message=entry.message,
                percentage=entry.percentage,
                cancellable=entry.cancellable,
            ),
        )
        entry.state = "active"
        entry.dirty = False
        if entry.end_requested:
            self._send_end(entry)

    def _send_end(self, entry: _Token) -> None:
        entry.state = "ended"
        self.tokens.pop(entry.token, None)
        if self.server.supports_work_done_progress:
            try:
                self.server.work_done_progress.end(
                    entry.token, types.WorkDoneProgressEnd(message=entry.end_message)
                )
            except Exception:
                log.debug("progress end for %s failed", entry.token, exc_info=True)
            self.server.work_done_progress.tokens.pop(entry.token, None)
        else:
            self._log(f"{entry.title}: {entry.end_message or 'done'}")

    def _ensure_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = self.server.spawner.spawn(self._flush_loop(), name="progress flush")

    async def _flush_loop(self) -> None:
        while self.tokens:
            await asyncio.sleep(FLUSH_S)
            self.flush()

    def flush(self) -> int:
        """Report what changed: at most `REPORTS_PER_FLUSH` tokens, the least recently reported
        first (so every token gets its turn). Returns how many were reported."""
        dirty = [e for e in self.tokens.values() if e.state == "active" and e.dirty]
        dirty.sort(key=lambda e: e.last_report)
        now = asyncio.get_running_loop().time()
        sent = dirty[:REPORTS_PER_FLUSH]
        for entry in sent:
            entry.dirty = False
            entry.last_report = now
            if not self.server.supports_work_done_progress:
                continue
            try:
                self.server.work_done_progress.report(
                    entry.token,
                    types.WorkDoneProgressReport(
                        message=entry.message, percentage=entry.percentage, cancellable=entry.cancellable
                    ),
                )
            except Exception:  # one token's failed report never stops the others
                log.debug("progress report for %s failed", entry.token, exc_info=True)
        return len(sent)

    def _log(self, message: str) -> None:
        self.server.window_log_message(types.LogMessageParams(type=types.MessageType.Info, message=message))


def on_cancel(ls: CounterpointServer, params: types.WorkDoneProgressCancelParams) -> None:
    ls.part(ProgressManager).cancel(str(params.token))


def register(server: CounterpointServer) -> None:
    server.add_part(ProgressManager(server))
    server.close_hooks.append(server.part(ProgressManager).end_all)
    server.feature(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)(on_cancel)
