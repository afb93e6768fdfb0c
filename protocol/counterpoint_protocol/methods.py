"""Method, command and notification names shared by the server and the clients.

`protocol/counterpoint_protocol/schemas/methods.json` is generated from this
module (``python -m counterpoint_protocol.export``) and read by the VS Code
and Neovim clients, so the names live in exactly one place.
"""

from __future__ import annotations

from typing import Final


class Commands:
    """`workspace/executeCommand` ids the server lists in `executeCommandProvider`."""

    RUN: Final = "counterpoint.run"
    CANCEL: Final = "counterpoint.cancel"
    STATUS: Final = "counterpoint.status"
    RERUN: Final = "counterpoint.rerun"
    EVENTS: Final = "counterpoint.events"
    RESUME: Final = "counterpoint.resume"
    REPORT: Final = "counterpoint.report"
    TRUST: Final = "counterpoint.trust"
    DIFF: Final = "counterpoint.diff"
    """An isolated run's changes (per agent, or the whole run against its base)."""
    APPLY: Final = "counterpoint.apply"
    """Bring an isolated run's merged changes into the user's working tree."""
    DISCARD: Final = "counterpoint.discard"
    """Delete an isolated run's branches and working copies."""
    SHOW_FILE: Final = "counterpoint.showFile"
    """A file's text at a commit of an isolated run (its base, an agent's tip...), for a diff view."""
    PLAN: Final = "counterpoint.plan"
    """The director: a one-line feature request -> a checked spec written to the workspace and
    opened in the editor (``window/showDocument``); nothing runs."""
    ATTACH: Final = "counterpoint.attach"
    """Show a run started elsewhere (another process or machine writing the same event log): its
    progress, and its findings as diagnostics, followed live until it ends."""

    @classmethod
    def all(cls) -> list[str]:
        return [
            cls.RUN,
            cls.CANCEL,
            cls.STATUS,
            cls.RERUN,
            cls.EVENTS,
            cls.RESUME,
            cls.REPORT,
            cls.TRUST,
            cls.DIFF,
            cls.APPLY,
            cls.DISCARD,
            cls.SHOW_FILE,
            cls.PLAN,
            cls.ATTACH,
        ]


class Notifications:
    """Custom server-to-client notifications."""

    EVENT: Final = "counterpoint/event"
    """Every event as it is appended to the log; params are one `Event`."""


SERVER_NAME: Final = "counterpoint"
SPEC_GLOB: Final = "**/*.agents.md"
SPEC_SUFFIX: Final = ".agents.md"
PLAN_ID_PREFIX: Final = "plan-"
"""The run id of a plan's events (``plan_started``...) starts with this: a plan is no run."""
DIAGNOSTIC_SOURCE: Final = "counterpoint"
