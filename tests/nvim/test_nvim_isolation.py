"""Reviewing an isolated run in a real headless Neovim 0.11 against the real `counterpoint lsp`:
a spec whose three agents work in git working copies of their own (`isolation: worktree`) runs in
a repository the test makes; then `:Counterpoint diff [agent]` fills the quickfix list and opens a
diff split (two windows in diff mode: the base, the agent's version), `:Counterpoint discard`
asks first, `:Counterpoint apply` brings the changes into the working tree and `:Counterpoint!
discard` removes the run's branches and copies. The Lua script is below; it uses the shared
`scripts/helpers.lua`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_nvim_plugin import nvim_env, run_lua

from tests.support.git import git, make_repo, write_files

LINES = "".join(f"line {n}\n" for n in range(1, 31))
# One agent at a time: copies made at once can race in `git worktree add` (reported to the engine's
# owner); each agent still works in a copy of its own.
SPEC = """---
isolation: worktree
max_parallel: 1
---
# Three agents, their own copies

## top
transcript: transcripts/top.jsonl
- edit the top of app.py

## bottom
transcript: transcripts/bottom.jsonl
- edit the bottom of app.py

## notes
transcript: transcripts/notes.jsonl
- write the notes
"""
TRANSCRIPTS = {
    "top": [{"action": "edit_file", "path": "app.py", "search": "line 2\n", "replace": "TOP\n"}],
    "bottom": [{"action": "edit_file", "path": "app.py", "search": "line 28\n", "replace": "BOTTOM\n"}],
    "notes": [{"action": "write_file", "path": "docs/notes.md", "content": "# Notes\nwritten by notes\n"}],
}

SCRIPT = r"""
local H = dofile(os.getenv('CP_HELPERS'))
require('counterpoint').setup({})
local state = require('counterpoint.state')
local repo = H.workspace

local bufnr = H.open_spec('iso.agents.md')
local rec = H.record()
vim.cmd('Counterpoint run')
H.wait(10000, function() return state.last_run_id ~= nil end, 'counterpoint.run answered a runId')
local run_id = state.last_run_id
H.wait(60000, function()
  return rec.find(function(e) return e.type == 'run_finished' and e.run_id == run_id end) ~= nil
end, 'run_finished')
assert(state.runs[run_id].state == 'succeeded', 'run ' .. state.runs[run_id].state)
assert(rec.by_type.agent_merged == 3, vim.inspect(rec.by_type))
local function read(path)
  local f = assert(io.open(path, 'r'))
  local text = f:read('*a')
  f:close()
  return text
end
assert(read(repo .. '/app.py'):find('line 2\n', 1, true), 'the working tree is untouched until apply')

