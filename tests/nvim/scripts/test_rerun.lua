-- `:Counterpoint rerun` reruns the failed agent of the last run
-- (counterpoint.rerun) as a new run; the failure reached the user as a
-- notification, and the status view shows the new run.
local H = dofile(vim.fs.dirname(arg[0]) .. '/helpers.lua')
require('counterpoint').setup({})
local state = require('counterpoint.state')

vim.fn.writefile({
  '---',
  'feature: Flaky',
  '---',
  '# Flaky',
  '',
  '## ok',
  'runner: command',
  'command: echo fine',
  '- succeeds',
  '',
  '## flaky',
  'runner: command',
  "command: echo trying; test -f .counterpoint/flaky-ok || { touch .counterpoint/flaky-ok; exit 3; }",
  '- fails the first time',
}, H.workspace .. '/flaky.agents.md')
H.open_spec('flaky.agents.md')
local rec = H.record()

local function finished(run_id)
  return rec.find(function(e)
    return e.type == 'run_finished' and e.run_id == run_id
  end)
end

vim.cmd('Counterpoint run')
H.wait(10000, function()
  return state.last_run_id ~= nil
end, 'run started')
local first = state.last_run_id
H.wait(20000, function()
  return finished(first) ~= nil
end, 'first run finished')
assert(state.runs[first].agents.flaky.state == 'failed', vim.inspect(state.runs[first].agents))
assert(state.first_failed(first) == 'flaky')
H.wait(5000, function()
  for _, n in ipairs(H.notifications) do
    if n.msg:find('flaky') and n.level == vim.log.levels.ERROR then
      return true
    end
  end
  return false
end, 'the failure was notified as an error')

vim.cmd('Counterpoint rerun')
-- A rerun continues the same run (its report covers the whole run): flaky runs again and succeeds.
H.wait(20000, function()
  local last = H.notifications[#H.notifications]
  if last and last.msg:find('rerun failed') then
    error('the server refused the rerun: ' .. last.msg)
  end
  local run = state.runs[state.last_run_id]
  return run ~= nil and run.agents.flaky.state == 'succeeded' and run.state == 'succeeded'
end, 'the rerun succeeded')
local second = state.last_run_id
assert(second == first, 'a rerun continues its run: ' .. tostring(second))

vim.cmd('Counterpoint status')
local ui = require('counterpoint.ui')
H.wait(5000, function()
  local text = table.concat(vim.api.nvim_buf_get_lines(ui.views.status.bufnr, 0, -1, false), '\n')
  return text:find(second, 1, true) and text:find('succeeded%s+flaky')
end, 'status view shows the rerun')
H.done()
