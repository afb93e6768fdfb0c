"""`counterpoint.plan {request, folder?, out?, model?}`: the director from the editor.

The spec is planned in the workspace folder (``folder``, else the first workspace folder, else the
root the client opened), with a work-done progress like a run's (``counterpoint/plan/<planId>``:
begin, a report for what the director does, end; cancellable), then written and opened in the
editor with ``window/showDocument``: its diagnostics and code lenses come as for any spec the user
opens. Nothing runs. The result (and the progress's end) says what was written, whether it passes
check and the predicted speed-up; the clients say it in their own way. A draft still failing is
opened too; a plan that could not be made is an InvalidRequest error with the one line that says why
(a draft written before the failure is opened as well).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from counterpoint_protocol.methods import Commands
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams, JsonRpcInvalidRequest

from counterpoint.lsp.core import CounterpointServer  # at run time: pygls reads the annotations
from counterpoint.lsp.features.commands import answered, parse
from counterpoint.lsp.features.progress import ProgressManager
from counterpoint.lsp.uris import spec_path

if TYPE_CHECKING:
    from counterpoint.engine.director import PlanOutcome

log = logging.getLogger(__name__)
TITLE = "Counterpoint: planning"


def plan_token(plan_id: str) -> str:
    return f"counterpoint/plan/{plan_id}"


def workspace_folder(ls: CounterpointServer, folder: str | None) -> Path:
    """The folder to plan in: the one asked for, else the first workspace folder, else the root."""
    if folder:
        return spec_path(folder)
    for entry in ls.workspace.folders.values():
        return spec_path(entry.uri)
    if ls.workspace.root_uri:
        return spec_path(ls.workspace.root_uri)
    raise JsonRpcInvalidParams(f"{Commands.PLAN}: no workspace folder is open: open one, or pass folder")


async def plan_command(ls: CounterpointServer, *args: Any) -> dict[str, Any]:
    from counterpoint_protocol.messages import PlanParams

    from counterpoint.engine.director import PlanFailed, PlanOptions, new_plan_id, plan_feature

    params = parse(PlanParams, Commands.PLAN, args)
    folder = workspace_folder(ls, params.folder)
    if not await asyncio.to_thread(folder.is_dir):
        raise JsonRpcInvalidParams(f"{Commands.PLAN}: no such folder {folder}")
    engine = await ls.engine_for(folder / "x")
    plan_id = new_plan_id()
    token = plan_token(plan_id)
    progress = ls.part(ProgressManager)
    out = Path(params.out) if params.out else None
    options = PlanOptions(
        request=params.request,
        root=engine.root,
        out=out if out is None or out.is_absolute() else folder / out,
        model=params.model,
        plan_id=plan_id,
        on_progress=lambda line: progress.update(token, line),
    )
    # The plan is a task of its own: cancelling its progress cancels it (the request then answers
    # that it was cancelled); the client cancelling the request cancels it too.
    work = asyncio.ensure_future(plan_feature(engine.log, options))

    def cancel() -> None:
        work.cancel()

    progress.begin(token, TITLE, _short(params.request), on_cancel=cancel)
    try:
        outcome = await work
    except PlanFailed as exc:
        progress.end(token, f"failed: {exc}")
        if exc.path:
            await show_document(ls, Path(exc.path).as_uri())
        raise JsonRpcInvalidRequest(f"{Commands.PLAN}: {exc}") from exc
    except asyncio.CancelledError:
        progress.end(token, "cancelled")
        request = asyncio.current_task()
        if request is not None and request.cancelling():  # the client cancelled the request
            raise
        raise JsonRpcInvalidRequest(f"{Commands.PLAN}: cancelled (plan {plan_id})") from None
    ending = outcome.message
    if outcome.prediction is not None:
        ending += f"; predicted speed-up {outcome.prediction.speedup:.2f}x"
    progress.end(token, ending)
    uri = outcome.path.as_uri()
    await show_document(ls, uri)
    return result(outcome, uri).model_dump()


def result(outcome: PlanOutcome, uri: str) -> Any:
    from counterpoint_protocol.messages import PlanResult

    usage = outcome.usage
    return PlanResult(
        planId=outcome.plan_id,
        uri=uri,
        path=str(outcome.path),
        ok=outcome.ok,
        rounds=outcome.rounds,
        errors=outcome.errors,
        warnings=outcome.warnings,
        message=outcome.message,
        summary=outcome.summary,
        cost_usd=float(usage.get("cost_usd", 0.0)),
        input_tokens=int(usage.get("input_tokens", 0)),
        output_tokens=int(usage.get("output_tokens", 0)),
        prediction=outcome.prediction,
    )


async def show_document(ls: CounterpointServer, uri: str) -> None:
    """Ask the client to open ``uri`` (clients that cannot are told where it is)."""
    window = ls.client_capabilities.window
    if window and window.show_document and window.show_document.support:
        try:
            await ls.window_show_document_async(types.ShowDocumentParams(uri=uri, take_focus=True))
            return
        except Exception as exc:  # the client failed to open it: still say where it is
            log.info("window/showDocument %s failed: %s", uri, exc)
    ls.window_show_message(
        types.ShowMessageParams(type=types.MessageType.Info, message=f"Counterpoint: {uri}")
    )


def _short(request: str) -> str:
    line = " ".join(request.split())
    return line if len(line) <= 80 else line[:77] + "..."


def register(server: CounterpointServer) -> None:
    server.command(Commands.PLAN)(answered(Commands.PLAN)(plan_command))
