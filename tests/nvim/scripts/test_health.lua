-- `:checkhealth counterpoint`: OK lines for Neovim, the server executable and
-- that it starts (`counterpoint --version`), no ERROR; the running client listed.
local H = dofile(vim.fs.dirname(arg[0]) .. '/helpers.lua')
require('counterpoint').setup({})
H.open_spec(H.example_spec())

vim.cmd('checkhealth counterpoint')
local text
H.wait(20000, function()
  text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  return text:find('server starts') ~= nil or text:find('ERROR') ~= nil
end, 'checkhealth output')
H.log('checkhealth:\n%s', text)
assert(not text:find('ERROR'), 'checkhealth reported an ERROR')
assert(text:find('OK Neovim 0%.1[1-9]'), 'no OK line for the Neovim version')
assert(text:find('OK server executable: [^\n]*counterpoint'), 'no OK line for the executable')
assert(text:find('OK server starts: counterpoint %d+%.%d+'), 'no OK line with the server version')
assert(text:find('OK client %d+ running: counterpoint'), 'no OK line for the running client')

-- A missing executable is an ERROR with the fix.
require('counterpoint').setup({ cmd = { 'counterpoint-does-not-exist', 'lsp' } })
vim.cmd('checkhealth counterpoint')
H.wait(20000, function()
  text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  return text:find('not found') ~= nil
end, 'checkhealth reports a missing server')
assert(text:find('ERROR server executable not found: counterpoint%-does%-not%-exist'), text)
assert(text:find("setup%(%{ cmd ="), 'the advice names the cmd option')

H.done()
