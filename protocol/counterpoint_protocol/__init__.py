"""The contract between the Counterpoint server and its editor clients.

Pydantic models of specs (`spec`), events (`events`) and custom LSP messages
(`messages`), plus the method and command names shared with the TypeScript and
Lua clients (`methods`, which imports nothing heavy). Depends on nothing of the
server. The models are imported lazily so that the names alone load fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from counterpoint_protocol.methods import Commands, Notifications

if TYPE_CHECKING:
    from counterpoint_protocol.events import AgentStatus, Event, EventType

__all__ = ["AgentStatus", "Commands", "Event", "EventType", "Notifications"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in ("AgentStatus", "Event", "EventType"):
        from counterpoint_protocol import events

        return getattr(events, name)
    raise AttributeError(name)
