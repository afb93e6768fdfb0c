-- The integration diagnostic: during a run of the example, its `tests` check
-- finds the page calling a mutation the backend never defined, and the server
-- publishes it as a diagnostic on a workspace file (source counterpoint/<check>);
-- once the integrator fixed it and the check ran again, the diagnostic clears.
-- Waits up to 60 s for it.
local H = dofile(vim.fs.dirname(arg[0]) .. '/helpers.lua')
require('counterpoint').setup({})
local state = require('counterpoint.state')

H.open_spec(H.example_spec())
local rec = H.record()
local seen = {}
vim.api.nvim_create_autocmd('DiagnosticChanged', {
  callback = function(ev)
    for _, d in ipairs(ev.data.diagnostics or {}) do
      if type(d.source) == 'string' and d.source:match('^counterpoint/') then
        seen[#seen + 1] = { file = vim.api.nvim_buf_get_name(ev.buf), d = d }
      end
    end
  end,
})

vim.cmd('Counterpoint run')
H.wait(10000, function()
  return state.last_run_id ~= nil
end, 'run started')
H.wait(60000, function()
  return #seen > 0
end, 'a diagnostic from an integration check')
local first = seen[1]
H.log('integration diagnostic: %s:%d: [%s] %s', first.file, first.d.lnum + 1, first.d.source, first.d.message)
assert(first.file:find(H.workspace, 1, true), 'diagnostic outside the workspace: ' .. first.file)
H.wait(60000, function()
  return rec.find(function(e)
    return e.type == 'run_finished' and e.run_id == state.last_run_id
  end) ~= nil
end, 'run finished')

-- The integrator fixed it and the check ran again: the finding's diagnostic is gone.
local function check_diagnostics()
  local n = 0
  for _, d in ipairs(vim.diagnostic.get()) do
    if type(d.source) == 'string' and d.source:match('^counterpoint/') then
      n = n + 1
    end
  end
  return n
end
H.wait(30000, function()
  return check_diagnostics() == 0
end, 'the integration diagnostic cleared after the fix')
H.done()
