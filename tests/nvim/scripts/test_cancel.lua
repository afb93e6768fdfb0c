-- Cancel: `:Counterpoint cancel <agent>` cancels that agent's progress
-- (window/workDoneProgress/cancel) and the agent really stops; `:Counterpoint
-- cancel` cancels the run (counterpoint.cancel); cancelling the run's progress
-- token cancels the run too. Every progress ends.
local H = dofile(vim.fs.dirname(arg[0]) .. '/helpers.lua')
require('counterpoint').setup({})
local state = require('counterpoint.state')
local progress = require('counterpoint.progress')

vim.fn.writefile({
  '---',
  'feature: Slow agents',
  '---',
  '# Slow agents',
  '',
  '## slow',
  'runner: command',
  'command: sleep 30',
  '- waits',
  '',
  '## slower',
  'runner: command',
  'command: sleep 31',
  '- waits longer',
}, H.workspace .. '/slow.agents.md')
H.open_spec('slow.agents.md')
local rec = H.record()

local function start_run()
  local before = state.last_run_id
  vim.cmd('Counterpoint run')
  H.wait(10000, function()
    return state.last_run_id ~= nil and state.last_run_id ~= before
  end, 'a new run started')
  local run_id = state.last_run_id
  H.wait(15000, function()
    local run = state.runs[run_id]
    return run.agents.slow and run.agents.slow.state == 'running' and run.agents.slower and run.agents.slower.state == 'running'
  end, 'both agents running')
  H.wait(5000, function()
    return #progress.tokens_for('slow') == 1 and #progress.tokens_for('slower') == 1
  end, 'a progress token per agent')
  return run_id
end

local function finished(run_id)
  return rec.find(function(e)
    return e.type == 'run_finished' and e.run_id == run_id
  end)
end

-- 1. Cancel one agent through its progress token.
local t0 = vim.uv.hrtime()
local run_id = start_run()
vim.cmd('Counterpoint cancel slow')
H.wait(10000, function()
  return state.runs[run_id].agents.slow.state == 'cancelled'
end, 'agent slow cancelled through its progress')
assert(state.runs[run_id].agents.slower.state == 'running', 'slower should still run')

-- 2. Cancel the run with :Counterpoint cancel (counterpoint.cancel).
vim.cmd('Counterpoint cancel')
H.wait(10000, function()
  return finished(run_id) ~= nil
end, 'run finished after :Counterpoint cancel')
assert(finished(run_id).action == 'cancelled', 'run ended ' .. tostring(finished(run_id).action))
assert(state.runs[run_id].agents.slower.state == 'cancelled')
H.wait(5000, rec.all_ended, 'every progress ended after cancel')

-- 3. Cancel the run through the run's progress token.
local run2 = start_run()
assert(progress.cancel('counterpoint/run/' .. run2) == 1, 'no live progress for run ' .. run2 .. ': ' .. vim.inspect(vim.tbl_keys(progress.live)))
H.wait(10000, function()
  return finished(run2) ~= nil
end, 'run finished after cancelling its progress')
assert(finished(run2).action == 'cancelled', 'run ended ' .. tostring(finished(run2).action))
H.wait(5000, rec.all_ended, 'every progress ended')
local elapsed = (vim.uv.hrtime() - t0) / 1e9
assert(elapsed < 25, 'cancels took ' .. elapsed .. ' s: the sleeps were not killed')

H.done()
