"""Completion in specs: signal and agent names after needs:/emits:, setting keys, runner names,
the presets of the agent's runner after preset: (with the command line each stands for)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lsprotocol import types

from counterpoint.lsp.features.documents import spec_of
from counterpoint.lsp.positions import from_lsp_position

if TYPE_CHECKING:
    from counterpoint.lsp.core import CounterpointServer

SETTING_LINE = re.compile(r"^(?P<key>[A-Za-z_]+)\s*:\s*(?P<value>.*)$")


async def complete(ls: CounterpointServer, params: types.CompletionParams) -> types.CompletionList | None:
    from counterpoint_protocol.presets import RUNNER_PRESETS
    from counterpoint_protocol.spec import RUNNER_NAMES, AgentSettings

    spec = await spec_of(ls, params.text_document.uri)
    if spec is None:
        return None
    document = ls.workspace.get_text_document(params.text_document.uri)
    line_no, col = from_lsp_position(document.lines, params.position, document.position_codec)
    if line_no >= len(document.lines):
        return None
    before = document.lines[line_no][:col]
    match = SETTING_LINE.match(before)
    items: list[types.CompletionItem] = []
    if match:
        key = match.group("key")
        if key in ("needs", "emits", "after"):
            done = {v.strip() for v in re.split(r"[,\[\]]", match.group("value"))}
            signals = set(spec.signals) | {s for a in spec.agents for s in a.settings.emits}
            signals |= {n for a in spec.agents for n in a.settings.needs if spec.agent(n) is None}
            for name in sorted(signals - done):
                items.append(
                    types.CompletionItem(label=name, kind=types.CompletionItemKind.Event, detail="signal")
                )
            if key == "needs":
                for agent in spec.agents:
                    if agent.name not in done:
                        items.append(
                            types.CompletionItem(
                                label=agent.name,
                                kind=types.CompletionItemKind.Class,
                                detail="agent (when it succeeds)",
                            )
                        )
        elif key == "runner":
            items = [
                types.CompletionItem(label=r, kind=types.CompletionItemKind.EnumMember) for r in RUNNER_NAMES
            ]
        elif key == "preset":
            owner = next(
                (a for a in spec.agents if a.heading_range.line <= line_no <= a.section_end_line), None
            )
            runners = [owner.settings.runner] if owner is not None else list(RUNNER_PRESETS)
            seen: dict[str, str] = {}
            for runner in runners:
                for name, command in RUNNER_PRESETS.get(runner, {}).items():
                    seen.setdefault(name, command)
            items = [
                types.CompletionItem(label=name, kind=types.CompletionItemKind.EnumMember, detail=command)
                for name, command in seen.items()
            ]
        elif key == "gate":
            items = [types.CompletionItem(label="approve", kind=types.CompletionItemKind.EnumMember)]
        elif key in ("integrate",):
            items = [
                types.CompletionItem(label=v, kind=types.CompletionItemKind.Value) for v in ("true", "false")
            ]
    elif re.fullmatch(r"[A-Za-z_]*", before):
        for name, field in AgentSettings.model_fields.items():
            items.append(
                types.CompletionItem(
                    label=name,
                    kind=types.CompletionItemKind.Property,
                    detail=field.description,
                    insert_text=f"{name}: ",
                )
            )
    return types.CompletionList(is_incomplete=False, items=items)


def register(server: CounterpointServer) -> None:
    server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(trigger_characters=[":", ",", " "]),
    )(complete)
