"""Initialize, settings (initializationOptions and workspace/configuration), shutdown and exit."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lsprotocol import types

if TYPE_CHECKING:
    from counterpoint.lsp.core import CounterpointServer

log = logging.getLogger(__name__)


def apply_settings(server: CounterpointServer, raw: Any) -> None:
    from counterpoint.lsp.settings import validate_settings

    settings, problems = validate_settings(raw)
    server.settings = settings
    logging.getLogger("counterpoint").setLevel(settings.logLevel.upper())
    for problem in problems:
        server.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=problem))


async def pull_configuration(server: CounterpointServer) -> None:
    workspace = server.client_capabilities.workspace
    if not (workspace and workspace.configuration):
        return
    try:
        result = await server.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section="counterpoint")])
        )
    except Exception as exc:  # a client that cannot answer keeps the initialization options
        log.info("workspace/configuration failed: %s", exc)
        return
    if result and isinstance(result[0], dict) and result[0]:
        apply_settings(server, result[0])


def on_initialize(ls: CounterpointServer, params: types.InitializeParams) -> None:
    ls.raw_settings = params.initialization_options


async def on_initialized(ls: CounterpointServer, params: types.InitializedParams) -> None:
    # `initialize` has been answered: now load the models and the engine, and check the settings.
    import counterpoint.engine.engine
    import counterpoint.engine.spec.validate  # noqa: F401

    apply_settings(ls, ls.raw_settings)
    await pull_configuration(ls)


async def on_configuration(ls: CounterpointServer, params: types.DidChangeConfigurationParams) -> None:
    settings = params.settings
    if isinstance(settings, dict) and settings:
        apply_settings(ls, settings)
    else:
        await pull_configuration(ls)


async def on_shutdown(ls: CounterpointServer, params: Any = None) -> None:
    await ls.close()


def on_exit(ls: CounterpointServer, params: Any = None) -> None:
    from counterpoint.engine.process import kill_all_children

    kill_all_children()


def register(server: CounterpointServer) -> None:
    server.feature(types.INITIALIZE)(on_initialize)
    server.feature(types.INITIALIZED)(on_initialized)
    server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)(on_configuration)
    server.feature(types.SHUTDOWN)(on_shutdown)
    server.feature(types.EXIT)(on_exit)
