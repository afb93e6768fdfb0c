"""Secrets stay out of events, the status shown in editors and the reports of a real run."""

from __future__ import annotations

from pathlib import Path

from counterpoint.engine.engine import Engine

from tests.support.load import run_once, write_workspace

SPEC_TOKEN = "tok-4f1c9a7e2b8d6035"  # matches no pattern: only its variable's name says it is secret
KEY_LIKE = "sk-ant-" + "a1B2c3D4e5F6g7H8i9J0"
BEARER = "abcdefghijklmnop.qrstuvwx"


async def test_run_output_env_and_key_like_strings_are_redacted(tmp_path: Path) -> None:
    command = (
        f'echo "deploying with $DEPLOY_TOKEN"; echo "key {KEY_LIKE}"; '
        f'echo "Authorization: Bearer {BEARER}"; echo "last $DEPLOY_TOKEN"'
    )
    spec = write_workspace(
        tmp_path,
        f"---\nfeature: Secrets\n---\n# Secrets\n\n## deployer\nrunner: command\n"
        f"env: {{DEPLOY_TOKEN: {SPEC_TOKEN}}}\ncommand: {command}\n- deploy\n",
    )
    engine = await Engine.open(tmp_path)
    try:
        status, report = await run_once(engine, spec)
        run = engine.runs[report["run_id"]]
        events = await engine.events(report["run_id"])
        shown = run.status().model_dump_json()
    finally:
        await engine.aclose()
    assert status == "succeeded", report["agents"]
    outputs = " ".join(str(e.metadata) for e in events if e.type == "agent_output")
    assert "deploying with ***" in outputs  # the output is there, the secret is not
    everything = [str([e.model_dump() for e in events]), shown]
    everything += [Path(p).read_text() for p in report["files"].values()]
    everything.append((tmp_path / ".counterpoint" / "events.db").read_bytes().decode("latin-1"))
    for text in everything:
        for secret in (SPEC_TOKEN, KEY_LIKE, BEARER):
            assert secret not in text


async def test_a_workspace_secret_stays_in_its_own_engine(tmp_path: Path) -> None:
    """Two engines in one process (a server with two workspaces): the secret one spec declares is
    redacted in its own log and status, and is no secret to the other workspace's log."""
    one, two = tmp_path / "one", tmp_path / "two"
    spec_one = write_workspace(
        one,
        "---\nfeature: One\n---\n# One\n\n## deployer\nrunner: command\n"
        f'env: {{DEPLOY_TOKEN: {SPEC_TOKEN}}}\ncommand: echo "with $DEPLOY_TOKEN"\n- deploy\n',
    )
    spec_two = write_workspace(
        two,
        f'---\nfeature: Two\n---\n# Two\n\n## printer\nrunner: command\ncommand: echo "{SPEC_TOKEN}"\n- print\n',
    )
    first, second = await Engine.open(one), await Engine.open(two)
    try:
        status_one, report_one = await run_once(first, spec_one)
        status_two, report_two = await run_once(second, spec_two)
        events_one = await first.events(report_one["run_id"], "agent_output")
        events_two = await second.events(report_two["run_id"], "agent_output")
        assert SPEC_TOKEN in first.log.redactor.values
        assert SPEC_TOKEN not in second.log.redactor.values
    finally:
        await first.aclose()
        await second.aclose()
    assert (status_one, status_two) == ("succeeded", "succeeded")
    assert [e.metadata["line"] for e in events_one] == ["with ***"]
    assert [e.metadata["line"] for e in events_two] == [SPEC_TOKEN]  # not a secret of workspace two
