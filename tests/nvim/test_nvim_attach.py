"""`:Counterpoint attach` in a real headless Neovim 0.11 against the real `counterpoint lsp`: a
separate `counterpoint run` process (as in a terminal) runs a spec in a git repository the test
makes, its events in the workspace's SQLite log; Neovim attaches to it (an unknown run id first: the
server's error is notified; then with no argument: the last run of the log) and shows it while it
runs: the run's progress, its agents' states, the finding of a failing check as a diagnostic on the
file. The run's last agent waits for a file (`go.txt`) that the script writes once it has seen all
that; the rest arrives live: the fix, the check passing (the diagnostic cleared), the run's end. A
replayed agent, a small command agent and a small check script: the same steps every time. The Lua script is below; it uses the
shared `scripts/helpers.lua`.
"""

from __future__ import annotations

import json
import shlex
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_nvim_plugin import BIN, nvim_env, run_lua

from tests.support.git import make_repo

SPEC = """---
feature: Attach demo
signals:
  code_ready: "app/calc.py"
checks:
  - name: lint
    run: {python} lint.py
    after: [code_ready]
    watch: ["app/*.py"]
    format: gcc
---
# Attach demo

## writer
runner: replay
transcript: transcripts/writer.jsonl
- write app/calc.py

## finisher
needs: writer
runner: command
command: {python} finisher.py
timeout: 5m
- remove the TODO, once told to go on
"""
WRITER = {
    "action": "write_file",
    "path": "app/calc.py",
    "content": "def add(a, b):\n    return a + b  # TODO\n",
}
LINT = """import pathlib
import sys

found = 0
for number, line in enumerate(pathlib.Path("app/calc.py").read_text().splitlines(), 1):
    if "TODO" in line:
        print(f"app/calc.py:{number}:{line.index('TODO') + 1}: error: TODO left in the code")
        found += 1
sys.exit(1 if found else 0)
"""
# Keeps the run going until the test says so (a file signal cannot: once no agent runs, the run ends).
FINISHER = """import pathlib
import sys
import time

print("waiting for go.txt", flush=True)
deadline = time.monotonic() + 180
while not pathlib.Path("go.txt").exists():
    if time.monotonic() > deadline:
        sys.exit("no go.txt within 180 s")
    time.sleep(0.05)
calc = pathlib.Path("app/calc.py")
calc.write_text(calc.read_text().replace("  # TODO", ""))
print("removed the TODO", flush=True)
"""

