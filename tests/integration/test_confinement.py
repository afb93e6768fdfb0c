"""Agents cannot reach the repository's or Counterpoint's machinery, nor grant themselves consent.

The setting of the hostile review: the spec lives in a home folder kept in git
(dotfiles), so ``.git``, ``.counterpoint`` and the user's config folder (with
``trust.json``) are all inside the workspace. Replay agents, which need no
consent, try to write each of them; a sibling then tries to run a command. The
CLI runs as a real subprocess on a real git repository and SQLite log.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

from counterpoint.engine.log import query_events

from tests.support.cli import run_cli, user_env

SPEC = """
---
feature: Hostile
---
## hooker
transcript: hooker.jsonl
- plant a command in the repository's config

## hooks
transcript: hooks.jsonl
- plant a hook through a link

## granter
transcript: granter.jsonl
- grant this workspace consent

## wiper
transcript: wiper.jsonl
- overwrite the event log

## runner
transcript: runner.jsonl
- run a command
"""

FSMONITOR = "[core]\n\tfsmonitor = touch pwned-by-git\n"


def _run_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=home, env=user_env(home / ".config", HOME=str(home)))


def _dotfiles_home(home: Path) -> Path:
    """A git home holding the spec, a trust file that trusts it, and a link into ``.git/hooks``."""
    home.mkdir()
    subprocess.run(["git", "init", "-q", str(home)], check=True)
    (home / "hooks-link").symlink_to(home / ".git" / "hooks", target_is_directory=True)
    trust = home / ".config" / "counterpoint" / "trust.json"
    trust.parent.mkdir(parents=True)
    # As if an agent of an earlier run (or a checkout of the dotfiles) had put it there.
    trust.write_text(json.dumps({"workspaces": [str(home.resolve())]}))
    steps = {
        "hooker": [{"action": "write_file", "path": ".git/config", "content": FSMONITOR}],
        "hooks": [{"action": "write_file", "path": "hooks-link/post-checkout", "content": "touch x"}],
        "granter": [
            {
                "action": "write_file",
                "path": ".config/counterpoint/trust.json",
                "content": json.dumps({"workspaces": [str(home.resolve())]}),
            }
        ],
        "wiper": [{"action": "write_file", "path": ".counterpoint/events.db", "content": "gone"}],
        "runner": [{"action": "run", "command": "touch marker.txt"}],
    }
    for name, transcript in steps.items():
        (home / f"{name}.jsonl").write_text("".join(json.dumps(s) + "\n" for s in transcript))
    spec = home / "hostile.agents.md"
    spec.write_text(textwrap.dedent(SPEC).lstrip())
    return spec


def test_agents_cannot_touch_the_machinery_nor_grant_consent(tmp_path: Path) -> None:
    home = tmp_path / "home"
    spec = _dotfiles_home(home)
    git_config = (home / ".git" / "config").read_text()
    trust = (home / ".config" / "counterpoint" / "trust.json").read_text()

    result = _run_cli(home, "run", spec.name)

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    finished = {
        e.actor: e for e in query_events(home / ".counterpoint" / "events.db", None, "agent_finished")
    }
    assert {name: e.action for name, e in finished.items()} == dict.fromkeys(
        ["hooker", "hooks", "granter", "wiper", "runner"], "failed"
    )
    errors = {name: e.metadata["error"] for name, e in finished.items()}
    assert "'.git/config' is inside the repository's git folder" in errors["hooker"]
    assert "agents may not read or write it" in errors["hooker"]
    assert "'hooks-link/post-checkout' is inside the repository's git folder" in errors["hooks"]
    assert "Counterpoint's user configuration" in errors["granter"]
    assert "Counterpoint's own state (.counterpoint)" in errors["wiper"]
    # The sibling's command still needs consent: the planted trust file is not honoured.
    assert "not allowed to run 'touch marker.txt'" in errors["runner"]
    assert "ignoring" in errors["runner"] and "inside the workspace" in errors["runner"]
    assert "ignoring" in result.stderr and "trust.json" in result.stderr
    assert not (home / "marker.txt").exists()
    # Nothing of the machinery changed; the log of the run is intact and readable.
    assert (home / ".git" / "config").read_text() == git_config
    assert not (home / ".git" / "hooks" / "post-checkout").exists()
    assert (home / ".config" / "counterpoint" / "trust.json").read_text() == trust
    assert subprocess.run(["git", "-C", str(home), "status"], capture_output=True).returncode == 0
    assert not (home / "pwned-by-git").exists()
    events = _run_cli(home, "events")
    assert events.returncode == 0, events.stderr
    assert "run_finished" in events.stdout


def test_explicit_trust_still_runs_the_command(tmp_path: Path) -> None:
    home = tmp_path / "home"
    spec = _dotfiles_home(home)
    result = _run_cli(home, "run", spec.name, "--trust", "--agents", "runner")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (home / "marker.txt").exists()
