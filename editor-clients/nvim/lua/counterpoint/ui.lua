-- The status and events views: scratch buffers (`counterpoint://status`,
-- `counterpoint://events`) shown in a floating window or a split, redrawn
-- live from `counterpoint/event` notifications.
local state = require('counterpoint.state')

local M = {}

local ns = vim.api.nvim_create_namespace('counterpoint.ui')

local STATE_HL = {
  succeeded = 'CounterpointSucceeded',
  failed = 'CounterpointFailed',
  timed_out = 'CounterpointFailed',
  running = 'CounterpointRunning',
  waiting = 'CounterpointWaiting',
  queued = 'CounterpointWaiting',
  gated = 'CounterpointWaiting',
  cancelled = 'CounterpointMuted',
  blocked = 'CounterpointMuted',
  skipped = 'CounterpointMuted',
  pending = 'CounterpointMuted',
}

function M.define_highlights()
  local links = {
    CounterpointSucceeded = 'DiagnosticOk',
    CounterpointFailed = 'DiagnosticError',
    CounterpointRunning = 'DiagnosticInfo',
    CounterpointWaiting = 'DiagnosticWarn',
    CounterpointMuted = 'Comment',
    CounterpointHeader = 'Title',
  }
  for group, target in pairs(links) do
    vim.api.nvim_set_hl(0, group, { link = target, default = true })
  end
end

---@type table<string, {bufnr: integer, winid?: integer, run_id?: string}>
M.views = {}

---@param ts? string ISO timestamp "2026-11-27T20:54:04.123Z"
---@return integer? seconds since the epoch (UTC)
local function epoch(ts)
  if type(ts) ~= 'string' then
    return nil
  end
  local y, mo, d, h, mi, s = ts:match('^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)')
  if not y then
    return nil
  end
  local t = { year = tonumber(y), month = tonumber(mo), day = tonumber(d), hour = tonumber(h), min = tonumber(mi), sec = tonumber(s) }
  local now_utc = os.time(os.date('!*t') --[[@as osdateparam]])
  return os.time() - (now_utc - os.time(t --[[@as osdateparam]]))
end

---@param agent counterpoint.Agent
---@return string
local function duration(agent)
  if agent.duration_s then
    return string.format('%.1fs', agent.duration_s)
  end
  local start = epoch(agent.started_at)
  if start and agent.state == 'running' then
    return string.format('%ds', math.max(os.time() - start, 0))
  end
  return ''
end

---@param ts? string
---@return string
local function clock(ts)
  return type(ts) == 'string' and (ts:match('T(%d+:%d+:%d+)') or ts) or ''
end

