"""The language server's review of an isolated run (the server as a subprocess, pytest-lsp):
``counterpoint.diff``, ``counterpoint.showFile`` and ``counterpoint.apply`` on a real repository
holding a finished isolated run, the code lenses that offer them, and clear errors on bad params."""

from __future__ import annotations

from pathlib import Path

import pytest
from counterpoint_protocol.methods import Commands
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.lsp.helpers import execute, get, open_doc
from tests.support.isolated_run import BACKEND, MODELS, RUN_ID, git, make_repo, recorded_run

SPEC = """---
feature: Demo
isolation: worktree
runner: command
command: "true"
---
# Demo

## backend
- the schema

## frontend
needs: backend
- the page
"""


@pytest.fixture
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with a spec and a finished isolated run of it (overrides the example workspace)."""
    repo = make_repo(tmp_path_factory.mktemp("ws") / "repo")
    (repo / "demo.agents.md").write_text(SPEC)
    git(repo, "add", "demo.agents.md")
    git(repo, "commit", "-q", "-m", "spec")
    recorded_run(repo)
    return repo


async def test_diff_and_show_file(client: LanguageClient, workspace: Path) -> None:
    run = await execute(client, Commands.DIFF, {"runId": RUN_ID})
    files = {get(f, "path"): f for f in get(run, "files")}
    assert len(files) == 6
    assert get(files["app/models.py"], "added") == 3 and get(files["logo.bin"], "binary") is True
    assert get(files["app/schema.py"], "abs_path") == str(workspace.resolve() / "app" / "schema.py")
    backend = await execute(client, Commands.DIFF, {"runId": RUN_ID, "agent": "backend"})
    assert {get(f, "path") for f in get(backend, "files")} == set(BACKEND)
    start, tip = get(backend, "base"), get(backend, "head")
    before = await execute(
        client, Commands.SHOW_FILE, {"runId": RUN_ID, "commit": start, "path": "app/models.py"}
    )
    after = await execute(
        client, Commands.SHOW_FILE, {"runId": RUN_ID, "commit": tip, "path": "app/models.py"}
    )
    assert get(before, "text") == MODELS and get(after, "text") == BACKEND["app/models.py"]
    missing = await execute(
        client, Commands.SHOW_FILE, {"runId": RUN_ID, "commit": start, "path": "app/schema.py"}
    )
    assert get(missing, "exists") is False


@pytest.mark.parametrize(
    ("command", "argument", "expected"),
    [
        (Commands.DIFF, {}, "runId"),
        (Commands.DIFF, {"runId": "20990101-000000-zzzzzz"}, "no such run"),
        (Commands.DIFF, {"runId": RUN_ID, "agent": "nobody"}, "no isolated agent 'nobody'"),
        (Commands.SHOW_FILE, {"runId": RUN_ID, "commit": "HEAD"}, "path"),
        (Commands.SHOW_FILE, {"runId": RUN_ID, "commit": "--help", "path": "x"}, "not a commit"),
        (
            Commands.SHOW_FILE,
            {"runId": RUN_ID, "commit": "refs/heads/main", "path": "../x"},
            "not a path inside",
        ),
        (Commands.APPLY, {"runId": RUN_ID, "extra": 1}, "extra"),
        (Commands.DISCARD, {"runId": 7}, "runId"),
    ],
)
async def test_bad_params_get_clear_errors(
    client: LanguageClient, command: str, argument: dict[str, object], expected: str
) -> None:
    with pytest.raises(JsonRpcException) as info:
        await execute(client, command, argument)
    assert expected in str(info.value)
    assert info.value.code in (-32602, -32600), info.value


async def test_lenses_offer_the_run_and_apply_brings_it_into_the_working_tree(
    client: LanguageClient, workspace: Path
) -> None:
    uri = (workspace / "demo.agents.md").as_uri()
    open_doc(client, uri, SPEC)
    doc = types.TextDocumentIdentifier(uri=uri)
    lenses = await client.text_document_code_lens_async(types.CodeLensParams(text_document=doc))
    by_title = {lens.command.title: lens for lens in lenses or [] if lens.command}
    apply = by_title[f"✓ Apply run {RUN_ID} (6 files)"]
    assert apply.range.start.line == SPEC.splitlines().index("# Demo")
    assert "✗ Discard run" in by_title
    backend = by_title["Show changes of backend (3 files)"]
    assert backend.command is not None and backend.command.command == Commands.DIFF
    assert list(backend.command.arguments or []) == [{"runId": RUN_ID, "agent": "backend"}]
    assert backend.range.start.line == SPEC.splitlines().index("## backend")
    assert "Show changes of frontend (4 files)" in by_title

    assert apply.command is not None
    result = await execute(client, apply.command.command, apply.command.arguments[0])  # type: ignore[index]
    assert len(get(result, "files")) == 6
    assert (workspace / "app" / "schema.py").read_text() == "SCHEMA = 1\n"
    assert git(workspace, "diff", "--cached") == ""
    with pytest.raises(JsonRpcException, match="already applied"):
        await execute(client, Commands.APPLY, {"runId": RUN_ID})

    await execute(client, Commands.DISCARD, {"runId": RUN_ID})
    lenses = await client.text_document_code_lens_async(types.CodeLensParams(text_document=doc))
    titles = [lens.command.title for lens in lenses or [] if lens.command]
    assert not any("Apply run" in t or "Discard run" in t or "Show changes" in t for t in titles), titles
