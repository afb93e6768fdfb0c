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
    -- `counterpoint.plan` opens the spec it wrote. Neovim's own handler puts the word under the
    -- cursor on the tag stack, which fails in an empty buffer (E348): where planning often starts.
    ['window/showDocument'] = function(_, params)
      if params.external then
        vim.ui.open(params.uri)
        return { success = true }
      end
      local ok, problem = pcall(function()
        local bufnr = vim.uri_to_bufnr(params.uri)
        vim.bo[bufnr].buflisted = true
        if params.takeFocus ~= false then
          vim.api.nvim_win_set_buf(0, bufnr)
        else
          vim.fn.bufload(bufnr)
        end
        local start = params.selection and params.selection.start
        if start and params.takeFocus ~= false then
          vim.api.nvim_win_set_cursor(0, { start.line + 1, start.character })
        end
      end)
      if not ok then
        vim.notify('Counterpoint: cannot open ' .. params.uri .. ': ' .. tostring(problem), vim.log.levels.ERROR)
      end
      return { success = ok }
    end,
    [protocol.notifications.event] = function(err, params, ctx)
      if not err then
        require('counterpoint.events').on_event(params, ctx)
      end
    end,
  },
}
