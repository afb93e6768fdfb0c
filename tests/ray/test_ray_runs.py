"""Agents on a real two-node Ray cluster (head and worker, each a host in its own network
namespace), driven by the real CLI on the head: the node named when an agent starts, copies made
on each node from bundles, a file signal crossing nodes with its snapshot, cancel, timeout and the
coordinator's death stopping the agents' processes on the other node, check against the cluster,
secrets kept out of the log, and a node that dies mid-run (its agent moves, the run finishes)."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.git import git
from tests.support.processes import wait_until
from tests.support.ray_cluster import ROOT, Host, RayCluster

# One cluster for all of them: on one xdist worker (one node dies in the last test).
pytestmark = [pytest.mark.timeout(600), pytest.mark.xdist_group("ray")]


def workspace(folder: Path, spec: str, files: dict[str, str] | None = None) -> Path:
    """A git repository with the spec (and ``files``) committed; returns the spec's path."""
    folder.mkdir(parents=True)
    git(folder, "init", "-q", "-b", "main")
    (folder / ".gitignore").write_text(".counterpoint/\n")
    (folder / "README.md").write_text("# demo\n")
    (folder / "s.agents.md").write_text(spec)
    for rel, text in (files or {}).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    git(folder, "add", "-A")
    git(folder, "-c", "user.name=u", "-c", "user.email=u@example.com", "commit", "-q", "-m", "first")
    return folder / "s.agents.md"


def events(ws: Path) -> list[dict[str, Any]]:
    db = ws / ".counterpoint" / "events.db"
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT id, type, actor, action, metadata FROM events ORDER BY id").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()
    return [
        {"id": r[0], "type": r[1], "actor": r[2], "action": r[3], "metadata": json.loads(r[4])} for r in rows
    ]


def of(found: list[dict[str, Any]], type: str, actor: str | None = None) -> list[dict[str, Any]]:
    return [e for e in found if e["type"] == type and (actor is None or e["actor"] == actor)]


def run(cluster: RayCluster, spec: Path, *args: str) -> subprocess.Popen[str]:
    return cluster.driver(
        "-m",
        "counterpoint",
        "run",
        "--trust",
        "--quiet",
        *args,
        str(spec),
        cwd=str(spec.parent),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def finish(proc: subprocess.Popen[str], seconds: float = 240) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=seconds)
    return proc.returncode, out


def processes_in(cluster: RayCluster, host: Host, marker: str) -> list[int]:
    found = []
    for pid in cluster.pids(host):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline and Path(f"/proc/{pid}/status").read_text().find("State:\tZ") < 0:
            found.append(pid)
    return found


