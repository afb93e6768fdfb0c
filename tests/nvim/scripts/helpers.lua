-- Shared helpers of the headless Neovim tests (run by tests/nvim/test_nvim_plugin.py):
--   nvim --clean --headless -l <script>.lua
-- Environment: CP_PLUGIN_DIR (editor-clients/nvim), CP_WORKSPACE (a temp git
-- repository with the example), PATH with the real `counterpoint` first.
local H = {}

H.plugin_dir = assert(os.getenv('CP_PLUGIN_DIR'), 'CP_PLUGIN_DIR is not set')
H.workspace = os.getenv('CP_WORKSPACE')
H.t0 = vim.uv.hrtime()

vim.opt.runtimepath:prepend(H.plugin_dir)
vim.cmd('filetype on')
vim.cmd('runtime! plugin/counterpoint.lua')

H.notifications = {}
vim.notify = function(msg, level)
  H.notifications[#H.notifications + 1] = { msg = msg, level = level }
  io.stderr:write(string.format('[notify %s] %s\n', tostring(level), msg))
end

function H.log(fmt, ...)
  io.stdout:write(string.format('[%6.2fs] ', (vim.uv.hrtime() - H.t0) / 1e9) .. string.format(fmt, ...) .. '\n')
end

--- Wait until `pred()` is truthy, or fail with `what`.
function H.wait(ms, pred, what)
  local ok = vim.wait(ms, pred, 20)
  if not ok then
    H.dump()
    error('timed out after ' .. ms .. ' ms waiting for: ' .. what, 2)
  end
  H.log('ok: %s', what)
end

--- On failure: what the client saw, and the tail of the LSP log.
function H.dump()
  local state = package.loaded['counterpoint.state']
  if state and state.last_run() then
    io.stderr:write('last run: ' .. vim.inspect(state.last_run().agents) .. '\n')
  end
  for _, n in ipairs(H.notifications) do
    io.stderr:write('notification: ' .. n.msg .. '\n')
  end
  local log = vim.lsp.get_log_path()
  local f = io.open(log, 'r')
  if f then
    local text = f:read('*a')
    f:close()
    io.stderr:write('--- tail of ' .. log .. ' ---\n' .. text:sub(-6000) .. '\n')
  end
end

--- Open a workspace file and wait for the counterpoint client to attach.
---@return integer bufnr, vim.lsp.Client client
function H.open_spec(relpath)
  vim.cmd.edit(vim.fn.fnameescape(H.workspace .. '/' .. relpath))
  local bufnr = vim.api.nvim_get_current_buf()
  local client
  H.wait(20000, function()
    client = vim.lsp.get_clients({ name = 'counterpoint', bufnr = bufnr })[1]
    return client ~= nil and client.initialized
  end, 'counterpoint client attached to ' .. relpath)
  return bufnr, client
end

--- The spec path of the example (the first *.agents.md in the workspace).
function H.example_spec()
  local found = vim.fs.find(function(name)
    return name:match('%.agents%.md$') ~= nil
  end, { path = H.workspace, type = 'file', limit = 1 })
  assert(found[1], 'no *.agents.md in ' .. H.workspace)
  return vim.fs.relpath(H.workspace, found[1]) or found[1]
end

--- Record every `counterpoint/event` and LspProgress seen from now on.
function H.record()
  local rec = { events = {}, progress = {}, by_type = {} }
  vim.api.nvim_create_autocmd('User', {
    pattern = 'CounterpointEvent',
    callback = function(ev)
      local e = ev.data
      rec.events[#rec.events + 1] = e
      rec.by_type[e.type] = (rec.by_type[e.type] or 0) + 1
    end,
  })
  vim.api.nvim_create_autocmd('LspProgress', {
    callback = function(ev)
      local p = ev.data.params
      rec.progress[#rec.progress + 1] = { token = p.token, kind = p.value.kind, title = p.value.title }
    end,
  })
  function rec.count(kind)
    local n = 0
    for _, p in ipairs(rec.progress) do
      if p.kind == kind then
        n = n + 1
      end
    end
    return n
  end
  function rec.find(pred)
    for _, e in ipairs(rec.events) do
      if pred(e) then
        return e
      end
    end
  end
  --- Every progress token that began has ended.
  function rec.all_ended()
    local open = {}
    for _, p in ipairs(rec.progress) do
      if p.kind == 'begin' then
        open[tostring(p.token)] = true
      elseif p.kind == 'end' then
        open[tostring(p.token)] = nil
      end
    end
    return next(open) == nil
  end
  return rec
end

function H.done()
  H.log('PASS %s', arg[0])
  for _, client in ipairs(vim.lsp.get_clients()) do
    client:stop()
  end
  vim.wait(3000, function()
    return #vim.lsp.get_clients() == 0
  end, 50)
  vim.cmd('qall!')
end

return H
