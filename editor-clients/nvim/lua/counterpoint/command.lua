-- `:Counterpoint {subcommand} [args]` and its completion.
local M = {}

local function agent_names()
  local spec = require('counterpoint.spec')
  local bufnr = spec.current_spec_buffer()
  local names = bufnr and spec.agent_names(bufnr) or {}
  if #names == 0 then
    names = require('counterpoint.state').agent_names()
  end
  return names
end

---@type table<string, {run: fun(args: string[], bang: boolean), complete?: fun(): string[]}>
M.subcommands = {
  run = {
    run = function(args)
      require('counterpoint').run(args)
    end,
    complete = agent_names,
  },
  cancel = {
    run = function(args)
      require('counterpoint').cancel(args[1])
    end,
    complete = agent_names,
  },
  status = {
    run = function()
      require('counterpoint.ui').show_status()
    end,
  },
  rerun = {
    run = function(args)
      require('counterpoint').rerun(args[1])
    end,
    complete = agent_names,
  },
  events = {
    run = function(args)
      require('counterpoint.ui').show_events(nil, args[1])
    end,
    complete = function()
      return vim.deepcopy(require('counterpoint.protocol').event_types)
    end,
  },
  diff = {
    run = function(args)
      require('counterpoint.review').diff(args[1])
    end,
    complete = agent_names,
  },
  apply = {
    run = function(args)
      require('counterpoint.review').apply(args[1])
    end,
    complete = function()
      return require('counterpoint.review').run_ids()
    end,
  },
  discard = {
    run = function(args, bang)
      require('counterpoint.review').discard(args[1], bang)
    end,
    complete = function()
      return require('counterpoint.review').run_ids()
    end,
  },
  report = {
    run = function(_, bang)
      require('counterpoint').report(bang)
    end,
  },
  plan = {
    run = function(args)
      require('counterpoint').plan(table.concat(args, ' '))
    end,
  },
  attach = {
    run = function(args)
      require('counterpoint').attach(args[1])
    end,
    complete = function()
      return { 'last' }
    end,
  },
}

---@param opts {fargs: string[], bang: boolean}
function M.dispatch(opts)
  local name = opts.fargs[1]
  local sub = name and M.subcommands[name]
  if not sub then
    local names = vim.tbl_keys(M.subcommands)
    table.sort(names)
    require('counterpoint').notify(
      (name and ('unknown subcommand ' .. name .. '. ') or '') .. 'Use one of: ' .. table.concat(names, ', '),
      vim.log.levels.ERROR
    )
    return
  end
  sub.run(vim.list_slice(opts.fargs, 2), opts.bang)
end

--- Completion for `:Counterpoint`: subcommands first, then the subcommand's arguments.
---@param arglead string
---@param cmdline string
---@return string[]
function M.complete(arglead, cmdline, _)
  local words = vim.split(cmdline:gsub('^%s*%S+!?%s*', ''), '%s+', { trimempty = true })
  local typing_new = cmdline:match('%s$') ~= nil
  local position = #words + (typing_new and 1 or 0)
  local candidates
  if position <= 1 then
    candidates = vim.tbl_keys(M.subcommands)
    table.sort(candidates)
  else
    local sub = M.subcommands[words[1]]
    candidates = sub and sub.complete and sub.complete() or {}
  end
  return vim.tbl_filter(function(c)
    return vim.startswith(c, arglead)
  end, candidates)
end

return M
