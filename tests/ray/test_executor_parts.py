"""The executors' parts that need no cluster: resources, the spec's checks, the job without
secrets, bundles between repositories, a node's copy and attempt (run here, without Ray), the
node guard, and the default install importing no Ray."""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from counterpoint.engine.executors import (
    ResourceError,
    Resources,
    bundles,
    executor_of,
    node_copy,
    node_overlay,
    parse_resources,
)
from counterpoint.engine.executors.job import NodeJob, build_job, scrub_options
from counterpoint.engine.executors.node_agent import NodeAgent
from counterpoint.engine.executors.resources import fits, shortfall
from counterpoint.engine.isolation import open_repo
from counterpoint.engine.spec import load_spec
from counterpoint.engine.workspace import SharedContext
from counterpoint_protocol.spec import AgentSettings, AgentSpec, SourceRange

from tests.support.git import git
from tests.support.processes import wait_until

ROOT = Path(__file__).resolve().parents[2]


def test_resources_parse_sizes_names_and_custom_labels() -> None:
    assert parse_resources({}) == Resources(cpu=1.0)
    got = parse_resources({"CPU": 2, "memory": "4GB", "GPU": 0, "big_disk": 1})
    assert (got.cpu, got.gpu, got.memory, dict(got.custom)) == (2.0, 0.0, 4_000_000_000, {"big_disk": 1.0})
    assert parse_resources({"memory": "512Mi"}).memory == 512 * 1024**2
    assert parse_resources({"memory": 1024}).memory == 1024
    assert got.ray_options() == {
        "num_cpus": 2.0,
        "num_gpus": 0.0,
        "memory": 4_000_000_000,
        "resources": {"big_disk": 1.0},
    }
    for bad, said in [
        ({"cpu": 2}, "did you mean 'CPU'"),
        ({"memory": "lots"}, "no size"),
        ({"CPU": -1}, "negative"),
        ({"GPU": "many"}, "must be a number"),
    ]:
        with pytest.raises(ResourceError, match=said):
            parse_resources(bad)


def test_what_no_node_has_is_named_with_the_most_one_has() -> None:
    request = parse_resources({"CPU": 8, "gpu_box": 1})
    nodes = [{"CPU": 1.0, "memory": 1e9}, {"CPU": 2.0, "memory": 1e9}]
    assert not any(fits(request, n) for n in nodes)
    said = shortfall(request, nodes)
    assert "CPU 8 (the most a node has is 2)" in said and "gpu_box 1 (no node has any)" in said
    assert fits(parse_resources({"CPU": 2}), nodes[1])


