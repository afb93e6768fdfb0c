"""Hover, go to definition and document symbols on specs.

Hover on a signal or agent name says who emits it, who needs it, and when it
last fired in the live or the last run; definition jumps from a needed name to
the agent or glob that fires it; symbols list the agents.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lsprotocol import types

from counterpoint.lsp.features import live
from counterpoint.lsp.features.documents import spec_of
from counterpoint.lsp.positions import from_lsp_position, to_lsp_range

if TYPE_CHECKING:
    from counterpoint_protocol.spec import SourceRange, Spec
    from pygls.workspace import TextDocument

    from counterpoint.lsp.core import CounterpointServer

WORD = re.compile(r"[A-Za-z0-9_.\-]+")


def word_at(line: str, col: int) -> tuple[str, int, int] | None:
    for match in WORD.finditer(line):
        if match.start() <= col <= match.end():
            return match.group(0), match.start(), match.end()
    return None


def emitters(spec: Spec, signal: str) -> list[str]:
    return [a.name for a in spec.agents if signal in a.settings.emits]


def needers(spec: Spec, name: str) -> list[str]:
    return [a.name for a in spec.agents if name in a.settings.needs]


def describe(server: CounterpointServer, spec: Spec, name: str) -> str | None:
    agent = spec.agent(name)
    lines: list[str] = []
    if agent is not None:
        s = agent.settings
        lines.append(f"**agent `{name}`** · runner `{s.runner}`")
        if s.needs:
            lines.append("needs: " + ", ".join(f"`{n}`" for n in s.needs))
        if s.emits:
            lines.append("emits: " + ", ".join(f"`{n}`" for n in s.emits))
        users = needers(spec, name)
        if users:
            lines.append("needed by (when it succeeds): " + ", ".join(f"`{n}`" for n in users))
        state = live.agent_line(server, spec, name)
        if state:
            lines.append(state)
        return "\n\n".join(lines)
    globs = spec.signals.get(name)
    emit = emitters(spec, name)
    users = needers(spec, name) + [
        c.settings.name + " (check)" for c in spec.checks if name in c.settings.after
    ]
    if not (globs or emit or users):
        return None
    lines.append(f"**signal `{name}`**")
    if globs:
        lines.append("fired by files: " + ", ".join(f"`{g}`" for g in globs))
    if emit:
        lines.append("emitted by: " + ", ".join(f"`{n}`" for n in emit))
    if users:
        lines.append("needed by: " + ", ".join(f"`{n}`" for n in users))
    fired = live.last_fired(server, spec, name)
    lines.append(fired or "has not fired in the live or last run")
    return "\n\n".join(lines)


def definition_of(spec: Spec, name: str) -> SourceRange | None:
    agent = spec.agent(name)
    if agent is not None:
        return agent.name_range
    if name in spec.signal_ranges:
        return spec.signal_ranges[name]
    for other in spec.agents:
        item = other.item_ranges.get("emits", {}).get(name)
        if item is not None:
            return item
    return None


async def name_at(
    ls: CounterpointServer, uri: str, position: types.Position
) -> tuple[Spec, TextDocument, int, tuple[str, int, int]] | None:
    """The spec, the document, the line and the name (word, start, end) under the cursor."""
    spec = await spec_of(ls, uri)
    if spec is None:
        return None
    document = ls.workspace.get_text_document(uri)
    line, col = from_lsp_position(document.lines, position, document.position_codec)
    if line >= len(document.lines):
        return None
    found = word_at(document.lines[line], col)
    return (spec, document, line, found) if found is not None else None


async def hover(ls: CounterpointServer, params: types.HoverParams) -> types.Hover | None:
    found = await name_at(ls, params.text_document.uri, params.position)
    if found is None:
        return None
    spec, document, line, (word, start, end) = found
    text = describe(ls, spec, word)
    if text is None:
        return None
    from counterpoint_protocol.spec import SourceRange

    rng = to_lsp_range(document.lines, SourceRange.on_line(line, start, end), document.position_codec)
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text), range=rng)


async def definition(ls: CounterpointServer, params: types.DefinitionParams) -> types.Location | None:
    found = await name_at(ls, params.text_document.uri, params.position)
    if found is None:
        return None
    spec, document, _line, (word, _start, _end) = found
    target = definition_of(spec, word)
    if target is None:
        return None
    return types.Location(
        uri=params.text_document.uri,
        range=to_lsp_range(document.lines, target, document.position_codec),
    )


async def symbols(ls: CounterpointServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
    spec = await spec_of(ls, params.text_document.uri)
    if spec is None:
        return []
    document = ls.workspace.get_text_document(params.text_document.uri)
    codec, lines = document.position_codec, document.lines
    from counterpoint_protocol.spec import SourceRange

    result = []
    for agent in spec.agents:
        end_line = max(agent.heading_range.line, agent.section_end_line)
        full = SourceRange(line=agent.heading_range.line, col=0, end_line=end_line, end_col=10_000)
        detail = agent.settings.runner + (
            f" · needs {', '.join(agent.settings.needs)}" if agent.settings.needs else ""
        )
        result.append(
            types.DocumentSymbol(
                name=agent.name,
                detail=detail,
                kind=types.SymbolKind.Class,
                range=to_lsp_range(lines, full, codec),
                selection_range=to_lsp_range(lines, agent.name_range, codec),
            )
        )
    return result


def register(server: CounterpointServer) -> None:
    server.feature(types.TEXT_DOCUMENT_HOVER)(hover)
    server.feature(types.TEXT_DOCUMENT_DEFINITION)(definition)
    server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)(symbols)
