-- `:checkhealth counterpoint`: Neovim version, the server executable, that it
-- starts (`counterpoint --version`), the generated names, and live clients.
local M = {}

local MIN_NVIM = { 0, 11, 0 }

---@return string[] the server command from the effective configuration
local function server_cmd()
  local config = vim.lsp.config.counterpoint
  local cmd = config and config.cmd
  if type(cmd) == 'table' and #cmd > 0 then
    return cmd
  end
  return { 'counterpoint', 'lsp' }
end

function M.check()
  local health = vim.health
  health.start('counterpoint: Neovim')
  local v = vim.version()
  local version = string.format('%d.%d.%d', v.major, v.minor, v.patch)
  if vim.version.ge(v, MIN_NVIM) then
    health.ok('Neovim ' .. version .. ' (0.11 or newer)')
  else
    health.error('Neovim ' .. version .. ' is too old', { 'Counterpoint needs Neovim 0.11 or newer' })
  end

  health.start('counterpoint: language server')
  local cmd = server_cmd()
  local exe = vim.fn.exepath(cmd[1])
  if exe == '' then
    health.error('server executable not found: ' .. cmd[1], {
      'Install Counterpoint (pip install counterpoint) so `counterpoint` is on $PATH,',
      "or point the plugin at it: require('counterpoint').setup({ cmd = { '/path/to/counterpoint', 'lsp' } })",
    })
  else
    health.ok('server executable: ' .. exe)
    local ok, result = pcall(function()
      return vim.system({ exe, '--version' }, { text = true }):wait(15000)
    end)
    if not ok then
      health.error('cannot start ' .. exe .. ': ' .. tostring(result))
    elseif result.code ~= 0 then
      health.error(
        exe .. ' --version exited with ' .. tostring(result.code),
        { vim.trim((result.stderr or '') .. (result.stdout or '')) }
      )
    else
      local out = vim.trim(result.stdout ~= '' and result.stdout or (result.stderr or ''))
      health.ok('server starts: ' .. out)
    end
  end
  health.info('command: ' .. table.concat(cmd, ' '))

  health.start('counterpoint: plugin')
  local ok_protocol, protocol = pcall(require, 'counterpoint.protocol')
  if ok_protocol and protocol.commands and protocol.commands.run then
    health.ok('server command ids loaded (' .. vim.tbl_count(protocol.commands) .. ' commands)')
  else
    health.error('lua/counterpoint/protocol.lua is missing or broken', { 'regenerate it: nvim -l scripts/gen_protocol.lua' })
  end
  if vim.lsp.is_enabled and vim.lsp.is_enabled('counterpoint') then
    health.ok("vim.lsp.enable('counterpoint') is on")
  else
    health.warn("the server is not enabled", {
      "call require('counterpoint').setup() or vim.lsp.enable('counterpoint')",
    })
  end
  local clients = vim.lsp.get_clients({ name = 'counterpoint' })
  if #clients == 0 then
    health.info('no running client (open a *.agents.md file to start one)')
  end
  for _, client in ipairs(clients) do
    local info = client.server_info or {}
    health.ok(
      string.format(
        'client %d running: %s %s, root %s, %d buffer(s)',
        client.id,
        info.name or 'counterpoint',
        info.version or '',
        client.root_dir or '-',
        vim.tbl_count(client.attached_buffers)
      )
    )
  end
  local progress = require('counterpoint.progress')
  if progress.has_progress_plugin() then
    health.info('a progress plugin is loaded: the built-in progress echo stays off (option progress = "auto")')
  else
    health.info('no progress plugin: progress is echoed in the command line (option progress = "auto")')
  end
end

return M
