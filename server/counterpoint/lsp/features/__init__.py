"""The language server's features, one module each, wired up here in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from counterpoint.lsp.server import CounterpointServer


def register(server: CounterpointServer) -> None:
    from counterpoint.lsp.features import (
        commands,
        completion,
        documents,
        lenses,
        lifecycle,
        navigation,
        run_ui,
    )

    for module in (lifecycle, documents, run_ui, commands, navigation, completion, lenses):
        module.register(server)
