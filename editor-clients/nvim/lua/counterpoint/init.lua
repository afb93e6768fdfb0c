-- Counterpoint for Neovim: options, the language-server client, and the
-- server commands (run, cancel, status, rerun, events, report, plan, attach).
--
--   require('counterpoint').setup({ settings = { maxParallel = 4 } })
--
-- The LSP configuration itself lives in `lsp/counterpoint.lua`; `setup()`
-- overrides it with `vim.lsp.config()` and enables it.
local protocol = require('counterpoint.protocol')
local spec = require('counterpoint.spec')

local M = {}

M.name = 'counterpoint'

---@class counterpoint.Options
---@field cmd? string[] command starting the server (default {'counterpoint','lsp'})
---@field settings? {maxParallel?: integer, watcherIgnores?: string[], logLevel?: string}
---@field enable? boolean call vim.lsp.enable('counterpoint') (default true)
---@field progress? 'auto'|'echo'|'none' built-in progress display ('auto': echo unless a progress plugin is loaded)
---@field codelens? boolean refresh code lenses (default true)
---@field inlay_hints? boolean show agent states as inlay hints (default true)
---@field view? 'float'|'split' how status and events are shown (default 'float')
---@field save_before_run? boolean write a modified spec before running it (default true)
M.defaults = {
  cmd = nil,
  settings = {},
  enable = true,
  progress = 'auto',
  codelens = true,
  inlay_hints = true,
  view = 'float',
  save_before_run = true,
}

---@type counterpoint.Options
M.options = vim.deepcopy(M.defaults)

local LOG_LEVELS = { debug = true, info = true, warning = true, error = true }

---@param settings table
local function validate_settings(settings)
  vim.validate('settings', settings, 'table')
  vim.validate('settings.maxParallel', settings.maxParallel, function(v)
    return v == nil or (type(v) == 'number' and v >= 1 and v % 1 == 0)
  end, 'an integer >= 1')
  vim.validate('settings.watcherIgnores', settings.watcherIgnores, 'table', true)
  vim.validate('settings.logLevel', settings.logLevel, function(v)
    return v == nil or LOG_LEVELS[v] == true
  end, "one of 'debug', 'info', 'warning', 'error'")
end

--- Configure (and by default enable) the Counterpoint language server.
---@param opts? counterpoint.Options
function M.setup(opts)
  opts = opts or {}
  vim.validate('opts', opts, 'table')
  vim.validate('opts.cmd', opts.cmd, 'table', true)
  validate_settings(opts.settings or {})
  M.options = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts)

  -- Settings go both ways the server reads them: initializationOptions and the
  -- "counterpoint" section of workspace/configuration. (An empty Lua table would
  -- be sent as a JSON list, so nothing is sent when there are no settings.)
  local settings = vim.deepcopy(M.options.settings or {})
  local override = {}
  if not vim.tbl_isempty(settings) then
    override.init_options = settings
    override.settings = { counterpoint = settings }
  end
  if M.options.cmd then
    override.cmd = M.options.cmd
  end
  vim.lsp.config(M.name, override)

  -- Running clients learn the new settings through workspace/didChangeConfiguration.
  for _, client in ipairs(override.settings and vim.lsp.get_clients({ name = M.name }) or {}) do
    client.settings = vim.tbl_deep_extend('force', client.settings or {}, override.settings)
    client:notify('workspace/didChangeConfiguration', { settings = override.settings })
  end

  if M.options.enable then
    vim.lsp.enable(M.name)
  end
  return M.options
end

---@param msg string
---@param level? integer
function M.notify(msg, level)
  vim.notify('Counterpoint: ' .. msg, level or vim.log.levels.INFO)
end

--- The Counterpoint client for a buffer (or any running one).
---@param bufnr? integer
---@return vim.lsp.Client?
function M.client(bufnr)
  if bufnr then
    local clients = vim.lsp.get_clients({ name = M.name, bufnr = bufnr })
    if clients[1] then
      return clients[1]
    end
  end
  return vim.lsp.get_clients({ name = M.name })[1]
end

