-- A run from `:Counterpoint run`: the server's work-done progress arrives as
-- LspProgress (begin ... end for the run and every agent), every event as a
-- `counterpoint/event` notification; the status and events views fill up, the
-- code lenses refresh, and `:Counterpoint report` opens the report.
local H = dofile(vim.fs.dirname(arg[0]) .. '/helpers.lua')
require('counterpoint').setup({ settings = { maxParallel = 4, logLevel = 'info' } })
local state = require('counterpoint.state')

local bufnr, client = H.open_spec(H.example_spec())
-- The settings reach the server both ways: initializationOptions and workspace/configuration.
assert(client.config.init_options.maxParallel == 4, vim.inspect(client.config.init_options))
assert(client.settings.counterpoint.maxParallel == 4, vim.inspect(client.settings))
local rec = H.record()
local agents = require('counterpoint.spec').agent_names(bufnr)
assert(#agents >= 2, 'the example has agents: ' .. vim.inspect(agents))

vim.cmd('Counterpoint run')
H.wait(10000, function()
  return state.last_run_id ~= nil
end, 'counterpoint.run answered a runId')
local run_id = state.last_run_id
H.log('run %s', run_id)

H.wait(10000, function()
  return rec.count('begin') >= 1
end, 'LspProgress begin')
vim.cmd('Counterpoint status')
H.wait(60000, function()
  return rec.find(function(e)
    return e.type == 'run_finished' and e.run_id == run_id
  end) ~= nil
end, 'run_finished event')
H.wait(5000, function()
  return rec.all_ended()
end, 'every progress that began has ended')

local run = state.runs[run_id]
H.log('progress: %d begin, %d report, %d end; events: %s', rec.count('begin'), rec.count('report'), rec.count('end'), vim.inspect(rec.by_type))
assert(run.state == 'succeeded', 'run state ' .. run.state)
-- Without a progress plugin the built-in display showed the progress.
local shown = require('counterpoint.progress').last_line
assert(shown and (shown:find('done') or shown:find('succeeded')), 'built-in progress display: ' .. tostring(shown))
assert(rec.count('begin') >= 1 + #agents, 'a progress for the run and one per agent')
assert(rec.count('end') == rec.count('begin'))
assert(rec.by_type.run_started == 1 and rec.by_type.agent_started >= #agents, vim.inspect(rec.by_type))
for _, name in ipairs(agents) do
  assert(run.agents[name] and run.agents[name].state == 'succeeded', name .. ': ' .. vim.inspect(run.agents[name]))
end
assert(vim.tbl_count(run.signals) >= 1, 'signals fired: ' .. vim.inspect(run.signals))

-- The status view (float) shows every agent, refreshed live.
local ui = require('counterpoint.ui')
assert(ui.is_visible('status'), 'status window not visible')
H.wait(3000, function()
  local text = table.concat(vim.api.nvim_buf_get_lines(ui.views.status.bufnr, 0, -1, false), '\n')
  return text:find('%[succeeded%]') ~= nil
end, 'status view shows the finished run')
local status_text = table.concat(vim.api.nvim_buf_get_lines(ui.views.status.bufnr, 0, -1, false), '\n')
for _, name in ipairs(agents) do
  assert(status_text:find(name, 1, true), name .. ' missing from status view:\n' .. status_text)
end
H.log('status view:\n%s', status_text)

-- counterpoint.status from the server agrees.
local status
require('counterpoint').exec('status', nil, function(result)
  status = result
end)
H.wait(5000, function()
  return status ~= nil
end, 'counterpoint.status answered')
local found
for _, r in ipairs(status.runs) do
  if r.runId == run_id then
    found = r
  end
end
assert(found and #found.agents == #agents, vim.inspect(status))

-- The events view lists the run's events (loaded with counterpoint.events).
ui.close('status')
vim.cmd('Counterpoint events')
H.wait(5000, function()
  local lines = vim.api.nvim_buf_get_lines(ui.views.events.bufnr, 0, -1, false)
  return #lines >= #run.events and table.concat(lines, '\n'):find('run_finished') ~= nil
end, 'events view lists the run')
vim.cmd('Counterpoint events agent_finished')
H.wait(5000, function()
  local lines = vim.api.nvim_buf_get_lines(ui.views.events.bufnr, 0, -1, false)
  return #lines == #agents
end, 'events view filtered by type')
ui.close('events')

-- Code lenses were refreshed after the run.
H.wait(5000, function()
  return #vim.lsp.codelens.get(bufnr) >= 1
end, 'code lenses after the run')

-- The report opens in a split.
vim.cmd('Counterpoint report')
H.wait(10000, function()
  return vim.api.nvim_buf_get_name(0):match('%.md$') and vim.api.nvim_buf_get_name(0) ~= vim.api.nvim_buf_get_name(bufnr)
end, 'report opened')
H.log('report: %s', vim.api.nvim_buf_get_name(0))
assert(#vim.api.nvim_buf_get_lines(0, 0, -1, false) > 3, 'report is empty')

H.done()
