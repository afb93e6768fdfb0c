"""The language server's features, one module each, wired up here in one place.

Each module keeps its handlers at module level and has a small `register(server)` that only
adds its parts and wires method names to those handlers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from counterpoint.lsp.features import (
    attach,
    commands,
    completion,
    conflicts,
    documents,
    lenses,
    lifecycle,
    navigation,
    plan,
    progress,
    run_ui,
)

if TYPE_CHECKING:
    from counterpoint.lsp.core import CounterpointServer

FEATURES = (
    lifecycle,
    documents,
    lenses,
    progress,
    run_ui,
    commands,
    navigation,
    completion,
    conflicts,
    attach,
    plan,
)
"""In registration order: a module's parts exist before a later module's register uses them."""


def register(server: CounterpointServer) -> None:
    for module in FEATURES:
        module.register(server)
