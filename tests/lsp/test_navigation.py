"""Hover, completion, definition, symbols, code lenses and inlay hints on the example spec."""

from __future__ import annotations

from pathlib import Path

from counterpoint_protocol.methods import Commands
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.conftest import SPEC_NAME
from tests.lsp.helpers import events_of, execute, get, open_doc, wait_for


def position_of(text: str, needle: str, line_prefix: str | None = None) -> types.Position:
    for number, line in enumerate(text.splitlines()):
        if (line_prefix is None or line.startswith(line_prefix)) and needle in line:
            return types.Position(line=number, character=line.index(needle) + 1)
    raise AssertionError(f"{needle!r} not in text")


async def open_example(client: LanguageClient, workspace: Path) -> tuple[str, str]:
    spec = workspace / SPEC_NAME
    text = spec.read_text()
    open_doc(client, spec.as_uri(), text)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return spec.as_uri(), text


async def test_hover_definition_symbols(client: LanguageClient, workspace: Path) -> None:
    uri, text = await open_example(client, workspace)
    doc = types.TextDocumentIdentifier(uri=uri)
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=doc, position=position_of(text, "schema_ready", "needs:"))
    )
    assert hover is not None
    value = hover.contents.value  # type: ignore[union-attr]
    assert "signal `schema_ready`" in value and "`backend`" in value and "`frontend`" in value
    assert "app/enrollment/schema.py" in value

    agent_hover = await client.text_document_hover_async(
        types.HoverParams(text_document=doc, position=position_of(text, "backend", "## "))
    )
    assert agent_hover is not None and "agent `backend`" in agent_hover.contents.value  # type: ignore[union-attr]

    location = await client.text_document_definition_async(
        types.DefinitionParams(text_document=doc, position=position_of(text, "mutations_ready", "needs:"))
    )
    assert isinstance(location, types.Location)
    assert text.splitlines()[location.range.start.line].strip().startswith("mutations_ready:")

    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=doc))
    assert [s.name for s in symbols or []] == [
        "backend",
        "frontend",
        "quality",
        "docs",
        "integrator",
    ]


async def test_completion(client: LanguageClient, workspace: Path) -> None:
    uri, text = await open_example(client, workspace)
    edited = text.replace("needs: mutations_ready", "needs: ")
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=edited)],
        )
    )
    line = next(i for i, row in enumerate(edited.splitlines()) if row == "needs: ")
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=7),
        )
    )
    assert result is not None
    labels = {item.label for item in (result.items if isinstance(result, types.CompletionList) else result)}
    assert {"schema_ready", "mutations_ready", "tests_ready", "backend", "frontend"} <= labels

    runner_line = next(i for i, row in enumerate(edited.splitlines()) if row.startswith("runner:"))
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=runner_line, character=8),
        )
    )
    assert result is not None
    items = result.items if isinstance(result, types.CompletionList) else result
    assert {"replay", "command", "llm", "acp"} <= {i.label for i in items}


async def test_preset_completion_offers_the_presets_of_the_agents_runner(
    client: LanguageClient, workspace: Path
) -> None:
    spec = workspace / "presets.agents.md"
    text = "# presets\n\n## a\nrunner: acp\npreset: \n\nDo.\n\n## b\nrunner: command\npreset: \n\nDo.\n"
    open_doc(client, spec.as_uri(), text)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    offered = {}
    for line in (4, 10):
        result = await client.text_document_completion_async(
            types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=spec.as_uri()),
                position=types.Position(line=line, character=8),
            )
        )
        assert result is not None
        items = result.items if isinstance(result, types.CompletionList) else result
        offered[line] = {item.label: item.detail for item in items}
    assert offered[4] == {
        "claude-code": "claude-code-acp",
        "codex": "codex-acp",
        "gemini": "gemini --acp",
        "opencode": "opencode acp",
    }
    assert set(offered[10]) == {"claude-code", "aider", "codex", "gemini"}


async def test_code_lenses_and_inlay_hints(client: LanguageClient, workspace: Path) -> None:
    uri, text = await open_example(client, workspace)
    doc = types.TextDocumentIdentifier(uri=uri)
    lenses = await client.text_document_code_lens_async(types.CodeLensParams(text_document=doc))
    titles = [lens.command.title for lens in lenses or [] if lens.command]
    assert titles[0].startswith("▶ Run all 5 agents (critical path 3")
    assert "▶ Run frontend" in titles
    run_all = next(
        lens for lens in lenses or [] if lens.command and lens.command.title.startswith("▶ Run all")
    )
    assert run_all.command is not None and run_all.command.command == Commands.RUN

    # Run it through the lens's own command; while live, lenses offer Cancel and hints show states.
    run_id = get(await execute(client, run_all.command.command, run_all.command.arguments[0]), "runId")  # type: ignore[index]
    await wait_for(lambda: events_of(client, run_id, "agent_started"))
    lenses = await client.text_document_code_lens_async(types.CodeLensParams(text_document=doc))
    assert any(lens.command and lens.command.title.startswith("■ Cancel run") for lens in lenses or [])
    full = types.Range(
        start=types.Position(line=0, character=0),
        end=types.Position(line=len(text.splitlines()), character=0),
    )
    hints = await client.text_document_inlay_hint_async(types.InlayHintParams(text_document=doc, range=full))
    labels = [str(h.label) for h in hints or []]
    assert any("running" in label for label in labels), labels
    assert any("waiting on" in label for label in labels), labels
    await wait_for(lambda: events_of(client, run_id, "run_finished"), timeout=60)
    hints = await client.text_document_inlay_hint_async(types.InlayHintParams(text_document=doc, range=full))
    assert sum("succeeded" in str(h.label) for h in hints or []) == 5
