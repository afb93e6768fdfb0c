"""Converting the engine's ranges (code points) to the client's position encoding."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.workspace import PositionCodec

if TYPE_CHECKING:
    from counterpoint_protocol.spec import SourceRange


def to_lsp_range(lines: Sequence[str], source: SourceRange, codec: PositionCodec) -> types.Range:
    """A range in the client's units (UTF-16 for VS Code, UTF-8 for Neovim), clamped to the text."""

    def position(line: int, col: int) -> types.Position:
        if not lines:
            return types.Position(line=0, character=0)
        line = max(0, min(line, len(lines) - 1))
        text = lines[line].rstrip("\r\n")
        col = max(0, min(col, len(text)))
        return types.Position(line=line, character=codec.client_num_units(text[:col]))

    return types.Range(start=position(source.line, source.col), end=position(source.end_line, source.end_col))


def from_lsp_position(
    lines: Sequence[str], position: types.Position, codec: PositionCodec
) -> tuple[int, int]:
    """(line, code-point column) for a client position."""
    pos = codec.position_from_client_units(list(lines), types.Position(position.line, position.character))
    return pos.line, pos.character
