"""Ready command lines (``preset:``) per runner: one table for the server and the editors.

``RUNNER_PRESETS[runner][preset]`` is the command line that ``preset: <preset>`` stands for
with ``runner: <runner>``; a runner missing from the table has no presets. The table is
exported in ``schemas/methods.json`` (key ``presets``) so that editors can complete and
explain presets without asking the server.

``command`` presets drive coding CLIs non-interactively (the prompt arrives on stdin: see
``docs/runners.md``); ``acp`` presets start an agent that speaks the Agent Client Protocol on
stdio, as installed by its package (checked against the packages' own docs):

- ``claude-code``: ``npm install -g @zed-industries/claude-code-acp`` (bin ``claude-code-acp``);
- ``codex``: ``npm install -g @zed-industries/codex-acp`` (bin ``codex-acp``; also published as
  ``@agentclientprotocol/codex-acp``);
- ``gemini``: Gemini CLI speaks ACP itself, ``gemini --acp`` (``--experimental-acp`` before 0.33);
- ``opencode``: opencode speaks ACP itself, ``opencode acp``.
"""

from __future__ import annotations

RUNNER_PRESETS: dict[str, dict[str, str]] = {
    "command": {
        # The whole prompt (shared context + task) arrives on stdin; each CLI runs
        # non-interactively and appends what it reads on stdin to the short instruction given
        # as its argument. Passing the prompt as an argument too would send it twice and break
        # on Linux's 128 KiB limit for one argument. Codex's --full-auto is deprecated in
        # favour of --sandbox workspace-write; Gemini's --yolo in favour of --approval-mode yolo.
        "claude-code": (
            'claude -p --output-format text --permission-mode acceptEdits "Carry out the task given on stdin."'
        ),
        "aider": 'aider --yes-always --no-pretty --no-stream --message-file "$COUNTERPOINT_TASK_FILE"',
        "codex": 'codex exec --sandbox workspace-write "Carry out the task given on stdin."',
        "gemini": 'gemini --approval-mode yolo -p "Carry out the task given on stdin."',
    },
    "acp": {
        "claude-code": "claude-code-acp",
        "codex": "codex-acp",
        "gemini": "gemini --acp",
        "opencode": "opencode acp",
    },
}


def presets_of(runner: str) -> dict[str, str]:
    """The presets of ``runner`` (name -> command line); empty if it has none."""
    return RUNNER_PRESETS.get(runner, {})
