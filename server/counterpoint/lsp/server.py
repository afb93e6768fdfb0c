"""The language server class: state lives here; features are wired up in `features.register`."""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from counterpoint_protocol.methods import SPEC_SUFFIX
from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from counterpoint import __version__
from counterpoint.engine.spawner import TaskSpawner
from counterpoint.lsp.protocol import CounterpointProtocol

if TYPE_CHECKING:
    from counterpoint_protocol.messages import ServerSettings
    from counterpoint_protocol.spec import Spec

    from counterpoint.engine.engine import Engine
    from counterpoint.engine.run import Run
    from counterpoint.lsp.features.documents import DiagnosticStore, SpecDocuments

# Heavy modules (pydantic models, the engine) are imported after `initialize` has been
# answered, so that the editor gets its response as fast as from a bare pygls server.

log = logging.getLogger(__name__)


class CounterpointServer(LanguageServer):
    """Holds the engines (one per workspace root), parsed specs, settings and live UI state."""

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
        self.ui: Any = None
        """The RunUI (progress, notifications, diagnostics of runs); set in features.register."""
        self.shutting_down = False
        self.diagnostics: DiagnosticStore
        self.documents: SpecDocuments

    @property
    def settings(self) -> ServerSettings:
        if self._settings is None:
            from counterpoint_protocol.messages import ServerSettings

            self._settings = ServerSettings()
        return self._settings

    @settings.setter
    def settings(self, value: ServerSettings) -> None:
        self._settings = value

    # -- capabilities ---------------------------------------------------------------------------

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
                if self.ui is not None:
                    self.ui.attach_engine(engine)
                self.engines[root] = engine
            return engine

    def live_runs(self) -> list[Run]:
        return [run for engine in self.engines.values() for run in engine.live_runs()]

    def find_run(self, run_id: str) -> tuple[Engine, Run] | None:
        for engine in self.engines.values():
            if run_id in engine.runs:
                return engine, engine.runs[run_id]
        return None

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
        if self.ui is not None:
            self.ui.end_all_progress()
        await self.spawner.aclose()
        from counterpoint.engine.process import kill_all_children

        kill_all_children()


def is_spec_uri(uri: str) -> bool:
    return uri.endswith(SPEC_SUFFIX)


class NotAFileUri(ValueError):
    """A uri the server cannot read (http:, untitled:, a remote one): only local files are run."""

    def __init__(self, uri: str) -> None:
        super().__init__(f"not a file: URI: {uri[:200]} (only files on this machine)")


def spec_path(uri: str) -> Path:
    path = to_fs_path(uri) if uri[:5].lower() == "file:" else None
    if path is None:
        raise NotAFileUri(uri)
    return Path(path)


def create_server() -> CounterpointServer:
    from counterpoint.lsp.features import register

    server = CounterpointServer()
    register(server)
    return server


def start(tcp: tuple[str, int] | None = None) -> int:
    """Serve on stdio (default) or TCP until the client goes away; nothing else writes to stdout.
    Returns the exit status: 1 when the input ended inside a message."""
    import sys

    from counterpoint.engine.process import kill_all_children
    from counterpoint.lsp.transport import serve_stdio, serve_tcp

    # The event log's writer thread and the loop share the GIL: hand it over within 1 ms, not the
    # default 5 ms, so that a request never waits long behind a batch of events being written.
    sys.setswitchinterval(0.001)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    atexit.register(kill_all_children)
    server = create_server()
    if tcp is not None:
        status = serve_tcp(server, *tcp)
    else:
        # stdout belongs to the protocol: keep a private copy of it for pygls and point fd 1 at
        # stderr, so that nothing else (a stray print, a C library, a child) can corrupt the stream.
        protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
        sys.stdout = sys.stderr
        status = serve_stdio(server, sys.stdin.buffer, protocol_out)
    kill_all_children()
    return status
