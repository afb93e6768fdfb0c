-- Reviewing runs with isolated agents (`isolation: worktree`), which change nothing of the user's
-- until applied:
--   :Counterpoint diff [agent]  the changed files into the quickfix list ("+N −M status") and a diff
--                               split of the first (or, in that quickfix window, of the entry under
--                               the cursor): the file where the agent started (or the run's base)
--                               against its version, both read with counterpoint.showFile
--   :Counterpoint apply [run]   the run's changes into the working tree (counterpoint.apply)
--   :Counterpoint[!] discard [run]  after a confirmation (none with !), counterpoint.discard
-- The results are annotated in payloads.lua (counterpoint.DiffResult...), generated from the protocol.
local M = {}

local function cp()
  return require('counterpoint')
end

--- The run a command is about: the given id, else the last run.
---@param run_id? string
---@return string?
local function run_of(run_id)
  if run_id and run_id ~= '' then
    return run_id
  end
  local run = require('counterpoint.state').last_run()
  if not run then
    cp().notify('no run yet in this session: name one, e.g. :Counterpoint diff backend', vim.log.levels.ERROR)
    return nil
  end
  return run.id
end

--- "+12 −3 modified" (or "binary modified").
---@param change counterpoint.FileChange
---@return string
function M.entry_text(change)
  local counts = change.binary and 'binary' or string.format('+%d −%d', change.added or 0, change.removed or 0)
  local text = counts .. ' ' .. (change.status or 'changed')
  if change.old_path and change.old_path ~= vim.NIL then
    text = text .. ' from ' .. change.old_path
  end
  return text
end

--- Quickfix items of a diff: the file in the working tree (where it lands on apply), line 1.
---@param diff counterpoint.DiffResult
---@return table[]
function M.qf_items(diff)
  local items = {}
  for _, change in ipairs(diff.files or {}) do
    local file = (type(change.abs_path) == 'string' and change.abs_path) or change.path
    items[#items + 1] = { filename = file, lnum = 1, col = 1, text = M.entry_text(change), user_data = change }
  end
  return items
end

--- A scratch buffer holding a file's text at a commit (wiped when hidden).
---@param name string
---@param text string
---@param path string for the filetype
---@return integer bufnr
local function scratch(name, text, path)
  for _, old in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_get_name(old) == name then
      vim.api.nvim_buf_delete(old, { force = true })
    end
  end
  local bufnr = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(bufnr, name)
  local lines = vim.split(text, '\n', { plain = true })
  if lines[#lines] == '' then
    table.remove(lines)
  end
  vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, lines)
  vim.bo[bufnr].bufhidden = 'wipe'
  vim.bo[bufnr].modifiable = false
  vim.bo[bufnr].modified = false
  local ft = vim.filetype.match({ filename = path, buf = bufnr })
  if ft then
    vim.bo[bufnr].filetype = ft
  end
  return bufnr
end

--- A file's text at a commit, read with counterpoint.showFile; `done(text)` (nil when it failed).
---@param run_id string
---@param commit string
---@param path string
---@param done fun(text?: string)
local function show_file(run_id, commit, path, done)
  local sent = cp().exec('show_file', { runId = run_id, commit = commit, path = path }, function(result)
    ---@cast result counterpoint.ShowFileResult
    if type(result) ~= 'table' then
      return done(nil)
    end
    if result.binary then
      return done('(' .. path .. ' is a binary file at ' .. commit:sub(1, 12) .. ')')
    end
    done(type(result.text) == 'string' and result.text or '')
  end)
  if not sent then
    done(nil)
  end
end

--- Open a diff of one changed file in a new tab: left the file at `diff.base` (its old path when
--- renamed), right at `diff.head`; `diffthis` in both.
---@param diff counterpoint.DiffResult
---@param change counterpoint.FileChange
---@param on_open? fun(left: integer, right: integer)
function M.open_change(diff, change, on_open)
  local old_path = (type(change.old_path) == 'string' and change.old_path) or change.path
  local texts = {}
  local function both()
    if texts.left == nil or texts.right == nil then
      return
    end
    if texts.left == false or texts.right == false then
      cp().notify('could not read ' .. change.path .. ' of run ' .. diff.runId, vim.log.levels.ERROR)
      return
    end
    local who = (type(diff.agent) == 'string' and diff.agent) or 'run'
    local prefix = 'counterpoint://' .. diff.runId .. '/'
    local left = scratch(prefix .. diff.base:sub(1, 12) .. '/' .. old_path, texts.left, old_path)
    local right = scratch(prefix .. who .. '@' .. diff.head:sub(1, 12) .. '/' .. change.path, texts.right, change.path)
    vim.cmd('tab split')
    vim.api.nvim_win_set_buf(0, right)
    vim.cmd('diffthis')
    vim.cmd('leftabove vsplit')
    vim.api.nvim_win_set_buf(0, left)
    vim.cmd('diffthis')
    vim.cmd('wincmd l')
    if on_open then
      on_open(left, right)
    end
  end
  show_file(diff.runId, diff.base, old_path, function(text)
    texts.left = text or false
    both()
  end)
  show_file(diff.runId, diff.head, change.path, function(text)
    texts.right = text or false
    both()
  end)
end

--- In a quickfix window showing a Counterpoint diff: the diff and the change under the cursor.
---@return counterpoint.DiffResult?, counterpoint.FileChange?
local function entry_under_cursor()
  if vim.bo.buftype ~= 'quickfix' then
    return nil, nil
  end
  local info = vim.fn.getqflist({ context = 1, idx = 0, items = 1 })
  local context = type(info.context) == 'table' and info.context or {}
  local diff = context.counterpoint_diff
  if type(diff) ~= 'table' then
    return nil, nil
  end
  local files = diff.files or {}
  return diff, files[vim.fn.line('.')]
end

--- `:Counterpoint diff [agent]`.
---@param agent? string
---@param on_open? fun(left: integer, right: integer) called once the diff split is open (for tests)
function M.diff(agent, on_open)
  local here_diff, here_change = entry_under_cursor()
  if here_diff and here_change and (agent == nil or agent == '') then
    vim.cmd('wincmd p')
    return M.open_change(here_diff, here_change, on_open)
  end
  local run_id = run_of(nil)
  if not run_id then
    return
  end
  local args = { runId = run_id }
  if agent and agent ~= '' then
    args.agent = agent
  end
  cp().exec('diff', args, function(result)
    ---@cast result counterpoint.DiffResult
    if type(result) ~= 'table' or type(result.base) ~= 'string' then
      cp().notify('diff of run ' .. run_id .. ': no result', vim.log.levels.ERROR)
      return
    end
    local who = (agent and agent ~= '') and agent or 'the run'
    local files = result.files or {}
    vim.fn.setqflist({}, ' ', {
      title = string.format('Counterpoint diff %s (%s): %d files', run_id, who, #files),
      items = M.qf_items(result),
      context = { counterpoint_diff = result },
    })
    if #files == 0 then
      cp().notify(string.format('%s changed no file (run %s)', who, run_id))
      return
    end
    local plural = #files == 1 and '' or 's'
    if agent and agent ~= '' then
      cp().notify(string.format('%s changed %d file%s in run %s (quickfix list)', agent, #files, plural, run_id))
    else
      cp().notify(string.format('run %s changed %d file%s (quickfix list)', run_id, #files, plural))
    end
    M.open_change(result, files[1], on_open)
  end)
end

--- `:Counterpoint apply [run]`.
---@param run_id? string
---@param on_done? fun(result: counterpoint.ApplyResult)
function M.apply(run_id, on_done)
  run_id = run_of(run_id)
  if not run_id then
    return
  end
  cp().exec('apply', { runId = run_id }, function(result)
    ---@cast result counterpoint.ApplyResult
    local n = type(result) == 'table' and #(result.files or {}) or 0
    vim.cmd('silent! checktime') -- buffers of the files it changed are read again
    cp().notify(string.format('applied run %s: %d file%s changed in your working tree', run_id, n, n == 1 and '' or 's'))
    if on_done then
      on_done(result)
    end
  end)
end

--- `:Counterpoint[!] discard [run]`: asks first, unless `force`.
---@param run_id? string
---@param force? boolean
---@param on_done? fun(result: counterpoint.DiscardResult)
function M.discard(run_id, force, on_done)
  run_id = run_of(run_id)
  if not run_id then
    return
  end
  if not force then
    local question = 'Discard run ' .. run_id .. '? Its branches and working copies are deleted (your branch and tree are not touched).'
    if vim.fn.confirm(question, '&Discard\n&Cancel', 2, 'Warning') ~= 1 then
      return
    end
  end
  cp().exec('discard', { runId = run_id }, function(result)
    ---@cast result counterpoint.DiscardResult
    local refs = type(result) == 'table' and #(result.refs or {}) or 0
    local copies = type(result) == 'table' and #(result.working_copies or {}) or 0
    cp().notify(string.format('discarded run %s (%d branches, %d working copies removed)', run_id, refs, copies))
    if on_done then
      on_done(result)
    end
  end)
end

--- Run ids known in this session, newest last (for completion).
---@return string[]
function M.run_ids()
  local ids = vim.tbl_keys(require('counterpoint.state').runs)
  table.sort(ids)
  return ids
end

return M
