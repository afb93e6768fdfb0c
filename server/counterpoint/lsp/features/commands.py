"""`workspace/executeCommand`: run, cancel, status, rerun, events, resume, report, trust; and for
isolated runs diff, apply, discard and showFile (a file at a commit, for the editor's diff view).

Each command takes one JSON object argument, validated by the protocol's
models; bad arguments get a JSON-RPC InvalidParams error with a clear message.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from counterpoint_protocol.methods import Commands
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcInvalidRequest

from counterpoint.lsp.core import CounterpointServer  # at run time: pygls reads the annotations
from counterpoint.lsp.features import live
from counterpoint.lsp.features.documents import SpecDocuments
from counterpoint.lsp.features.lenses import ViewRefresh
from counterpoint.lsp.features.run_ui import RunUI
from counterpoint.lsp.uris import NotAFileUri, is_spec_uri, spec_path

if TYPE_CHECKING:
    from pydantic import BaseModel

    from counterpoint.engine.engine import Engine

log = logging.getLogger(__name__)
P = TypeVar("P", bound="BaseModel")


def parse(model: type[P], command: str, args: tuple[Any, ...]) -> P:
    if len(args) > 1:
        raise JsonRpcInvalidParams(f"{command} takes one object argument, got {len(args)} arguments")
    raw = args[0] if args else {}
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise JsonRpcInvalidParams(f"{command} takes one object argument, got {type(raw).__name__}")
    from pydantic import ValidationError

    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'argument'}: {e['msg']}" for e in exc.errors()
        )
        raise JsonRpcInvalidParams(f"{command}: {problems}") from exc


Command = Callable[..., Awaitable[Any]]


def answered(name: str) -> Callable[[Command], Command]:
    """A command's refusals become JSON-RPC errors with one log line each, never a crash: a refused
    run (`RunRefused`) or a log error is InvalidRequest, a uri that is not a local file is
    InvalidParams; no command runs once the server is shutting down."""

    def wrap(fn: Command) -> Command:
        @functools.wraps(fn)
        async def handler(ls: CounterpointServer, *args: Any) -> Any:
            # The models and the engine load after `initialize` (see lifecycle).
            from counterpoint.engine.engine import RunRefused
            from counterpoint.engine.log import EventLogError

            if ls.shutting_down:
                raise JsonRpcInvalidRequest("the server is shutting down")
            try:
                return await fn(ls, *args)
            except (RunRefused, EventLogError) as exc:  # one clear line, never a crash
                log.warning("%s refused: %s", name, exc)
                raise JsonRpcInvalidRequest(str(exc)) from exc
            except NotAFileUri as exc:
                log.warning("%s refused: %s", name, exc)
                raise JsonRpcInvalidParams(f"{name}: {exc}") from exc
            except JsonRpcException as exc:
                log.warning("%s refused: %s", name, exc)
                raise

        return handler

    return wrap


async def run_command(ls: CounterpointServer, *args: Any) -> dict[str, Any]:
    from counterpoint_protocol.messages import RunParams

    params = parse(RunParams, Commands.RUN, args)
    if not is_spec_uri(params.uri):
        raise JsonRpcInvalidParams(f"{Commands.RUN}: {params.uri} is not a *.agents.md spec")
    path = spec_path(params.uri)
    spec = await ls.part(SpecDocuments).get(params.uri) if params.uri in ls.workspace.text_documents else None
    if spec is None:
        if not await asyncio.to_thread(path.is_file):
            raise JsonRpcInvalidParams(f"{Commands.RUN}: no such file {path}")
        from counterpoint.engine.engine import read_spec

        spec = await read_spec(path)
    from counterpoint.engine.engine import UnknownAgents, check_startable

    options = ls.part(RunUI).run_options(params.agents or None)
    try:
        check_startable(spec, options)  # before an engine (and its log) is opened for it
    except UnknownAgents as exc:
        raise JsonRpcInvalidParams(f"{Commands.RUN}: {exc}") from exc
    engine = await ls.engine_for(path)
    new = await engine.start_run(spec, options)
    engine.start(new)
    return {"runId": new.run_id}


async def cancel_command(ls: CounterpointServer, *args: Any) -> dict[str, Any]:
    from counterpoint_protocol.messages import CancelParams

    params = parse(CancelParams, Commands.CANCEL, args)
    if params.runId is None:
        runs = ls.live_runs()
    else:
        found = ls.find_run(params.runId)
        if found is None:
            raise JsonRpcInvalidParams(f"{Commands.CANCEL}: no such run {params.runId}")
        runs = [found[1]]
    for run in runs:
        run.cancel()
    return {"cancelled": [r.run_id for r in runs]}


async def status_command(ls: CounterpointServer, *args: Any) -> dict[str, Any]:
    from counterpoint_protocol.messages import StatusResult

    if args and args[0] not in (None, {}) and not isinstance(args[0], dict):
        raise JsonRpcInvalidParams(f"{Commands.STATUS} takes no argument or an object")
    runs = [r.status() for r in ls.all_runs()]
    return StatusResult(runs=runs).model_dump()


async def rerun_command(ls: CounterpointServer, *args: Any) -> dict[str, Any]:
    from counterpoint_protocol.messages import RerunParams

    params = parse(RerunParams, Commands.RERUN, args)
    engine = await _engine_of_run(ls, params.runId)
    new = await engine.continue_run(
        params.runId, reason="rerun", agent=params.agent, options=ls.part(RunUI).run_options()
    )
    engine.start(new)
    return {"runId": new.run_id, "agents": live.agent_names(new)}


async def resume_command(ls: CounterpointServer, *args: Any) -> dict[str, Any]:
    from counterpoint_protocol.messages import ResumeParams

    params = parse(ResumeParams, Commands.RESUME, args)
    engine = await _engine_of_run(ls, params.runId)
    new = await engine.continue_run(params.runId, reason="resume", options=ls.part(RunUI).run_options())
    engine.start(new)
    return {"runId": new.run_id, "agents": live.agent_names(new)}


async def events_command(ls: CounterpointServer, *args: Any) -> list[dict[str, Any]]:
    from counterpoint_protocol.messages import EventsParams

    params = parse(EventsParams, Commands.EVENTS, args)
    engine = await _engine_of_run(ls, params.runId) if params.runId else ls.any_engine()
    if engine is None:
        return []
    run_id = params.runId or await engine.resolve_run_id("last")
    found = await engine.events(run_id, params.type)
    if params.limit:
        found = found[-params.limit :]
    return [e.model_dump() for e in found]


async def report_command(ls: CounterpointServer, *args: Any) -> dict[str, Any]:
    from counterpoint_protocol.messages import ReportParams

    params = parse(ReportParams, Commands.REPORT, args)
    engine = await _engine_of_run(ls, params.runId) if params.runId else ls.any_engine()
    if engine is None:
        raise JsonRpcInvalidRequest("no runs yet")
    run_id = await engine.resolve_run_id(params.runId)
    if run_id is None:
        raise JsonRpcInvalidRequest("no runs yet")
    try:
        return await engine.write_report(run_id)
    except ValueError as exc:
        raise JsonRpcInvalidParams(f"{Commands.REPORT}: no such run {run_id}") from exc


async def trust_command(ls: CounterpointServer, *args: Any) -> dict[str, Any]:
    from counterpoint.engine.engine import find_workspace_root
    from counterpoint.engine.workspace import (
        inside_workspace,
        remember_trusted,
        trust_file,
        writable_by_agents_note,
    )

    raw = args[0] if args else {}
    uri = raw.get("uri") if isinstance(raw, dict) else None
    if not isinstance(uri, str):
        raise JsonRpcInvalidParams(f'{Commands.TRUST}: needs {{"uri": <a file or folder of the workspace>}}')
    start = spec_path(uri) if uri.endswith(".md") else spec_path(uri) / "x"
    root = await asyncio.to_thread(find_workspace_root, start)
    if inside_workspace(trust_file(), root):
        # An allowlist that the workspace's agents could write is never honoured: say so
        # rather than write an approval that would be ignored.
        raise JsonRpcInvalidRequest(f"{Commands.TRUST}: {writable_by_agents_note(trust_file(), root)}")
    await asyncio.to_thread(remember_trusted, root)
    return {"trusted": str(root)}


async def diff_command(ls: CounterpointServer, *args: Any) -> dict[str, Any]:
    from counterpoint_protocol.messages import DiffParams

    params = parse(DiffParams, Commands.DIFF, args)
    engine = await _engine_of_run(ls, params.runId)
    return (await engine.diff_run(params.runId, params.agent)).model_dump()


async def apply_command(ls: CounterpointServer, *args: Any) -> dict[str, Any]:
    from counterpoint_protocol.messages import ApplyParams

    params = parse(ApplyParams, Commands.APPLY, args)
    engine = await _engine_of_run(ls, params.runId)
    result = await engine.apply_run(params.runId)
    ls.part(ViewRefresh).refresh()
    return result.model_dump()


async def discard_command(ls: CounterpointServer, *args: Any) -> dict[str, Any]:
    from counterpoint_protocol.messages import DiscardParams

    params = parse(DiscardParams, Commands.DISCARD, args)
    engine = await _engine_of_run(ls, params.runId)
    result = await engine.discard_run(params.runId)
    ls.part(ViewRefresh).refresh()
    return result.model_dump()


async def show_file_command(ls: CounterpointServer, *args: Any) -> dict[str, Any]:
    from counterpoint_protocol.messages import ShowFileParams

    params = parse(ShowFileParams, Commands.SHOW_FILE, args)
    engine = await _engine_of_run(ls, params.runId)
    return (await engine.review().show_file(params.runId, params.commit, params.path)).model_dump()


async def _engine_of_run(ls: CounterpointServer, run_id: str) -> Engine:
    found = ls.find_run(run_id)
    if found is not None:
        return found[0]
    for engine in ls.engines.values():
        if await engine.events(run_id, "run_started"):
            return engine
    # A run from an earlier session: look in the workspace folders' logs.
    for folder in ls.workspace.folders.values():
        path = spec_path(folder.uri)
        engine = await ls.engine_for(path / "x")
        if await engine.events(run_id, "run_started"):
            return engine
    raise JsonRpcInvalidParams(f"no such run {run_id}")


COMMANDS: dict[str, Command] = {
    Commands.RUN: run_command,
    Commands.CANCEL: cancel_command,
    Commands.STATUS: status_command,
    Commands.RERUN: rerun_command,
    Commands.RESUME: resume_command,
    Commands.EVENTS: events_command,
    Commands.REPORT: report_command,
    Commands.TRUST: trust_command,
    Commands.DIFF: diff_command,
    Commands.APPLY: apply_command,
    Commands.DISCARD: discard_command,
    Commands.SHOW_FILE: show_file_command,
}


def register(server: CounterpointServer) -> None:
    for name, fn in COMMANDS.items():
        server.command(name)(answered(name)(fn))