def spec_of(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "s.agents.md"
    path.write_text(text)
    return load_spec(text, path, check_files=False)


def test_check_flags_executor_and_resources_settings(tmp_path: Path) -> None:
    spec = spec_of(
        tmp_path,
        """---
executor: ray
---
# x
## a
runner: command
command: "true"
resources: {cpu: 2}
## b
runner: command
command: "true"
isolation: shared
## c
executor: local
runner: command
command: "true"
resources: {GPU: 1}
## d
runner: command
command: "true"
integrate: true
""",
    )
    found = {(d.code, d.range.line) for d in spec.diagnostics}
    assert ("invalid-resources", 7) in found  # lines count from 0
    assert ("ray-needs-worktree", 11) in found
    assert ("resources-unused", 16) in found
    assert any(code == "integrator-runs-locally" for code, _ in found)
    a, b, c, _d = spec.agents
    assert (a.settings.executor, a.settings.isolation) == ("ray", "worktree")  # implied
    assert (b.settings.isolation, c.settings.isolation) == ("shared", "shared")


def test_the_command_line_overrides_the_spec_but_not_for_integrators() -> None:
    plain = AgentSpec(
        name="a",
        settings=AgentSettings(),
        heading_range=SourceRange.on_line(0),
        name_range=SourceRange.on_line(0),
        section_end_line=0,
    )
    integrator = plain.model_copy(update={"settings": AgentSettings(integrate=True, executor="ray")})
    assert executor_of(plain, {}) == "local"
    assert executor_of(plain, {"executor": "ray"}) == "ray"
    assert executor_of(integrator, {"executor": "ray"}) == "local"


def test_a_job_holds_no_secret_they_go_to_the_actors_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-coordinator-1234")
    monkeypatch.setenv("UNRELATED_TOKEN", "never-forwarded-5678")
    settings = AgentSettings(env={"DEPLOY_TOKEN": "tok-secret-9999", "MODE": "fast"}, executor="ray")
    agent = AgentSpec(
        name="a",
        settings=settings,
        heading_range=SourceRange.on_line(0),
        name_range=SourceRange.on_line(0),
        section_end_line=0,
    )

    class Ctx:
        run_id, attempt, speed, task = "r1", 1, 1.0, "do it"
        shared_context = SharedContext()
        options = {
            "llm_settings": {"anthropic_api_key": "sk-ant-settings-4321", "timeout": 5},
            "budget": object(),
        }

    Ctx.agent = agent  # type: ignore[attr-defined]
    Ctx.spec = load_spec("# x\n## a\n", Path("/tmp/x.agents.md"), check_files=False).model_copy(  # type: ignore[attr-defined]
        update={"agents": [agent], "text": "env: {DEPLOY_TOKEN: tok-secret-9999}"}
    )
    job, env = build_job(
        Ctx(),  # type: ignore[arg-type]
        start="c0",
        workspace_rel="",
        spec_rel="",
        task="do it",
        trusted=False,
        version="0",
        store="k",
    )
    blob = pickle.dumps(job)
    for secret in (
        b"tok-secret-9999",
        b"sk-ant-settings-4321",
        b"sk-ant-coordinator-1234",
        b"never-forwarded",
    ):
        assert secret not in blob
    # the user settings' key wins over the coordinator's variable, as for a local LLM agent
    assert env == {"ANTHROPIC_API_KEY": "sk-ant-settings-4321", "DEPLOY_TOKEN": "tok-secret-9999"}
    assert "UNRELATED_TOKEN" not in env
    assert job.secret_env == ["DEPLOY_TOKEN"] and job.agent.settings.env == {"MODE": "fast"}
    assert scrub_options({"x": {"openai_api_key": "k"}}, {}) == {"x": {}}


def make_repo(folder: Path) -> Path:
    folder.mkdir(parents=True)
    git(folder, "init", "-q", "-b", "main")
    (folder / ".gitignore").write_text(".counterpoint/\n")
    (folder / "README.md").write_text("# demo\n")
    for n in range(20):
        (folder / "src").mkdir(exist_ok=True)
        (folder / "src" / f"m{n}.py").write_text(f"N = {n}\n")
    git(folder, "add", "-A")
    git(folder, "-c", "user.name=u", "-c", "user.email=u@example.com", "commit", "-q", "-m", "first")
    return folder


@pytest.mark.parametrize("method", ["overlay", "checkout"])
async def test_work_travels_as_bundles_and_lands_on_the_branch_with_real_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    monkeypatch.setenv(node_copy.WORKDIR_ENV, str(tmp_path / "node"))
    if method == "checkout" or os.geteuid() != 0:  # a node that may not mount
        monkeypatch.setattr(node_overlay, "refused", ["not allowed here"])
    repo = await open_repo(make_repo(tmp_path / "user"))
    head = repo.head
    assert head is not None
    ship = await bundles.start_commit(repo, head)
    assert ship == await bundles.start_commit(repo, head)  # the same tree: the same commit
    data = await bundles.bundle(repo, ship, [], "refs/counterpoint/ship/t")
    assert data is not None and data.startswith(b"# v2 git bundle")
    assert await bundles.bundle(repo, ship, [ship], "refs/counterpoint/ship/t") is None  # it has it
    copy = await node_copy.make_copy("run1", "backend", 1, ship, data, "", "", "store1")
    assert copy.method == (method if os.geteuid() == 0 else "checkout")
    assert (
        copy.path.is_relative_to(tmp_path / "node") and (copy.path / "src" / "m3.py").read_text() == "N = 3\n"
    )
    (copy.path / "src" / "m3.py").write_text("N = 33\n")
    (copy.path / ".counterpoint").mkdir()
    (copy.path / ".counterpoint" / "state").write_text("never in a snapshot")
    made = await node_copy.snapshot(copy, "backend: schema_ready")
    assert made is not None and made[1] == ["src/m3.py"]
    assert await node_copy.snapshot(copy, "again") is None
    back = await bundles.bundle(copy.path, copy.last, [copy.start], "refs/counterpoint/ship/back")
    assert back is not None and len(back) < len(data)  # only what is new
    await bundles.unbundle(repo, back)
    real = await bundles.reparent(repo, copy.last, head, "backend: schema_ready")
    assert git(repo.toplevel, "rev-parse", f"{real}^").strip() == head
    assert git(repo.toplevel, "show", f"{real}:src/m3.py") == "N = 33\n"
    assert "state" not in git(repo.toplevel, "ls-tree", "-r", "--name-only", real)
    # a second copy on this node starts from the snapshot: its bundle carries only what is new
    ship2 = await bundles.start_commit(repo, real, ship)
    data2 = await bundles.bundle(repo, ship2, [ship], "refs/counterpoint/ship/t")
    assert data2 is not None and len(data2) < len(data) / 2
    second = await node_copy.make_copy("run1", "frontend", 1, ship2, data2, "", "", "store1")
    assert (second.path / "src" / "m3.py").read_text() == "N = 33\n"
    assert git(second.path, "status", "--porcelain") == ""  # its index knows its files
    assert (copy.path / "src" / "m3.py").read_text() == "N = 33\n"
    for made_copy in (copy, second):
        await node_copy.remove(made_copy)
    await node_copy.remove_run("run1")
    assert not node_copy.workdir("run1").exists()


async def test_a_node_attempt_streams_its_messages_and_sends_its_snapshots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(node_copy.WORKDIR_ENV, str(tmp_path / "node"))
    repo = await open_repo(make_repo(tmp_path / "user"))
    assert repo.head is not None
    ship = await bundles.start_commit(repo, repo.head)
    data = await bundles.bundle(repo, ship, [], "refs/counterpoint/ship/t")
    text = """---
signals:
  schema_ready: "app/schema.py"
---
# x
## backend
runner: command
command: mkdir -p app && echo 'X = 1' > app/schema.py && sleep 1 && echo late > app/late.txt && echo done
"""
    spec = load_spec(text, repo.toplevel / "s.agents.md", check_files=False)
    job = NodeJob(
        run_id="run2",
        agent=spec.agents[0],
        spec=spec,
        task="build",
        workspace_rel="",
        spec_rel="",
        start=ship,
        shared_context=SharedContext(),
        trusted=True,
        store="store2",
    )
    agent = NodeAgent(job, data, {"COUNTERPOINT_NODE_GUARD": "test"})
    await asyncio.wait_for(agent.run(), 60)
    messages = []
    while not agent.messages.empty():
        messages.append(agent.messages.get_nowait())
    kinds = [m["kind"] for m in messages]
    assert kinds[0] == "copy" and kinds[-1] == "done" and "began" in kinds
    assert {"kind": "output", "line": "done"} in messages
    (signal_message,) = [m for m in messages if m["kind"] == "signal"]
    assert signal_message["signal"] == "schema_ready" and signal_message["files"] == ["app/schema.py"]
    done = messages[-1]
    assert done["outcome"] == "succeeded" and done["files"] == ["app/late.txt"]
    await bundles.unbundle(repo, signal_message["bundle"])
    await bundles.unbundle(repo, done["bundle"])
    assert git(repo.toplevel, "show", f"{done['commit']}:app/late.txt") == "late\n"
    assert [p.name for p in node_copy.workdir("run2").iterdir() if p.name[0] != "."] == []  # copy gone


def test_the_node_guard_kills_the_agents_processes_when_the_actor_dies(tmp_path: Path) -> None:
    """A stand-in actor starts the guard and a marked process group, then is killed (-9)."""
    script = tmp_path / "actor.py"
    script.write_text(
        "import os, subprocess, sys, time\n"
        "from counterpoint.engine.executors import node_guard\n"
        "pipe, mark = node_guard.start()\n"
        "subprocess.Popen(['sh', '-c', 'sleep 3141 & sleep 3142'], start_new_session=True,\n"
        "                 env={**os.environ, node_guard.MARK: mark})\n"
        "print('ready', flush=True)\n"
        "time.sleep(600)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "server"), str(ROOT / "protocol")])}
    actor = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
    assert actor.stdout is not None and actor.stdout.readline().strip() == "ready"

    def alive(marker: str) -> bool:
        return subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 0

    wait_until(lambda: alive("sleep 3141") and alive("sleep 3142"), 10)
    actor.send_signal(signal.SIGKILL)
    actor.wait()
    wait_until(lambda: not alive("sleep 3141") and not alive("sleep 3142"), 10)


def test_the_default_install_imports_no_ray() -> None:
    code = (
        "import sys\n"
        "import counterpoint.engine.engine, counterpoint.engine.executors, counterpoint.engine.run\n"
        "import counterpoint.cli.cmd_run, counterpoint.cli.cmd_check, counterpoint.engine.spec\n"
        "assert 'ray' not in sys.modules, 'ray imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_executor_ray_on_the_command_line_refuses_agents_in_the_shared_workspace(tmp_path: Path) -> None:
    spec = tmp_path / "s.agents.md"
    spec.write_text("# x\n## a\nrunner: command\ncommand: echo hi\n## b\nrunner: command\ncommand: echo hi\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "server"), str(ROOT / "protocol")])}
    done = subprocess.run(
        [sys.executable, "-m", "counterpoint", "run", "--trust", "--executor", "ray", str(spec)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode != 0
    assert "--executor ray: a, b work in the shared workspace (isolation: shared)" in done.stderr
    assert not (tmp_path / ".counterpoint" / "events.db").exists()  # nothing started


def test_check_says_once_when_no_cluster_could_be_asked(tmp_path: Path) -> None:
    spec = tmp_path / "s.agents.md"
    spec.write_text(
        "---\nexecutor: ray\n---\n# x\n## a\nrunner: command\ncommand: echo hi\nresources: {CPU: 64}\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "server"), str(ROOT / "protocol")]),
        "RAY_ADDRESS": "127.0.0.1:9",  # nothing answers there (or Ray is not installed here)
    }
    done = subprocess.run(
        [sys.executable, "-m", "counterpoint", "check", str(spec)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr  # a warning, not an error of the spec
    assert done.stdout.count("warning: resources not checked against a cluster: ") == 1