SCRIPT = r"""
local H = dofile(os.getenv('CP_HELPERS'))
require('counterpoint').setup({})
local state = require('counterpoint.state')
local run_id = assert(os.getenv('CP_RUN_ID'))
local calc = H.workspace .. '/app/calc.py'

local bufnr = H.open_spec('attach.agents.md')
-- The code lenses asked on attach open the workspace's event log in the server (the run made it).
H.wait(20000, function() return #vim.lsp.codelens.get(bufnr) > 0 end, 'code lenses of the spec')
local rec = H.record()
local function said(text)
  for _, n in ipairs(H.notifications) do
    if n.msg:find(text, 1, true) then
      return n
    end
  end
end

-- An unknown run: the server's error, as it comes.
vim.cmd('Counterpoint attach no-such-run')
H.wait(30000, function() return said('no such run no-such-run') ~= nil end, 'the error of an unknown run')
assert(said('no such run no-such-run').level == vim.log.levels.ERROR)

-- No argument: the last run of the workspace's log, the one the terminal runs.
vim.cmd('Counterpoint attach')
H.wait(30000, function() return said('following it') ~= nil end, 'attached: following it')
local answer = said('following it')
H.log('%s', answer.msg)
assert(answer.msg:find(run_id, 1, true), answer.msg)
assert(state.last_run_id == run_id, tostring(state.last_run_id))

-- Its past events, then the new ones: agents' states, the finding as a diagnostic on the file.
local function lint_diagnostics()
  local found = {}
  for _, d in ipairs(vim.diagnostic.get()) do
    if d.source == 'counterpoint/lint' then
      found[#found + 1] = { file = vim.api.nvim_buf_get_name(d.bufnr), d = d }
    end
  end
  return found
end
H.wait(60000, function() return #lint_diagnostics() > 0 end, 'the check finding as a diagnostic')
local first = lint_diagnostics()[1]
H.log('diagnostic: %s:%d: %s', first.file, first.d.lnum + 1, first.d.message)
assert(first.file == calc, first.file)
assert(first.d.lnum == 1 and first.d.message:find('TODO left in the code', 1, true), vim.inspect(first.d))
H.wait(30000, function()
  local run = state.runs[run_id]
  return run and run.agents.writer and run.agents.writer.state == 'succeeded'
end, 'writer succeeded')
H.wait(30000, function()
  local finisher = state.runs[run_id].agents.finisher
  return finisher and finisher.last_output == 'waiting for go.txt'
end, 'finisher running, waiting for go.txt')
assert(state.runs[run_id].state == 'running', state.runs[run_id].state)
assert(state.runs[run_id].agents.finisher.state == 'running')
H.wait(10000, function()
  for _, p in ipairs(rec.progress) do
    if p.kind == 'begin' and type(p.title) == 'string' and p.title:find('elsewhere', 1, true) then
      return true
    end
  end
end, "the run's progress began")

-- Let the run go on: everything from here arrives live.
vim.fn.writefile({ 'go' }, H.workspace .. '/go.txt')
H.wait(60000, function()
  return rec.find(function(e) return e.type == 'run_finished' and e.run_id == run_id end) ~= nil
end, 'run_finished, live')
assert(rec.find(function(e)
  return e.type == 'agent_finished' and e.actor == 'finisher' and e.action == 'succeeded'
end), 'finisher succeeded, live')
assert(state.runs[run_id].state == 'succeeded', state.runs[run_id].state)
H.wait(20000, function() return #lint_diagnostics() == 0 end, 'the diagnostic cleared by the passing check')
H.wait(10000, rec.all_ended, 'every progress ended')
H.wait(10000, function() return said('succeeded') ~= nil end, "the run's end as a message")

-- Attached already: said so, nothing followed twice.
vim.cmd('Counterpoint attach ' .. run_id)
H.wait(30000, function() return said('already shown') ~= nil end, 'attaching again')
H.done()
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository (nothing committed) holding the spec, its transcript and scripts."""
    files = {
        ".gitignore": ".counterpoint/\n",
        "lint.py": LINT,
        "finisher.py": FINISHER,
        "transcripts/writer.jsonl": json.dumps(WRITER) + "\n",
        "attach.agents.md": SPEC.format(python=shlex.quote(sys.executable)),
    }
    return make_repo(tmp_path / "repo", files, commit=False)


def run_started(repo: Path) -> str | None:
    db = repo / ".counterpoint" / "events.db"
    if not db.exists():
        return None
    conn = sqlite3.connect(db)
    try:
        # Its row in `runs` too: `last` is read from there.
        query = "SELECT run_id FROM events JOIN runs USING (run_id) WHERE type = 'run_started'"
        row = conn.execute(query).fetchone()
    except sqlite3.Error:  # not made yet
        return None
    finally:
        conn.close()
    return str(row[0]) if row else None


def test_attach_to_a_run_of_a_terminal(nvim: Path, tmp_path: Path, repo: Path) -> None:
    env = nvim_env(tmp_path, repo)
    env.pop("COUNTERPOINT_EVENTS_URL", None)  # the workspace's SQLite file
    out = (tmp_path / "run.out").open("w")
    run = subprocess.Popen(
        [str(BIN / "counterpoint"), "run", "--trust", "--quiet", "attach.agents.md"],
        cwd=repo,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while (run_id := run_started(repo)) is None:
            assert run.poll() is None, (
                f"the run ended before it started: {(tmp_path / 'run.out').read_text()}"
            )
            assert time.monotonic() < deadline, "the run did not start within 60 s"
            time.sleep(0.05)
        script = tmp_path / "test_attach.lua"
        script.write_text(SCRIPT)
        run_lua(nvim, script, cwd=repo, env=env | {"CP_RUN_ID": run_id}, timeout=240)
        assert run.wait(timeout=60) == 0, (tmp_path / "run.out").read_text()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        out.close()
    assert (repo / "app" / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
