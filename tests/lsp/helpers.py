"""Small helpers for the language-server tests."""

from __future__ import annotations

import asyncio
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient


async def execute(client: LanguageClient, command: str, argument: dict[str, Any] | None = None) -> Any:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command, arguments=[argument] if argument is not None else [])
    )


async def wait_for(predicate: Any, timeout: float = 60.0, interval: float = 0.05) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        await asyncio.sleep(interval)


def events_of(client: LanguageClient, run_id: str, type: str | None = None) -> list[dict[str, Any]]:
    return [
        e
        for e in client.counterpoint_events  # type: ignore[attr-defined]
        if _get(e, "run_id") == run_id and (type is None or _get(e, "type") == type)
    ]


def _get(obj: Any, key: str) -> Any:
    return obj[key] if isinstance(obj, dict) else getattr(obj, key, None)


def get(obj: Any, key: str) -> Any:
    return _get(obj, key)


def open_doc(client: LanguageClient, uri: str, text: str, version: int = 1) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="markdown", version=version, text=text)
        )
    )


def progress_kinds(client: LanguageClient, token: str) -> list[str]:
    return [
        type(v).__name__.removeprefix("WorkDoneProgress").lower()
        for v in client.progress_reports.get(token, [])
    ]
