"""The workspace room: what agents may touch and where things live.

tools (agents' confined file tools), machinery (.git, .counterpoint, user config: refused), safe_paths (files derived
from names), context (shared context read once), consent, user_config, redact, paths.
"""

from __future__ import annotations

from counterpoint.engine.workspace.consent import (
    Asker,
    ConsentDenied,
    ConsentPolicy,
    inside_workspace,
    remember_trusted,
    trust_file,
    writable_by_agents_note,
)
from counterpoint.engine.workspace.context import SharedContext, load_shared_context
from counterpoint.engine.workspace.paths import STATE_DIR, db_path, find_workspace_root
from counterpoint.engine.workspace.redact import Redactor, is_secret_key
from counterpoint.engine.workspace.safe_paths import (
    UnsafePath,
    agent_file,
    confine,
    name_problem,
    outside_problem,
)
from counterpoint.engine.workspace.tools import ToolCall, ToolError, WorkspaceTools, WriteRecord
from counterpoint.engine.workspace.user_config import load_user_settings, run_extras

__all__ = [
    "STATE_DIR",
    "Asker",
    "ConsentDenied",
    "ConsentPolicy",
    "Redactor",
    "SharedContext",
    "ToolCall",
    "ToolError",
    "UnsafePath",
    "WorkspaceTools",
    "WriteRecord",
    "agent_file",
    "confine",
    "db_path",
    "find_workspace_root",
    "inside_workspace",
    "is_secret_key",
    "load_shared_context",
    "load_user_settings",
    "name_problem",
    "outside_problem",
    "remember_trusted",
    "run_extras",
    "trust_file",
    "writable_by_agents_note",
]
