"""The language server's entry point: `create_server` wires the features to the server class
(`core.CounterpointServer`), and `start` serves it on stdio or TCP."""

from __future__ import annotations

import atexit
import logging
import os

from counterpoint.lsp.core import CounterpointServer
from counterpoint.lsp.features import register


def create_server() -> CounterpointServer:
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
