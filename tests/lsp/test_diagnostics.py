"""Spec diagnostics appear and clear as a spec is edited, in the client's position encoding."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

SPEC = """---
feature: Demo
runner: command
---
# Demo

## build
command: ./build.sh
emits: built

## test
needs: built, nonexistent
command: ./build.sh
"""


def open_doc(client: LanguageClient, uri: str, text: str, version: int = 1) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="markdown", version=version, text=text)
        )
    )


def encoding(client: LanguageClient) -> str:
    caps = client.capabilities
    encodings = (caps.general.position_encodings if caps and caps.general else None) or []
    return "utf-8" if types.PositionEncodingKind.Utf8 in encodings else "utf-16"


async def test_diagnostics_appear_and_clear(client: LanguageClient, workspace: Path) -> None:
    spec = workspace / "demo.agents.md"
    (workspace / "build.sh").write_text("#!/bin/sh\necho ok\n")
    (workspace / "build.sh").chmod(0o755)
    spec.write_text(SPEC)
    uri = spec.as_uri()
    open_doc(client, uri, SPEC)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    diags = [d for d in client.diagnostics[uri] if d.severity == types.DiagnosticSeverity.Error]
    assert len(diags) == 1, diags
    (error,) = diags
    assert "nonexistent" in error.message
    assert error.range.start.line == 11
    assert error.range.start.character == len("needs: built, ")
    assert error.range.end.character == len("needs: built, nonexistent")

    # Fix it: the diagnostic clears.
    fixed = SPEC.replace("needs: built, nonexistent", "needs: built")
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=fixed)],
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert [d for d in client.diagnostics[uri] if d.severity == types.DiagnosticSeverity.Error] == []


async def test_columns_follow_the_client_encoding(client: LanguageClient, workspace: Path) -> None:
    text = SPEC.replace("## test\nneeds: built, nonexistent", "## test\nneeds: büild😀, nonexistent")
    spec = workspace / "enc.agents.md"
    (workspace / "build.sh").write_text("#!/bin/sh\necho ok\n")
    (workspace / "build.sh").chmod(0o755)
    spec.write_text(text)
    uri = spec.as_uri()
    open_doc(client, uri, text)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    # 'büild😀' is an unknown signal too (names are ASCII); the column after it is what counts.
    (error,) = [d for d in client.diagnostics[uri] if "'nonexistent'" in d.message]
    prefix = "needs: büild😀, "
    expected = (
        len(prefix.encode("utf-8")) if encoding(client) == "utf-8" else len(prefix.encode("utf-16-le")) // 2
    )
    assert error.range.start.character == expected


@pytest.mark.parametrize("mistake", ["duplicate", "cycle"])
async def test_structural_mistakes(client: LanguageClient, workspace: Path, mistake: str) -> None:
    text = {
        "duplicate": SPEC + "\n## test\ncommand: ./build.sh\n",
        "cycle": SPEC.replace("needs: built, nonexistent", "needs: built").replace(
            "emits: built", "emits: built\nneeds: test"
        ),
    }[mistake]
    (workspace / "build.sh").write_text("#!/bin/sh\n")
    (workspace / "build.sh").chmod(0o755)
    uri = (workspace / f"{mistake}.agents.md").as_uri()
    open_doc(client, uri, text)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    messages = " | ".join(d.message for d in client.diagnostics[uri])
    assert ("duplicate" in messages) if mistake == "duplicate" else ("cycle" in messages), messages
