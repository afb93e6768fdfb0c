-- Diagnostics on a broken spec: a `needs: nonexistent` line gets an error on
-- that line as you type, and it clears when the line goes. Code lenses and
-- document symbols come from the real server too.
local H = dofile(vim.fs.dirname(arg[0]) .. '/helpers.lua')
-- As a new user with no options would: only enable the config of lsp/counterpoint.lua.
vim.lsp.enable('counterpoint')

local bufnr, client = H.open_spec(H.example_spec())
H.log('server: %s', vim.inspect(client.server_info))
assert(client.server_capabilities.executeCommandProvider, 'no executeCommandProvider')
for _, id in pairs(require('counterpoint.protocol').commands) do
  assert(
    vim.list_contains(client.server_capabilities.executeCommandProvider.commands, id),
    'server does not list ' .. id
  )
end

local function errors()
  return vim.diagnostic.get(bufnr, { severity = vim.diagnostic.severity.ERROR })
end
H.wait(10000, function()
  return client.initialized and #errors() == 0
end, 'the example spec has no errors')

-- Break it: the `frontend` agent needs a signal nobody emits.
local lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
local heading, needs_line
for i, line in ipairs(lines) do
  if line:match('^##%s+frontend') then
    heading = i
  elseif heading and not needs_line and line:match('^needs:') then
    needs_line = i - 1 -- 0-based
  end
end
assert(needs_line, 'no needs: line under ## frontend')
local original = lines[needs_line + 1]
vim.api.nvim_buf_set_lines(bufnr, needs_line, needs_line + 1, false, { 'needs: nonexistent' })
H.wait(10000, function()
  for _, d in ipairs(errors()) do
    if d.lnum == needs_line then
      return true
    end
  end
  return false
end, 'an error on the `needs: nonexistent` line')
local d = errors()[1]
H.log('diagnostic: %s:%d:%d-%d %s', d.source, d.lnum, d.col, d.end_col, d.message)
assert(d.message:find('nonexistent'), d.message)
assert(d.col == #'needs: ' and d.end_col == #'needs: nonexistent', 'range is not the value: ' .. d.col .. '-' .. d.end_col)

-- Fix it: the error clears.
vim.api.nvim_buf_set_lines(bufnr, needs_line, needs_line + 1, false, { original })
H.wait(10000, function()
  return #errors() == 0
end, 'the error cleared after restoring the line')

-- Code lenses: "Run all agents" and one per agent.
require('counterpoint.events').refresh_lenses()
H.wait(10000, function()
  return #vim.lsp.codelens.get(bufnr) >= 2
end, 'code lenses on the spec')
local titles = {}
for _, lens in ipairs(vim.lsp.codelens.get(bufnr)) do
  titles[#titles + 1] = lens.command and lens.command.title or '?'
end
H.log('code lenses: %s', table.concat(titles, ' | '))

-- Document symbols: the agents (compared with the plugin's own parse used for completion).
local result = vim.lsp.buf_request_sync(bufnr, 'textDocument/documentSymbol', {
  textDocument = vim.lsp.util.make_text_document_params(bufnr),
}, 5000)
local symbols = {}
for _, res in pairs(result or {}) do
  for _, s in ipairs(res.result or {}) do
    symbols[#symbols + 1] = s.name
  end
end
local names = require('counterpoint.spec').agent_names(bufnr)
for _, name in ipairs(names) do
  assert(vim.list_contains(symbols, name), name .. ' missing from document symbols ' .. vim.inspect(symbols))
end

H.done()
