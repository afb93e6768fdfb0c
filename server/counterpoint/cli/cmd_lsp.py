"""``counterpoint lsp``: the language server (stdio by default, or ``--tcp HOST:PORT``)."""

from __future__ import annotations

import argparse

from counterpoint.cli.common import fail


def handle(args: argparse.Namespace) -> int:
    from counterpoint.lsp.server import start

    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        if not host or not port.isdigit():
            return fail("--tcp wants HOST:PORT, e.g. 127.0.0.1:2087")
        return start(tcp=(host, int(port)))
    return start()
