-- doc/counterpoint.txt: `:helptags` accepts it and `:help` finds its tags.
local H = dofile(vim.fs.dirname(arg[0]) .. '/helpers.lua')
local copy = vim.fn.tempname()
vim.fn.mkdir(copy .. '/doc', 'p')
vim.fn.writefile(vim.fn.readfile(H.plugin_dir .. '/doc/counterpoint.txt'), copy .. '/doc/counterpoint.txt')
vim.cmd('helptags ' .. vim.fn.fnameescape(copy .. '/doc'))
vim.opt.runtimepath:prepend(copy)
for _, tag in ipairs({
  'counterpoint',
  ':Counterpoint',
  ':Counterpoint-run',
  ':Counterpoint-cancel',
  'counterpoint-setup',
  'counterpoint.setup()',
  'counterpoint-options',
  'counterpoint-health',
  'counterpoint-statusline',
}) do
  vim.cmd('help ' .. vim.fn.escape(tag, ' '))
  assert(vim.fn.expand('%:t') == 'counterpoint.txt', 'tag ' .. tag .. ' opened ' .. vim.fn.expand('%'))
  vim.cmd('helpclose')
end
H.done()
