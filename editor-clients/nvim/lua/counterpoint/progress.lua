-- Work-done progress from the server: remembered per token (for cancelling),
-- and shown in the command line when no progress plugin is installed
-- (fidget.nvim, noice.nvim, lsp-progress.nvim show `LspProgress` themselves).
local M = {}

---@class counterpoint.Progress
---@field token string|integer
---@field client_id integer
---@field title? string
---@field message? string
---@field percentage? integer
---@field cancellable? boolean

---@type table<string, counterpoint.Progress>
M.live = {}
--- The last line the built-in display showed.
---@type string?
M.last_line = nil
--- Counts of kinds seen, per token title ("begin", "report", "end"): used by tests and :checkhealth.
M.seen = { begin = 0, report = 0, ['end'] = 0 }

local PLUGINS = { 'fidget', 'noice', 'lsp-progress' }

---@return boolean
function M.has_progress_plugin()
  for _, name in ipairs(PLUGINS) do
    if package.loaded[name] then
      return true
    end
  end
  return false
end

---@return boolean
local function echo_enabled()
  local mode = require('counterpoint').options.progress
  if mode == 'echo' then
    return true
  end
  return mode == 'auto' and not M.has_progress_plugin()
end

---@param p counterpoint.Progress
---@return string
local function line_of(p)
  local text = p.title or tostring(p.token)
  if p.message and p.message ~= '' then
    text = text .. ': ' .. p.message
  end
  if p.percentage then
    text = string.format('%s (%d%%)', text, p.percentage)
  end
  return text
end

local last_echo = 0
---@param text string
---@param force? boolean
local function echo(text, force)
  local now = vim.uv.now()
  if not force and now - last_echo < 100 then
    return
  end
  last_echo = now
  text = text:gsub('\n', ' ')
  -- Stay within one command line: a longer message asks "Press ENTER".
  local prefix = '[counterpoint] '
  local width = math.max((vim.v.echospace > 0 and vim.v.echospace or vim.o.columns - 12) - #prefix, 10)
  if vim.fn.strdisplaywidth(text) > width then
    text = vim.fn.strcharpart(text, 0, width - 1) .. '…'
    while vim.fn.strdisplaywidth(text) > width do
      text = vim.fn.strcharpart(text, 0, vim.fn.strchars(text) - 2) .. '…'
    end
  end
  M.last_line = text
  -- Without a UI (headless) messages go to stdout and can block on a prompt.
  if #vim.api.nvim_list_uis() > 0 then
    vim.api.nvim_echo({ { prefix, 'Title' }, { text } }, false, {})
  end
end

--- `LspProgress` autocmd callback (pattern: begin/report/end).
---@param ev {data: {client_id: integer, params: {token: string|integer, value: table}}}
function M.on_progress(ev)
  local data = ev.data or {}
  local client = vim.lsp.get_client_by_id(data.client_id or -1)
  if not client or client.name ~= require('counterpoint').name then
    return
  end
  local params = data.params or {}
  local value = params.value or {}
  if type(value) ~= 'table' or not value.kind then
    return
  end
  local key = tostring(params.token)
  M.seen[value.kind] = (M.seen[value.kind] or 0) + 1
  local p = M.live[key]
  if value.kind == 'begin' then
    p = { token = params.token, client_id = client.id, title = value.title, cancellable = value.cancellable }
    M.live[key] = p
  elseif not p then
    p = { token = params.token, client_id = client.id }
    M.live[key] = p
  end
  if value.message then
    p.message = value.message
  end
  if value.percentage then
    p.percentage = value.percentage
  end
  if value.kind == 'end' then
    M.live[key] = nil
  end
  if echo_enabled() then
    if value.kind == 'end' then
      echo(line_of(p) .. ' done', true)
    else
      echo(line_of(p), value.kind == 'begin')
    end
  end
  vim.cmd.redrawstatus({ bang = true, mods = { silent = true, emsg_silent = true } })
end

--- Tokens of live progress whose title, message or token names `agent`.
---@param agent string
---@return (string|integer)[]
function M.tokens_for(agent)
  local tokens = {}
  local pattern = '%f[%w_%-]' .. vim.pesc(agent) .. '%f[^%w_%-]'
  for _, p in pairs(M.live) do
    if
      (p.title and p.title:find(pattern))
      or tostring(p.token):find(pattern)
    then
      tokens[#tokens + 1] = p.token
    end
  end
  return tokens
end

--- Ask the server to cancel a progress (`window/workDoneProgress/cancel`):
--- it cancels that agent or run for real. Without a token: every live one.
---@param token? string|integer
---@return integer number of cancels sent
function M.cancel(token)
  local sent = 0
  for key, p in pairs(M.live) do
    if token == nil or key == tostring(token) then
      local client = vim.lsp.get_client_by_id(p.client_id)
      if client then
        client:notify('window/workDoneProgress/cancel', { token = p.token })
        sent = sent + 1
      end
    end
  end
  return sent
end

--- Latest live progress line (for the statusline), or nil.
---@return string?
function M.summary()
  for _, p in pairs(M.live) do
    return line_of(p)
  end
  return nil
end

return M
