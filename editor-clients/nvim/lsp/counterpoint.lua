-- Default configuration of the Counterpoint language server for Neovim 0.11+.
-- `vim.lsp.enable('counterpoint')` picks this file up from the runtimepath;
-- `vim.lsp.config('counterpoint', {...})` or `require('counterpoint').setup({...})`
-- override any field.
--
-- Specs are Markdown files named `*.agents.md`: the client starts for the
-- `markdown` filetype but `root_dir` only answers for spec files, so other
-- Markdown buffers never get the server.
local protocol = require('counterpoint.protocol')

---@type vim.lsp.Config
return {
  cmd = { 'counterpoint', 'lsp' },
  filetypes = { 'markdown' },
  root_markers = { '.git', '.counterpoint' },
  root_dir = function(bufnr, on_dir)
    local name = vim.api.nvim_buf_get_name(bufnr)
    if not require('counterpoint.spec').is_spec_name(name) then
      return
    end
    on_dir(vim.fs.root(bufnr, { '.git', '.counterpoint' }) or vim.fs.dirname(name))
  end,
  handlers = {
    -- Through vim.notify (Neovim prints Info/Log messages with nvim_out_write,
    -- which notification plugins never see and which stack into hit-enter prompts).
    ['window/showMessage'] = function(_, params)
      local levels = { vim.log.levels.ERROR, vim.log.levels.WARN, vim.log.levels.INFO, vim.log.levels.DEBUG }
      local message = (params.message or ''):gsub('^Counterpoint: ', '')
      vim.notify('Counterpoint: ' .. message, levels[params.type] or vim.log.levels.INFO)
      return vim.NIL
    end,
    [protocol.notifications.event] = function(err, params, ctx)
      if not err then
        require('counterpoint.events').on_event(params, ctx)
      end
    end,
  },
}
