-- `:Counterpoint plan <request>` with no spec open: the plugin starts the server for the project,
-- the director (a loopback model the test runs) plans, the server reports work-done progress
-- (LspProgress under counterpoint/plan/<id>), sends the plan's events (User CounterpointPlanEvent,
-- kept out of the run model), writes the spec and opens it (window/showDocument); the spec buffer
-- attaches to the same client, with no error diagnostics and the run lens. Nothing runs.
local H = dofile(vim.fs.dirname(arg[0]) .. '/helpers.lua')
require('counterpoint').setup({ settings = { logLevel = 'info' } })
local state = require('counterpoint.state')
local rec = H.record()
local plan_events = {}
vim.api.nvim_create_autocmd('User', {
  pattern = 'CounterpointPlanEvent',
  callback = function(ev)
    plan_events[#plan_events + 1] = ev.data
  end,
})
vim.cmd.cd(vim.fn.fnameescape(H.workspace))
assert(#vim.lsp.get_clients({ name = 'counterpoint' }) == 0, 'no client before planning')

-- Without a request: an error, nothing sent.
vim.cmd('Counterpoint plan')
H.wait(2000, function()
  for _, n in ipairs(H.notifications) do
    if n.msg:find('say what to build', 1, true) then
      return true
    end
  end
end, 'an empty request is refused')

vim.cmd('Counterpoint plan Build a course enrollment feature')
local spec = H.workspace .. '/course-enrollment.agents.md'
H.wait(90000, function()
  return vim.api.nvim_buf_get_name(0) == spec
end, 'the planned spec opened (window/showDocument)')
H.wait(10000, function()
  for _, n in ipairs(H.notifications) do
    if n.msg:find('passes counterpoint check', 1, true) and n.msg:find('predicted speed-up', 1, true) then
      return true
    end
  end
end, 'the result notified with the predicted speed-up')

-- Its events: started, two drafts (the first with the planted findings), finished; no run made of them.
local kinds = {}
for _, e in ipairs(plan_events) do
  kinds[#kinds + 1] = e.type
end
H.log('plan events: %s', table.concat(kinds, ', '))
local finished
for _, e in ipairs(plan_events) do
  if e.type == 'plan_finished' then
    finished = e
  end
end
assert(finished and finished.action == 'ready', vim.inspect(finished))
assert(finished.metadata.rounds == 2, vim.inspect(finished.metadata))
assert(vim.tbl_count(state.runs) == 0, 'a plan is no run: ' .. vim.inspect(vim.tbl_keys(state.runs)))

-- Progress like a run's, under the plan's token, begun and ended.
local token = 'counterpoint/plan/' .. finished.run_id
local seen = {}
for _, p in ipairs(rec.progress) do
  if tostring(p.token) == token then
    seen[#seen + 1] = p.kind
  end
end
H.log('progress of %s: %s', token, table.concat(seen, ' '))
assert(seen[1] == 'begin' and seen[#seen] == 'end' and vim.tbl_contains(seen, 'report'), vim.inspect(seen))

-- The spec buffer is served by the one client started for the project: no errors, the run lens.
local bufnr = vim.api.nvim_get_current_buf()
local client
H.wait(20000, function()
  client = vim.lsp.get_clients({ name = 'counterpoint', bufnr = bufnr })[1]
  return client ~= nil
end, 'the spec buffer attached')
assert(#vim.lsp.get_clients({ name = 'counterpoint' }) == 1, 'one client for the project')
local lenses = client:request_sync('textDocument/codeLens', { textDocument = { uri = vim.uri_from_bufnr(bufnr) } }, 10000, bufnr)
assert(lenses and lenses.result, vim.inspect(lenses))
local titles = {}
for _, lens in ipairs(lenses.result) do
  titles[#titles + 1] = lens.command and lens.command.title or ''
end
H.log('lenses: %s', table.concat(titles, ' | '))
assert(titles[1] and titles[1]:find('Run all 5 agents', 1, true), vim.inspect(titles))
H.wait(5000, function()
  return #vim.diagnostic.get(bufnr, { severity = vim.diagnostic.severity.ERROR }) == 0
end, 'no error diagnostics on the planned spec')

H.done()