--- Windows of the current tab in diff mode, with their buffers' text.
local function diff_windows()
  local found = {}
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    if vim.wo[win].diff then
      local buf = vim.api.nvim_win_get_buf(win)
      found[#found + 1] = { win = win, name = vim.api.nvim_buf_get_name(buf),
        text = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n') .. '\n' }
    end
  end
  return found
end

local function qf_title()
  return vim.fn.getqflist({ title = 1 }).title or ''
end

-- One agent: its one changed file in the quickfix list, and a diff of it.
local tabs = #vim.api.nvim_list_tabpages()
vim.cmd('Counterpoint diff top')
H.wait(10000, function() return qf_title():find('(top)', 1, true) ~= nil end, 'quickfix list of top')
local items = vim.fn.getqflist()
assert(#items == 1, vim.inspect(items))
assert(vim.api.nvim_buf_get_name(items[1].bufnr) == repo .. '/app.py', vim.api.nvim_buf_get_name(items[1].bufnr))
assert(items[1].text == '+1 −1 modified', items[1].text)
H.wait(10000, function() return #diff_windows() == 2 end, 'two windows in diff mode')
assert(#vim.api.nvim_list_tabpages() == tabs + 1, 'the diff opens in a tab of its own')
local wins = diff_windows()
local left, right = wins[1], wins[2]
H.log('diff: %s | %s', left.name, right.name)
assert(left.text == (os.getenv('CP_LINES')), 'left: the file where top started:\n' .. left.text)
assert(right.text:find('\nTOP\n', 1, true) and not right.text:find('line 2\n', 1, true), right.text)
assert(right.text:find('line 28\n', 1, true), 'the agent version has only its own change')
assert(vim.bo[vim.api.nvim_win_get_buf(right.win)].filetype == 'python', 'filetype from the path')
assert(not vim.bo[vim.api.nvim_win_get_buf(right.win)].modifiable, 'read-only scratch buffer')
assert(vim.api.nvim_get_current_win() == right.win, 'the cursor lands in the agent version')
vim.cmd('tabclose')

-- The whole run: every file it changed; in the quickfix window, the entry under the cursor.
vim.cmd('Counterpoint diff')
H.wait(10000, function() return qf_title():find('(the run)', 1, true) ~= nil end, 'quickfix list of the run')
items = vim.fn.getqflist()
local texts = {}
for _, item in ipairs(items) do
  texts[vim.fs.relpath(repo, vim.api.nvim_buf_get_name(item.bufnr))] = item.text
end
assert(vim.deep_equal(texts, { ['app.py'] = '+2 −2 modified', ['docs/notes.md'] = '+2 −0 added' }), vim.inspect(texts))
H.wait(10000, function() return #diff_windows() == 2 end, 'diff of the first file of the run')
vim.cmd('tabclose')
local notes_index
for i, item in ipairs(items) do
  if vim.api.nvim_buf_get_name(item.bufnr):find('notes.md', 1, true) then
    notes_index = i
  end
end
vim.cmd('copen')
vim.api.nvim_win_set_cursor(0, { notes_index, 0 })
vim.cmd('Counterpoint diff')
H.wait(10000, function()
  local w = diff_windows()
  return #w == 2 and w[2].text == '# Notes\nwritten by notes\n'
end, 'diff of the quickfix entry under the cursor')
assert(diff_windows()[1].text == '\n', 'an added file is empty at the base')
vim.cmd('tabclose')

-- Discard asks first: answering no sends nothing.
local asked
vim.fn.confirm = function(question)
  asked = question
  return 2
end
vim.cmd('Counterpoint discard')
assert(asked and asked:find(run_id, 1, true), 'discard asked: ' .. tostring(asked))

-- Apply: the run's changes in the working tree.
vim.cmd('Counterpoint apply')
H.wait(10000, function()
  return H.notifications[#H.notifications].msg:find('applied run', 1, true) ~= nil
end, 'apply answered')
local applied = read(repo .. '/app.py')
assert(applied:find('\nTOP\n', 1, true) and applied:find('\nBOTTOM\n', 1, true), applied)
assert(read(repo .. '/docs/notes.md') == '# Notes\nwritten by notes\n')
assert(H.notifications[#H.notifications].msg:find('2 files', 1, true), H.notifications[#H.notifications].msg)

vim.cmd('Counterpoint! discard')
H.wait(10000, function()
  return H.notifications[#H.notifications].msg:find('discarded run', 1, true) ~= nil
end, 'discard answered')
H.log('%s', H.notifications[#H.notifications].msg)
H.done()
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with app.py committed, the spec and its transcripts beside it."""
    repo = make_repo(tmp_path / "repo", {".gitignore": ".counterpoint/\n", "app.py": LINES})
    transcripts = {
        f"transcripts/{name}.jsonl": "".join(json.dumps(s) + "\n" for s in steps)
        for name, steps in TRANSCRIPTS.items()
    }
    write_files(repo, {**transcripts, "iso.agents.md": SPEC})
    return repo


def test_diff_apply_and_discard_an_isolated_run(nvim: Path, tmp_path: Path, repo: Path) -> None:
    script = tmp_path / "test_isolation.lua"
    script.write_text(SCRIPT)
    run_lua(nvim, script, cwd=repo, env=nvim_env(tmp_path, repo) | {"CP_LINES": LINES}, timeout=150)
    # Applied into the working tree only: the branch and its index are the user's to commit.
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert git(repo, "log", "--oneline").count("\n") == 1
    # Discarded: no branch or working copy of the run is left.
    assert "counterpoint/" not in git(repo, "branch", "--all")
    assert git(repo, "worktree", "list").count("\n") == 1
    with open("/proc/self/mountinfo") as mounts:
        assert not [line for line in mounts if str(repo) in line]
