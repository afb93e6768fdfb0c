"""A bare pygls 2 server with one hover feature: the baseline for start-up and latency figures."""

from __future__ import annotations

from lsprotocol import types
from pygls.lsp.server import LanguageServer

server = LanguageServer("bare", "0")


@server.feature(types.TEXT_DOCUMENT_HOVER)
def hover(ls: LanguageServer, params: types.HoverParams) -> types.Hover:
    return types.Hover(contents="bare")


if __name__ == "__main__":
    server.start_io()
