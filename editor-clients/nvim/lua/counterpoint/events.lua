-- The `counterpoint/event` notification: fold each event into the run model,
-- announce it as `User CounterpointEvent` (data = the event), and refresh the
-- open views and the code lenses shortly after (debounced).
local state = require('counterpoint.state')

local M = {}

-- Events after which code lenses and inlay hints change (states, run end).
local REFRESHING = {
  run_started = true,
  run_finished = true,
  agent_started = true,
  agent_finished = true,
  agent_waiting = true,
  agent_gated = true,
}

local timers = {}

--- Call `fn` once, `ms` after the last call with the same key.
---@param key string
---@param ms integer
---@param fn fun()
function M.debounce(key, ms, fn)
  local timer = timers[key]
  if not timer then
    timer = assert(vim.uv.new_timer())
    timers[key] = timer
  end
  timer:stop()
  timer:start(ms, 0, vim.schedule_wrap(fn))
end

local function refresh_lenses()
  local cp = require('counterpoint')
  for _, client in ipairs(vim.lsp.get_clients({ name = cp.name })) do
    for bufnr in pairs(client.attached_buffers) do
      if vim.api.nvim_buf_is_loaded(bufnr) then
        if cp.options.codelens and client:supports_method('textDocument/codeLens', bufnr) then
          vim.lsp.codelens.refresh({ bufnr = bufnr })
        end
      end
    end
  end
end
M.refresh_lenses = refresh_lenses

---@param event counterpoint.Event one event (types generated into payloads.lua from the protocol)
---@param _ctx? table
function M.on_event(event, _ctx)
  -- A plan's events (plan_started, the director's tool calls...) are no run's: announced, not folded.
  local prefix = require('counterpoint.protocol').plan_id_prefix
  if type(event) == 'table' and type(event.run_id) == 'string' and prefix and vim.startswith(event.run_id, prefix) then
    vim.api.nvim_exec_autocmds('User', { pattern = 'CounterpointPlanEvent', modeline = false, data = event })
    return
  end
  local run = state.apply(event)
  if not run then
    return
  end
  vim.api.nvim_exec_autocmds('User', { pattern = 'CounterpointEvent', modeline = false, data = event })
  require('counterpoint.ui').on_event(event)
  if REFRESHING[event.type] then
    M.debounce('codelens', 300, refresh_lenses)
  end
  if event.type == 'run_finished' then
    vim.api.nvim_exec_autocmds('User', { pattern = 'CounterpointRunFinished', modeline = false, data = event })
  end
end

return M
