"""The contract between the Counterpoint server and its editor clients.

Pydantic models of specs, events and custom LSP messages, plus the method and
command names shared with the TypeScript and Lua clients. Depends on nothing
of the server.
"""

from counterpoint_protocol.events import AgentStatus, Event, EventType
from counterpoint_protocol.methods import Commands, Notifications

__all__ = ["AgentStatus", "Commands", "Event", "EventType", "Notifications"]
__version__ = "0.1.0"