--- Lines (and highlights) of the status view for a run.
---@param run counterpoint.Run?
---@return string[] lines, table[] highlights {line, col, end_col, group}
function M.status_lines(run)
  local lines, hls = {}, {}
  if not run then
    return { 'No run yet. Start one with :Counterpoint run', '', 'q close' }, {}
  end
  local spec = run.spec and vim.fn.fnamemodify(run.spec, ':t') or ''
  lines[1] = string.format('Run %s  %s  [%s]', run.id, spec, run.state)
  hls[#hls + 1] = { 0, 0, #lines[1], 'CounterpointHeader' }
  lines[2] = ''
  local width = 8
  for _, name in ipairs(run.order) do
    width = math.max(width, vim.fn.strdisplaywidth(name))
  end
  for _, name in ipairs(run.order) do
    local agent = run.agents[name]
    local detail = ''
    if agent.waiting_on and #agent.waiting_on > 0 then
      detail = 'waiting on ' .. table.concat(agent.waiting_on, ', ')
    elseif agent.last_output and agent.last_output ~= '' then
      detail = '> ' .. agent.last_output:gsub('[\r\n]+', ' ')
    end
    local padded = name .. string.rep(' ', width - vim.fn.strdisplaywidth(name))
    local line = string.format('  %-10s %s  %7s  %s', agent.state, padded, duration(agent), detail)
    lines[#lines + 1] = line
    hls[#hls + 1] = { #lines - 1, 2, 2 + #agent.state, STATE_HL[agent.state] or 'CounterpointMuted' }
  end
  local signals = vim.tbl_keys(run.signals)
  if #signals > 0 then
    table.sort(signals, function(a, b)
      return (run.signals[a] or '') < (run.signals[b] or '')
    end)
    lines[#lines + 1] = ''
    lines[#lines + 1] = 'Signals'
    hls[#hls + 1] = { #lines - 1, 0, 7, 'CounterpointHeader' }
    for _, name in ipairs(signals) do
      lines[#lines + 1] = string.format('  %-24s fired %s', name, clock(run.signals[name]))
    end
  end
  lines[#lines + 1] = ''
  lines[#lines + 1] = 'q close  r refresh  e events  c cancel run  R rerun agent under cursor'
  hls[#hls + 1] = { #lines - 1, 0, #lines[#lines], 'CounterpointMuted' }
  return lines, hls
end

---@param event counterpoint.Event
---@return string
function M.event_line(event)
  local meta = ''
  if type(event.metadata) == 'table' and not vim.tbl_isempty(event.metadata) then
    meta = vim.json.encode(event.metadata)
    if #meta > 160 then
      meta = meta:sub(1, 157) .. '...'
    end
  end
  local line = string.format(
    '%s %-15s %-14s %s %s',
    clock(event.timestamp),
    tostring(event.type),
    tostring(event.actor ~= vim.NIL and event.actor or '-'),
    tostring(event.action ~= vim.NIL and event.action or ''),
    meta
  )
  return (line:gsub('[\r\n]+', ' '))
end

---@param kind string
---@return integer bufnr
local function view_buffer(kind)
  local view = M.views[kind]
  if view and vim.api.nvim_buf_is_valid(view.bufnr) then
    return view.bufnr
  end
  local bufnr = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(bufnr, 'counterpoint://' .. kind)
  vim.bo[bufnr].buftype = 'nofile'
  vim.bo[bufnr].bufhidden = 'hide'
  vim.bo[bufnr].swapfile = false
  vim.bo[bufnr].filetype = 'counterpoint-' .. kind
  local map = function(lhs, fn, desc)
    vim.keymap.set('n', lhs, fn, { buffer = bufnr, nowait = true, desc = desc })
  end
  map('q', function()
    M.close(kind)
  end, 'Close')
  if kind == 'status' then
    map('r', M.show_status, 'Refresh')
    map('e', function()
      M.show_events()
    end, 'Events')
    map('c', function()
      require('counterpoint').cancel()
    end, 'Cancel run')
    map('R', function()
      local name = vim.api.nvim_get_current_line():match('^  %S+%s+(%S+)')
      require('counterpoint').rerun(name)
    end, 'Rerun agent under cursor')
  end
  M.views[kind] = { bufnr = bufnr }
  return bufnr
end

---@param bufnr integer
---@param lines string[]
---@param hls? table[]
local function set_lines(bufnr, lines, hls)
  vim.bo[bufnr].modifiable = true
  vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, lines)
  vim.bo[bufnr].modifiable = false
  vim.api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  for _, h in ipairs(hls or {}) do
    pcall(vim.api.nvim_buf_set_extmark, bufnr, ns, h[1], h[2], { end_col = h[3], hl_group = h[4] })
  end
end

---@param kind string
---@param bufnr integer
---@param nlines integer
local function show(kind, bufnr, nlines)
  local view = M.views[kind]
  if view.winid and vim.api.nvim_win_is_valid(view.winid) then
    if vim.api.nvim_win_get_config(view.winid).relative ~= '' then
      local height = math.min(math.max(nlines, 3), math.floor(vim.o.lines * 0.6))
      vim.api.nvim_win_set_config(view.winid, { height = height })
    end
    return
  end
  local mode = require('counterpoint').options.view
  if mode == 'split' then
    vim.cmd('botright ' .. math.min(math.max(nlines, 5), 15) .. 'split')
    vim.api.nvim_win_set_buf(0, bufnr)
    view.winid = vim.api.nvim_get_current_win()
  else
    local width = math.min(math.max(math.floor(vim.o.columns * 0.8), 40), 110)
    local height = math.min(math.max(nlines, 3), math.floor(vim.o.lines * 0.6))
    view.winid = vim.api.nvim_open_win(bufnr, true, {
      relative = 'editor',
      width = width,
      height = height,
      row = math.floor((vim.o.lines - height) / 2) - 1,
      col = math.floor((vim.o.columns - width) / 2),
      style = 'minimal',
      border = 'rounded',
      title = ' Counterpoint ' .. kind .. ' ',
      title_pos = 'center',
    })
  end
  vim.wo[view.winid].wrap = false
  vim.wo[view.winid].cursorline = true
  vim.wo[view.winid].number = false
  vim.wo[view.winid].relativenumber = false
  vim.wo[view.winid].signcolumn = 'no'
  vim.wo[view.winid].foldcolumn = '0'
end

---@param kind string
function M.close(kind)
  local view = M.views[kind]
  if view and view.winid and vim.api.nvim_win_is_valid(view.winid) then
    vim.api.nvim_win_close(view.winid, true)
  end
  if view then
    view.winid = nil
  end
end

---@param kind string
---@return boolean
function M.is_visible(kind)
  local view = M.views[kind]
  return view ~= nil and view.winid ~= nil and vim.api.nvim_win_is_valid(view.winid)
end

local function render_status()
  local bufnr = view_buffer('status')
  local lines, hls = M.status_lines(state.last_run())
  set_lines(bufnr, lines, hls)
  return bufnr, #lines
end

--- Open (or refresh) the status view: asks the server for `counterpoint.status`.
function M.show_status()
  local bufnr, n = render_status()
  show('status', bufnr, n)
  require('counterpoint').exec('status', nil, function(result)
    ---@cast result counterpoint.StatusResult?
    for _, info in ipairs((result and result.runs) or {}) do
      state.apply_status(info)
    end
    local live = result and result.runs and result.runs[#result.runs]
    if live and live.runId and not state.last_run_id then
      state.last_run_id = live.runId
    end
    local b, count = render_status()
    if M.is_visible('status') then
      show('status', b, count)
    end
  end, { quiet = true })
end

--- Open the events view for a run (default: the last one), loading its
--- events with `counterpoint.events`, then appending live ones.
---@param run_id? string
---@param type_filter? string
function M.show_events(run_id, type_filter)
  local run = run_id and state.runs[run_id] or state.last_run()
  run_id = run_id or (run and run.id)
  local bufnr = view_buffer('events')
  M.views.events.run_id = run_id
  M.views.events.type = type_filter
  local function render(events)
    local lines = {}
    for _, e in ipairs(events) do
      if not type_filter or e.type == type_filter then
        lines[#lines + 1] = M.event_line(e)
      end
    end
    if #lines == 0 then
      lines = { run_id and ('No events yet for run ' .. run_id) or 'No run yet.' }
    end
    set_lines(bufnr, lines)
    return #lines
  end
  show('events', bufnr, render(run and run.events or {}))
  local args = {}
  if run_id then
    args.runId = run_id
  end
  if type_filter then
    args.type = type_filter
  end
  require('counterpoint').exec('events', args, function(result)
    local events = type(result) == 'table' and (result.events or result) or {}
    for _, e in ipairs(events) do
      state.apply(e)
    end
    local r = run_id and state.runs[run_id] or state.last_run()
    local n = render(r and r.events or events)
    if M.is_visible('events') then
      show('events', bufnr, n)
      pcall(vim.api.nvim_win_set_cursor, M.views.events.winid, { n, 0 })
    end
  end, { quiet = true })
end

--- Live update from one event.
---@param event counterpoint.Event
function M.on_event(event)
  local status = M.views.status
  if status and vim.api.nvim_buf_is_valid(status.bufnr) then
    require('counterpoint.events').debounce('status-view', 150, function()
      local _, n = render_status()
      if M.is_visible('status') then
        show('status', status.bufnr, n)
      end
    end)
  end
  local events = M.views.events
  if
    events
    and vim.api.nvim_buf_is_valid(events.bufnr)
    and (events.run_id == nil or events.run_id == event.run_id)
    and (events.type == nil or events.type == event.type)
  then
    events.run_id = events.run_id or event.run_id
    local bufnr = events.bufnr
    vim.bo[bufnr].modifiable = true
    local first = vim.api.nvim_buf_get_lines(bufnr, 0, 1, false)[1] or ''
    if first:match('^No ') then
      vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, { M.event_line(event) })
    else
      vim.api.nvim_buf_set_lines(bufnr, -1, -1, false, { M.event_line(event) })
    end
    vim.bo[bufnr].modifiable = false
    if M.is_visible('events') then
      local n = vim.api.nvim_buf_line_count(bufnr)
      pcall(vim.api.nvim_win_set_cursor, events.winid, { n, 0 })
    end
  end
end

return M
