"""The language server class: engines, parsed specs, settings, and the features' parts.

It knows no feature: each feature module adds its state as a *part* (`add_part`, found again by
class with `part`) and hooks itself to new engines and to shutdown, so features import this
module (for typing) and never the other way round.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from counterpoint import __version__
from counterpoint.engine.process import TaskSpawner
from counterpoint.lsp.protocol import CounterpointProtocol

if TYPE_CHECKING:
    from counterpoint_protocol.messages import ServerSettings
    from counterpoint_protocol.spec import Spec

    from counterpoint.engine.engine import Engine
    from counterpoint.engine.run import Run

# Heavy modules (pydantic models, the engine) are imported after `initialize` has been
# answered, so that the editor gets its response as fast as from a bare pygls server.

log = logging.getLogger(__name__)
P = TypeVar("P")


class CounterpointServer(LanguageServer):
    """Holds the engines (one per workspace root), parsed specs, settings and the features' parts."""

    def __init__(self) -> None:
        super().__init__(
            "counterpoint",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=CounterpointProtocol,
        )
        self._settings: ServerSettings | None = None
        self.raw_settings: Any = None
        """initializationOptions, validated once `initialize` has been answered."""
        self.engines: dict[Path, Engine] = {}
        self._engine_locks: dict[Path, asyncio.Lock] = {}
        self.specs: dict[str, Spec] = {}
        """uri -> the last parsed spec of an open document."""
        self.spawner = TaskSpawner("lsp")
        self.shutting_down = False
        self._parts: dict[type[Any], Any] = {}
        self.engine_hooks: list[Callable[[Engine], None]] = []
        """Called with every engine the server opens (the run UI subscribes to its events)."""
        self.close_hooks: list[Callable[[], None]] = []
        """Called on shutdown once the engines are closed (the run UI ends its progress)."""

    # -- parts ------------------------------------------------------------------------------------

    def add_part(self, part: object) -> None:
        """Keep one feature's state (one object per class), found again with `part`."""
        self._parts[type(part)] = part

    def part(self, cls: type[P]) -> P:
        found = self._parts.get(cls)
        if found is None:
            raise LookupError(f"no {cls.__name__}: its feature is not registered")
        return cast(P, found)

    # -- settings and capabilities ------------------------------------------------------------------

    @property
    def settings(self) -> ServerSettings:
        if self._settings is None:
            from counterpoint_protocol.messages import ServerSettings

            self._settings = ServerSettings()
        return self._settings

    @settings.setter
    def settings(self, value: ServerSettings) -> None:
        self._settings = value

    @property
    def supports_work_done_progress(self) -> bool:
        window = self.client_capabilities.window
        return bool(window and window.work_done_progress)

    @property
    def supports_show_message_request(self) -> bool:
        window = self.client_capabilities.window
        return bool(window and window.show_message)

    # -- engines ----------------------------------------------------------------------------------

    async def engine_for(self, spec_path: Path) -> Engine:
        from counterpoint.engine.engine import Engine, find_workspace_root

        root = await asyncio.to_thread(find_workspace_root, spec_path)
        lock = self._engine_locks.setdefault(root, asyncio.Lock())
        async with lock:
            engine = self.engines.get(root)
            if engine is None:
                engine = await Engine.open(root)
                for hook in self.engine_hooks:
                    hook(engine)
                self.engines[root] = engine
            return engine

    def live_runs(self) -> list[Run]:
        return [run for engine in self.engines.values() for run in engine.live_runs()]

    def find_run(self, run_id: str) -> tuple[Engine, Run] | None:
        for engine in self.engines.values():
            if run_id in engine.runs:
                return engine, engine.runs[run_id]
        return None

    def all_runs(self) -> list[Run]:
        """Every run the open engines know of, live or ended."""
        return [run for engine in self.engines.values() for run in engine.runs.values()]

    def any_engine(self) -> Engine | None:
        return next(iter(self.engines.values()), None)

    # -- shutdown -----------------------------------------------------------------------------------

    async def close(self) -> None:
        """Cancel every run, end every progress, kill every child, close the logs."""
        if self.shutting_down:
            return
        self.shutting_down = True
        for run in self.live_runs():
            run.cancel()
        for engine in list(self.engines.values()):
            try:
                await engine.aclose()
            except Exception:
                log.exception("closing engine %s failed", engine.root)
        for hook in self.close_hooks:
            hook()
        await self.spawner.aclose()
        from counterpoint.engine.process import kill_all_children

        kill_all_children()
