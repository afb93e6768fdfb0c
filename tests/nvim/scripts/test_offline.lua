-- The plugin without a server: generated names, filetype, LSP config,
-- heading parsing and `:Counterpoint` completion.
local H = dofile(vim.fs.dirname(arg[0]) .. '/helpers.lua')

-- Command ids come from the generated module (a drift test runs gen_protocol.lua --check).
local protocol = require('counterpoint.protocol')
assert(protocol.commands.run == 'counterpoint.run', vim.inspect(protocol.commands))
assert(protocol.notifications.event == 'counterpoint/event')

-- lsp/counterpoint.lua is found on the runtimepath.
local config = vim.lsp.config.counterpoint
assert(config, 'vim.lsp.config.counterpoint is nil: lsp/counterpoint.lua not found')
assert(vim.deep_equal(config.cmd, { 'counterpoint', 'lsp' }), vim.inspect(config.cmd))
assert(vim.deep_equal(config.root_markers, { '.git', '.counterpoint' }))
assert(vim.list_contains(config.filetypes, 'markdown'))
assert(config.handlers['counterpoint/event'], 'no handler for counterpoint/event')

-- setup() overrides the command and passes settings both ways.
require('counterpoint').setup({ cmd = { 'my-counterpoint', 'lsp' }, settings = { maxParallel = 3, logLevel = 'debug' } })
config = vim.lsp.config.counterpoint
assert(vim.deep_equal(config.cmd, { 'my-counterpoint', 'lsp' }), vim.inspect(config.cmd))
assert(config.init_options.maxParallel == 3, vim.inspect(config.init_options))
assert(config.settings.counterpoint.logLevel == 'debug', vim.inspect(config.settings))
assert(vim.lsp.is_enabled('counterpoint'))
local ok, err = pcall(require('counterpoint').setup, { settings = { maxParallel = 0 } })
assert(not ok and tostring(err):find('maxParallel'), 'bad maxParallel accepted: ' .. tostring(err))
vim.lsp.enable('counterpoint', false)

-- Filetype detection and root_dir gating.
local dir = vim.fn.tempname()
vim.fn.mkdir(dir .. '/.counterpoint', 'p')
assert(vim.filetype.match({ filename = dir .. '/x.agents.md' }) == 'markdown')
local lines = {
  '---',
  'feature: demo',
  '## not-an-agent: front matter',
  '---',
  '# Title',
  '## schema',
  'emits: schema_ready',
  '```',
  '## inside-a-fence',
  '```',
  '## backend ##',
  'needs: schema_ready',
  '   ## frontend',
}
vim.fn.writefile(lines, dir .. '/demo.agents.md')
vim.cmd.edit(dir .. '/demo.agents.md')
local bufnr = vim.api.nvim_get_current_buf()
assert(vim.bo.filetype == 'markdown', vim.bo.filetype)
local spec = require('counterpoint.spec')
assert(spec.is_spec_buffer(bufnr))
local names = spec.agent_names(bufnr)
assert(vim.deep_equal(names, { 'schema', 'backend', 'frontend' }), vim.inspect(names))

local root
config.root_dir(bufnr, function(r)
  root = r
end)
assert(root == dir, 'root ' .. tostring(root) .. ' ~= ' .. dir)
vim.fn.writefile({ '# notes' }, dir .. '/notes.md')
vim.cmd.edit(dir .. '/notes.md')
local called = false
config.root_dir(vim.api.nvim_get_current_buf(), function()
  called = true
end)
assert(not called, 'root_dir answered for a plain Markdown file')

-- Completion of subcommands, agent names and event types.
vim.cmd.edit(dir .. '/demo.agents.md')
local subs = vim.fn.getcompletion('Counterpoint ', 'cmdline')
assert(vim.deep_equal(subs, { 'apply', 'attach', 'cancel', 'diff', 'discard', 'events', 'plan', 'report', 'rerun', 'run', 'status' }), vim.inspect(subs))
assert(vim.deep_equal(vim.fn.getcompletion('Counterpoint at', 'cmdline'), { 'attach' }))
assert(vim.deep_equal(vim.fn.getcompletion('Counterpoint attach ', 'cmdline'), { 'last' }))
assert(vim.deep_equal(vim.fn.getcompletion('Counterpoint re', 'cmdline'), { 'report', 'rerun' }))
assert(vim.deep_equal(vim.fn.getcompletion('Counterpoint run ', 'cmdline'), { 'schema', 'backend', 'frontend' }))
assert(vim.deep_equal(vim.fn.getcompletion('Counterpoint rerun b', 'cmdline'), { 'backend' }))
assert(vim.list_contains(vim.fn.getcompletion('Counterpoint events agent_', 'cmdline'), 'agent_started'))

-- The run model folds events; the status view renders it.
local state = require('counterpoint.state')
local events = {
  { id = 1, run_id = 'r1', type = 'run_started', metadata = { spec = dir .. '/demo.agents.md' }, timestamp = '2026-11-27T20:54:04.123Z' },
  { id = 2, run_id = 'r1', type = 'agent_waiting', actor = 'backend', metadata = { waiting_on = { 'schema_ready' } }, timestamp = '2026-11-27T20:54:04.200Z' },
  { id = 3, run_id = 'r1', type = 'agent_started', actor = 'schema', metadata = {}, timestamp = '2026-11-27T20:54:04.300Z' },
  { id = 4, run_id = 'r1', type = 'agent_output', actor = 'schema', metadata = { line = 'writing schema.sql' }, timestamp = '2026-11-27T20:54:05.000Z' },
  { id = 5, run_id = 'r1', type = 'signal', actor = 'schema', action = 'schema_ready', metadata = {}, timestamp = '2026-11-27T20:54:06.000Z' },
  { id = 6, run_id = 'r1', type = 'agent_finished', actor = 'schema', action = 'failed', metadata = { duration_s = 1.5 }, timestamp = '2026-11-27T20:54:06.000Z' },
}
for _, e in ipairs(events) do
  require('counterpoint.events').on_event(e)
end
require('counterpoint.events').on_event(events[6]) -- a duplicate is ignored
local run = state.runs.r1
assert(#run.events == 6, #run.events)
assert(run.agents.schema.state == 'failed' and run.agents.backend.waiting_on[1] == 'schema_ready')
assert(state.first_failed('r1') == 'schema')
assert(state.summary():find('1 failed'), state.summary())
local status_lines = require('counterpoint.ui').status_lines(run)
local text = table.concat(status_lines, '\n')
assert(text:find('waiting on schema_ready') and text:find('schema_ready%s+fired 20:54:06'), text)
assert(require('counterpoint').statusline():find('counterpoint'), 'statusline empty')

-- Without a server, commands say so instead of failing obscurely.
vim.cmd('Counterpoint status')
assert(H.notifications[#H.notifications].msg:find('not running'), vim.inspect(H.notifications))
vim.cmd('Counterpoint bogus')
assert(H.notifications[#H.notifications].msg:find('unknown subcommand bogus'))

H.done()
