-- Counterpoint: filetype detection for `*.agents.md`, the `:Counterpoint`
-- command, and the autocommands tying the language server to the UI.
-- Nothing starts a server here: `vim.lsp.enable('counterpoint')` or
-- `require('counterpoint').setup()` does.
if vim.g.loaded_counterpoint then
  return
end
vim.g.loaded_counterpoint = true

if vim.fn.has('nvim-0.11') == 0 then
  vim.notify('counterpoint.nvim needs Neovim 0.11 or newer', vim.log.levels.WARN)
  return
end

-- Specs are Markdown (whatever else a user maps *.md to).
vim.filetype.add({ pattern = { ['.*%.agents%.md'] = { 'markdown', { priority = 10 } } } })

vim.api.nvim_create_user_command('Counterpoint', function(opts)
  require('counterpoint.command').dispatch(opts)
end, {
  nargs = '*',
  bang = true,
  desc = 'Counterpoint: run, cancel, status, rerun, events, report, diff, apply, discard, plan, attach',
  complete = function(...)
    return require('counterpoint.command').complete(...)
  end,
})

local group = vim.api.nvim_create_augroup('counterpoint', { clear = true })

require('counterpoint.ui').define_highlights()
vim.api.nvim_create_autocmd('ColorScheme', {
  group = group,
  callback = function()
    require('counterpoint.ui').define_highlights()
  end,
})

vim.api.nvim_create_autocmd('LspProgress', {
  group = group,
  callback = function(ev)
    require('counterpoint.progress').on_progress(ev)
  end,
})

vim.api.nvim_create_autocmd('LspAttach', {
  group = group,
  callback = function(ev)
    local client = vim.lsp.get_client_by_id(ev.data.client_id)
    if not client or client.name ~= 'counterpoint' then
      return
    end
    local cp = require('counterpoint')
    local bufnr = ev.buf
    if cp.options.inlay_hints and client:supports_method('textDocument/inlayHint', bufnr) then
      vim.lsp.inlay_hint.enable(true, { bufnr = bufnr })
    end
    if cp.options.codelens and client:supports_method('textDocument/codeLens', bufnr) then
      vim.lsp.codelens.refresh({ bufnr = bufnr })
      vim.api.nvim_create_autocmd({ 'BufEnter', 'InsertLeave', 'BufWritePost' }, {
        group = vim.api.nvim_create_augroup('counterpoint.codelens.' .. bufnr, { clear = true }),
        buffer = bufnr,
        callback = function()
          if #vim.lsp.get_clients({ name = 'counterpoint', bufnr = bufnr }) > 0 then
            vim.lsp.codelens.refresh({ bufnr = bufnr })
          end
        end,
      })
    end
  end,
})