def test_agents_on_both_nodes_a_file_signal_crosses_with_its_snapshot(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    spec = workspace(
        tmp_path / "ws",
        """---
executor: ray
signals:
  schema_ready: "app/schema.py"
---
# Two hosts
## backend
runner: command
command: mkdir -p app && echo 'FIELDS = 1' > app/schema.py && sleep 1 && echo more > app/more.txt
resources: {worker_host: 1}
## frontend
needs: schema_ready
runner: command
command: cat app/schema.py > front.txt
resources: {head_host: 1}
## docs
needs: schema_ready
transcript: transcripts/docs.jsonl
resources: {worker_host: 1}
""",
        {
            "transcripts/docs.jsonl": json.dumps(
                {"action": "write_file", "path": "docs/API.md", "content": "# API\n"}
            )
            + "\n"
        },
    )
    code, out = finish(run(ray_cluster, spec))
    assert code == 0, out
    found = events(spec.parent)
    started = {e["actor"]: e["metadata"] for e in of(found, "agent_started")}
    assert started["backend"]["node"] == ray_cluster.worker.address
    assert started["frontend"]["node"] == ray_cluster.head.address
    copies = {e["actor"]: e["metadata"] for e in of(found, "working_copy_created")}
    assert copies["backend"]["node"] == ray_cluster.worker.address
    assert copies["backend"]["path"].startswith(str(ray_cluster.worker.workdir))
    assert copies["frontend"]["path"].startswith(str(ray_cluster.head.workdir))
    assert copies["backend"]["method"] == copies["frontend"]["method"] == "ray"
    (fired,) = of(found, "signal")
    assert fired["action"] == "schema_ready" and fired["metadata"]["by"] == "backend"
    # the dependent agent on the other node started from the snapshot the signal carried
    assert copies["frontend"]["start_commit"] == fired["metadata"]["commit"]
    assert copies["frontend"]["signals"] == ["schema_ready"]
    run_id = _run_id(spec.parent)
    tip = f"counterpoint/{run_id}/integration"
    assert git(spec.parent, "show", f"{tip}:front.txt") == "FIELDS = 1\n"
    assert git(spec.parent, "show", f"{tip}:app/more.txt") == "more\n"
    assert sorted(e["actor"] for e in of(found, "agent_merged")) == ["backend", "docs", "frontend"]
    # the replay agent's tool write on the worker is the run's event here
    (wrote,) = of(found, "file_written", "docs")
    assert wrote["action"] == "docs/API.md" and started["docs"]["node"] == ray_cluster.worker.address
    assert git(spec.parent, "show", f"{tip}:docs/API.md") == "# API\n"
    # the nodes keep nothing of the run, and the user's working tree did not change
    for host in (ray_cluster.head, ray_cluster.worker):
        wait_until(lambda host=host: not (host.workdir / run_id).exists(), 20)
    assert not (spec.parent / "front.txt").exists()


def _run_id(ws: Path) -> str:
    conn = sqlite3.connect(ws / ".counterpoint" / "events.db")
    try:
        return str(conn.execute("SELECT run_id FROM events ORDER BY id DESC LIMIT 1").fetchone()[0])
    finally:
        conn.close()


def _sleeper(marker: int, extra: str = "") -> str:
    return f"""---
executor: ray
---
# Sleeper
## sleeper
runner: command
command: echo started && sleep {marker}
resources: {{worker_host: 1}}
{extra}"""


def _wait_active(ws: Path, agent: str) -> None:
    wait_until(lambda: any(e["actor"] == agent for e in of(events(ws), "agent_active")), 120)


def test_cancel_stops_the_agent_on_the_other_node(ray_cluster: RayCluster, tmp_path: Path) -> None:
    spec = workspace(tmp_path / "ws", _sleeper(3131))
    proc = run(ray_cluster, spec)
    _wait_active(spec.parent, "sleeper")
    wait_until(lambda: processes_in(ray_cluster, ray_cluster.worker, "sleep 3131"), 30)
    proc.send_signal(signal.SIGINT)
    code, out = finish(proc, 60)
    assert code == 130, out
    wait_until(lambda: not processes_in(ray_cluster, ray_cluster.worker, "sleep 3131"), 15)
    (ended,) = of(events(spec.parent), "agent_finished", "sleeper")
    assert ended["action"] == "cancelled"


def test_a_timeout_stops_the_agent_on_the_other_node(ray_cluster: RayCluster, tmp_path: Path) -> None:
    spec = workspace(tmp_path / "ws", _sleeper(3132, "timeout: 6s\n"))
    code, out = finish(run(ray_cluster, spec))
    assert code == 1, out
    (ended,) = of(events(spec.parent), "agent_finished", "sleeper")
    assert ended["action"] == "timed_out" and "timed out after 6 s" in ended["metadata"]["error"]
    wait_until(lambda: not processes_in(ray_cluster, ray_cluster.worker, "sleep 3132"), 15)


def test_the_coordinators_death_stops_the_agent_on_the_other_node(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    spec = workspace(tmp_path / "ws", _sleeper(3133))
    proc = run(ray_cluster, spec)
    _wait_active(spec.parent, "sleeper")
    wait_until(lambda: processes_in(ray_cluster, ray_cluster.worker, "sleep 3133"), 30)
    proc.kill()
    proc.communicate(timeout=30)
    try:
        wait_until(lambda: not processes_in(ray_cluster, ray_cluster.worker, "sleep 3133"), 120)
    except AssertionError:
        import subprocess as sp

        shown = "ps -eo pid,ppid,pgid,sid,stat,etime,cmd | grep -E 'sleep 31|node_guard|AgentActor' | grep -v grep"
        print(sp.run(shown, shell=True, capture_output=True, text=True).stdout)  # what is left, and why
        raise


def test_a_run_whose_coordinator_was_killed_resumes_on_the_cluster(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    gate = tmp_path / "go"
    spec = workspace(
        tmp_path / "ws",
        f"""---
isolation: worktree
signals:
  first_done: "first.txt"
---
# Resumed
## first
runner: command
command: echo one > first.txt
resources: {{head_host: 1}}
## second
needs: first_done
runner: command
command: while [ ! -e {gate} ]; do sleep 0.2; done; cat first.txt > second.txt
resources: {{worker_host: 1}}
""",
    )
    proc = run(ray_cluster, spec, "--executor", "ray")
    _wait_active(spec.parent, "second")
    proc.kill()
    proc.communicate(timeout=30)
    gate.write_text("go")
    resumed = ray_cluster.driver(
        "-m",
        "counterpoint",
        "resume",
        "last",
        "--trust",
        "--quiet",
        "--executor",
        "ray",
        cwd=str(spec.parent),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    code, out = finish(resumed)
    assert code == 0, out
    found = events(spec.parent)
    assert [e["action"] for e in of(found, "run_resumed")] == ["resume"]
    second = [e["metadata"]["node"] for e in of(found, "agent_started", "second")]
    assert second == [ray_cluster.worker.address] * 2  # on the worker both times
    run_id = _run_id(spec.parent)
    assert git(spec.parent, "show", f"counterpoint/{run_id}/integration:second.txt") == "one\n"


def test_an_llm_agent_on_the_worker_talks_to_its_model_there_and_hands_on_a_signal(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    """The model is a loopback server inside the worker's own namespace: only the node can reach
    it. Its key and URL come from the coordinator's environment to the agent's (never the log)."""
    model = ray_cluster.on(
        ray_cluster.worker,
        str(ray_cluster.python),
        str(ROOT / "tests" / "llm" / "fake_llm_server.py"),
        "--flavor",
        "openai",
        "--latency",
        "0.05",
        "--tokens",
        "20",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert model.stdout is not None
        url = model.stdout.readline().strip()
        key = "sk-test-a3f9c2e7b1d4"
        spec = workspace(
            tmp_path / "ws",
            """---
executor: ray
---
# A model on the worker
## writer
runner: llm
model: openai:fake-model
emits: writer-done
resources: {worker_host: 1}
- Write the file and say you are done.
## counter
needs: writer-done
runner: command
command: wc -w < out/writer.txt > count.txt
resources: {head_host: 1}
""",
        )
        proc = ray_cluster.driver(
            "-m",
            "counterpoint",
            "run",
            "--trust",
            "--quiet",
            str(spec),
            cwd=str(spec.parent),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={"OPENAI_BASE_URL": url, "OPENAI_API_KEY": key},
        )
        code, out = finish(proc)
    finally:
        model.kill()
        model.wait()
    assert code == 0, out
    found = events(spec.parent)
    assert of(found, "usage", "writer"), "the model's usage came back from the node"
    assert any(e["action"] == "write_file" for e in of(found, "tool_call", "writer"))
    (fired,) = of(found, "signal")
    assert fired["action"] == "writer-done" and fired["metadata"]["by"] == "writer"
    run_id = _run_id(spec.parent)
    assert git(spec.parent, "show", f"counterpoint/{run_id}/integration:count.txt").strip() == "20"
    assert key.encode() not in (spec.parent / ".counterpoint" / "events.db").read_bytes()


def test_check_names_resources_no_node_has(ray_cluster: RayCluster, tmp_path: Path) -> None:
    spec = workspace(
        tmp_path / "ws",
        """---
executor: ray
---
# Too big
## big
runner: command
command: true
resources: {CPU: 8, memory: 2GB}
## labelled
runner: command
command: true
resources: {gpu_box: 1}
## fine
runner: command
command: true
resources: {CPU: 1, worker_host: 1}
""",
    )
    proc = ray_cluster.driver(
        "-m", "counterpoint", "check", str(spec), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    code, out = finish(proc, 120)
    assert code == 1, out
    assert "'big' asks for CPU 8, memory 1.86GiB: no node of the Ray cluster" in out
    assert "CPU 8 (the most a node has is 1)" in out
    assert "'labelled' asks for CPU 1, gpu_box 1" in out and "gpu_box 1 (no node has any)" in out
    assert "'fine'" not in out
    assert "2 errors" in out


def test_secrets_reach_the_agent_only_through_its_environment(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    secret = "tok-7f3c9a1e5b2d4c8e"
    spec = workspace(
        tmp_path / "ws",
        f"""---
executor: ray
---
# Secret
## deploy
runner: command
command: printf %s "$DEPLOY_TOKEN" | sha256sum | cut -c1-16 > token.sha
env: {{DEPLOY_TOKEN: {secret}}}
resources: {{worker_host: 1}}
""",
    )
    code, out = finish(run(ray_cluster, spec))
    assert code == 0, out
    import hashlib

    run_id = _run_id(spec.parent)
    shown = git(spec.parent, "show", f"counterpoint/{run_id}/integration:token.sha").strip()
    assert shown == hashlib.sha256(secret.encode()).hexdigest()[:16]
    assert secret.encode() not in (spec.parent / ".counterpoint" / "events.db").read_bytes()
    assert secret not in json.dumps(events(spec.parent))


def test_a_node_that_dies_mid_run_moves_its_agent_and_the_run_finishes(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    spec = workspace(
        tmp_path / "ws",
        """---
executor: ray
---
# A node dies
## steady
runner: command
command: sleep 3 && echo steady > steady.txt
resources: {CPU: 1, head_host: 1}
## mover
runner: command
command: echo started && if ip -4 addr | grep -q 'inet 10.213.7.2/'; then sleep 3134; fi && echo moved > moved.txt
timeout: 2m
""",
    )
    proc = run(ray_cluster, spec)
    try:
        _wait_active(spec.parent, "mover")
        started = {e["actor"]: e["metadata"] for e in of(events(spec.parent), "agent_started")}
        assert started["mover"]["node"] == ray_cluster.worker.address
        wait_until(lambda: processes_in(ray_cluster, ray_cluster.worker, "sleep 3134"), 30)

        def said_started() -> bool:  # it reached the coordinator (what is in flight dies with a node)
            return any(
                e["metadata"].get("line") == "started"
                for e in of(events(spec.parent), "agent_output", "mover")
            )

        wait_until(said_started, 30)
        ray_cluster.kill(ray_cluster.worker)  # the machine dies: every process on it
        code, out = finish(proc, 240)
    finally:
        if proc.poll() is None:
            proc.kill()
        ray_cluster.start_worker()
    assert code == 0, out
    found = events(spec.parent)
    (moved,) = of(found, "agent_moved", "mover")
    assert moved["metadata"]["from_node"] == ray_cluster.worker.address
    assert moved["metadata"]["node"] == ray_cluster.head.address
    assert "died" in moved["metadata"]["reason"]
    outputs = [e["metadata"].get("line") for e in of(found, "agent_output", "mover")]
    assert outputs.count("started") == 2  # what it said on the dead node is in the log too
    assert [e["action"] for e in of(found, "agent_finished")] == ["succeeded", "succeeded"]
    run_id = _run_id(spec.parent)
    assert git(spec.parent, "show", f"counterpoint/{run_id}/integration:moved.txt") == "moved\n"