--- Run a server command; `on_result(result)` is called on success.
---@param name string key of protocol.commands (run, cancel, status, ...)
---@param args table|nil the command's one JSON object argument
---@param on_result? fun(result: any)
---@param opts? {bufnr?: integer, quiet?: boolean}
---@return boolean sent
function M.exec(name, args, on_result, opts)
  opts = opts or {}
  local command = protocol.commands[name]
  if not command then
    M.notify('unknown command ' .. name, vim.log.levels.ERROR)
    return false
  end
  local bufnr = opts.bufnr or spec.current_spec_buffer()
  local client = M.client(bufnr)
  if not client then
    M.notify(
      'the language server is not running: open a *.agents.md file (see :checkhealth counterpoint)',
      vim.log.levels.ERROR
    )
    return false
  end
  if args == nil or vim.tbl_isempty(args) then
    args = vim.empty_dict()
  end
  client:exec_cmd(
    { title = 'Counterpoint ' .. name, command = command, arguments = { args } },
    { bufnr = bufnr },
    function(err, result)
      if err then
        if not opts.quiet then
          M.notify(name .. ' failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
        end
        return
      end
      if on_result then
        on_result(result)
      end
    end
  )
  return true
end

--- Start a run of the current spec (all agents, or the given ones and what they need).
---@param agents? string[]
---@param on_started? fun(run_id: string)
function M.run(agents, on_started)
  local bufnr = spec.current_spec_buffer()
  if not bufnr then
    M.notify('open a *.agents.md spec first', vim.log.levels.ERROR)
    return
  end
  if M.options.save_before_run and vim.bo[bufnr].modified then
    vim.api.nvim_buf_call(bufnr, function()
      vim.cmd('silent write')
    end)
  end
  local args = { uri = vim.uri_from_bufnr(bufnr) }
  if agents and #agents > 0 then
    args.agents = agents
  end
  M.exec('run', args, function(result)
    local run_id = result and result.runId
    if run_id then
      require('counterpoint.state').note_run(run_id, vim.api.nvim_buf_get_name(bufnr))
      M.notify('run ' .. run_id .. ' started')
      if on_started then
        on_started(run_id)
      end
    end
  end, { bufnr = bufnr })
end

--- Cancel a run (default: every live run), or with `agent` cancel that agent's progress.
---@param agent? string
function M.cancel(agent)
  local progress = require('counterpoint.progress')
  if agent and agent ~= '' then
    local tokens = progress.tokens_for(agent)
    if #tokens == 0 then
      M.notify('no live progress for ' .. agent, vim.log.levels.WARN)
      return
    end
    for _, token in ipairs(tokens) do
      progress.cancel(token)
    end
    return
  end
  local live = require('counterpoint.state').live_run_ids()
  local args = #live == 1 and { runId = live[1] } or nil
  M.exec('cancel', args, function()
    M.notify(args and ('cancel requested for run ' .. args.runId) or 'cancel requested for every live run')
  end)
end

--- Rerun a failed agent of the last run (and what it blocked).
---@param agent? string
function M.rerun(agent)
  local state = require('counterpoint.state')
  local run = state.last_run()
  if not run then
    M.notify('no run yet in this session', vim.log.levels.ERROR)
    return
  end
  agent = (agent and agent ~= '') and agent or state.first_failed(run.id)
  if not agent then
    M.notify('no failed agent in run ' .. run.id .. ': name one, e.g. :Counterpoint rerun backend', vim.log.levels.WARN)
    return
  end
  M.exec('rerun', { runId = run.id, agent = agent }, function(result)
    local new_id = result and result.runId
    if new_id then
      state.note_run(new_id, run.spec)
    end
    M.notify('rerunning ' .. agent .. ' of run ' .. run.id .. (new_id and (' as run ' .. new_id) or ''))
  end)
end

--- Open the report of a run (default: the last one) in a split; with `browser`, open the HTML.
---@param browser? boolean
function M.report(browser)
  local run = require('counterpoint.state').last_run()
  M.exec('report', run and { runId = run.id } or nil, function(result)
    local files = (result and result.files) or {}
    if browser and files.html then
      vim.ui.open(files.html)
    elseif files.md then
      vim.cmd('split ' .. vim.fn.fnameescape(files.md))
    end
    M.notify('report: ' .. (files.html or files.md or vim.inspect(result)))
  end)
end

--- The folder a plan is written into: the project (`.git` or `.counterpoint`) of the current file,
--- else of the working directory, else the working directory.
---@return string
function M.plan_root()
  local name = vim.api.nvim_buf_get_name(0)
  local start = (name ~= '' and vim.bo.buftype == '') and vim.fs.dirname(name) or vim.fn.getcwd()
  return vim.fs.root(start, { '.git', '.counterpoint' }) or vim.fn.getcwd()
end

--- A Counterpoint client for `root`: a running one (the one of `root` first), else one started
--- for `root` without a buffer (no spec needs to be open to plan one).
---@param root string
---@return vim.lsp.Client?
local function client_for(root)
  local clients = vim.lsp.get_clients({ name = M.name })
  for _, c in ipairs(clients) do
    if c.root_dir == root then
      return c
    end
  end
  if clients[1] then
    return clients[1]
  end
  local config = vim.deepcopy(vim.lsp.config[M.name] or {})
  config.name = M.name
  config.root_dir = root
  config.workspace_folders = { { uri = vim.uri_from_fname(root), name = root } }
  local id = vim.lsp.start(config, { attach = false, silent = true })
  return id and vim.lsp.get_client_by_id(id) or nil
end

--- Call `fn(client)` once `client` is initialized (polled: the server answers within seconds).
---@param client vim.lsp.Client
---@param fn fun(client: vim.lsp.Client)
---@param waited? integer
local function when_ready(client, fn, waited)
  waited = waited or 0
  if client.initialized then
    fn(client)
  elseif client:is_stopped() or waited > 30000 then
    M.notify('the language server did not start (see :checkhealth counterpoint)', vim.log.levels.ERROR)
  else
    vim.defer_fn(function()
      when_ready(client, fn, waited + 50)
    end, 50)
  end
end

--- `:Counterpoint plan <request>`: the director writes a checked spec for a one-line request into the
--- project and the server opens it (window/showDocument); nothing runs. Its progress shows like a
--- run's; `on_done(result)` gets `counterpoint.plan`'s result (nil when it failed, which is notified).
---@param request string
---@param opts? {root?: string, out?: string, model?: string}
---@param on_done? fun(result: counterpoint.PlanResult?)
function M.plan(request, opts, on_done)
  opts = opts or {}
  request = vim.trim(request or ''):gsub('^"(.*)"$', '%1'):gsub("^'(.*)'$", '%1')
  if request == '' then
    M.notify('say what to build, e.g. :Counterpoint plan Build a course enrollment feature', vim.log.levels.ERROR)
    return
  end
  local root = opts.root or M.plan_root()
  local client = client_for(root)
  if not client then
    M.notify('the language server could not start (see :checkhealth counterpoint)', vim.log.levels.ERROR)
    return
  end
  local args = { request = request, folder = vim.uri_from_fname(root), out = opts.out, model = opts.model }
  M.notify('planning: ' .. request)
  when_ready(client, function(ready)
    ready:exec_cmd({ title = 'Counterpoint plan', command = protocol.commands.plan, arguments = { args } }, {}, function(err, result)
      if err then
        M.notify('plan failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
        if on_done then
          on_done(nil)
        end
        return
      end
      local text = (result and result.message) or 'planned'
      local prediction = result and result.prediction
      if type(prediction) == 'table' and type(prediction.critical_path) == 'table' and #prediction.critical_path > 0 then
        text = string.format(
          '%s; critical path %s, predicted speed-up %.2fx',
          text,
          table.concat(prediction.critical_path, ' → '),
          tonumber(prediction.speedup) or 1
        )
      end
      M.notify(text, (result and result.ok) and vim.log.levels.INFO or vim.log.levels.WARN)
      if on_done then
        on_done(result)
      end
    end)
  end)
end

--- Said when `:Counterpoint attach` (or `attach last`) finds no run in the workspace's log.
M.NO_LAST_RUN = "no run of this workspace's event log is known yet: name one, e.g. :Counterpoint attach <run-id>"
  .. ' (`counterpoint events --run all --type run_started` lists them)'

--- `:Counterpoint attach [run]`: show a run that another process runs (a terminal, CI, a colleague's
--- machine writing the same PostgreSQL event log) as if it ran here (`counterpoint.attach`): its past
--- events, then its new ones as they are committed: its and its agents' progress, its findings as
--- diagnostics, its end as a message. `run` defaults to 'last', the newest run of the workspace's
--- log, read with `counterpoint.events` (the server's attach takes a run id only). Works without a
--- spec open (a client is started for the project, as for plan). `on_done(result)` gets
--- `counterpoint.attach`'s result (nil when it failed, which is notified).
---@param run_id? string a run id, or 'last'
---@param on_done? fun(result: table?)
function M.attach(run_id, on_done)
  run_id = vim.trim(run_id or '')
  if run_id == '' then
    run_id = 'last'
  end
  local function done(result)
    if on_done then
      on_done(result)
    end
  end
  local bufnr = spec.current_spec_buffer()
  local client = M.client(bufnr) or client_for(M.plan_root())
  if not client then
    M.notify('the language server could not start (see :checkhealth counterpoint)', vim.log.levels.ERROR)
    return done(nil)
  end
  when_ready(client, function(ready)
    local function call(name, args, callback)
      local command = { title = 'Counterpoint ' .. name, command = protocol.commands[name], arguments = { args } }
      ready:exec_cmd(command, { bufnr = bufnr }, function(err, result)
        if err then
          M.notify(name .. ' failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
          return done(nil)
        end
        callback(result)
      end)
    end
    local function attach(id)
      call('attach', { runId = id }, function(result)
        if type(result) ~= 'table' then
          M.notify('attach ' .. id .. ': no result', vim.log.levels.ERROR)
          return done(nil)
        end
        local here = type(result.spec) == 'string' and result.spec or nil
        require('counterpoint.state').note_run(id, here)
        local said = type(result.message) == 'string' and result.message or ('attached to run ' .. id)
        -- No spec of this workspace matches the run's: its findings cannot be shown on its files.
        M.notify(said, here and vim.log.levels.INFO or vim.log.levels.WARN)
        done(result)
      end)
    end
    if run_id ~= 'last' then
      return attach(run_id)
    end
    call('events', { type = 'run_started' }, function(events)
      local last
      for _, event in ipairs(type(events) == 'table' and events or {}) do
        if type(event) == 'table' and event.type == 'run_started' and type(event.run_id) == 'string' then
          last = event.run_id
        end
      end
      if not last then
        M.notify(M.NO_LAST_RUN, vim.log.levels.ERROR)
        return done(nil)
      end
      attach(last)
    end)
  end)
end

--- A short text for the statusline: the live run's agents by state, or the latest progress.
---@return string
function M.statusline()
  return require('counterpoint.state').summary() or require('counterpoint.progress').summary() or ''
end

return M
