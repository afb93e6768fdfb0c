-- The client-side picture of runs, built from `counterpoint/event`
-- notifications (and from `counterpoint.status` results): each run's agents
-- with their states, what they wait on, their latest output, and the signals.
-- The event, its typed payloads and the status result are annotated in payloads.lua (generated from
-- the protocol's schemas by scripts/gen_protocol.lua).
local M = {}

local TERMINAL = {
  succeeded = true,
  failed = true,
  timed_out = true,
  cancelled = true,
  blocked = true,
  skipped = true,
}
M.TERMINAL = TERMINAL

local STATE_OF_EVENT = {
  agent_waiting = 'waiting',
  agent_queued = 'queued',
  agent_gated = 'gated',
  agent_started = 'running',
}

local MAX_EVENTS_PER_RUN = 5000

---@class counterpoint.Agent
---@field name string
---@field state string
---@field waiting_on string[]
---@field last_output? string
---@field started_at? string
---@field finished_at? string
---@field duration_s? number

---@class counterpoint.Run
---@field id string
---@field spec? string
---@field state string
---@field agents table<string, counterpoint.Agent>
---@field order string[]
---@field signals table<string, string>
---@field events counterpoint.Event[]
---@field event_ids table<integer, boolean>

---@type table<string, counterpoint.Run>
M.runs = {}
---@type string?
M.last_run_id = nil

function M.reset()
  M.runs = {}
  M.last_run_id = nil
end

---@param run_id string
---@return counterpoint.Run
local function ensure_run(run_id)
  local run = M.runs[run_id]
  if not run then
    run = { id = run_id, state = 'running', agents = {}, order = {}, signals = {}, events = {}, event_ids = {} }
    M.runs[run_id] = run
  end
  return run
end

---@param run counterpoint.Run
---@param name string
---@return counterpoint.Agent
local function ensure_agent(run, name)
  local agent = run.agents[name]
  if not agent then
    agent = { name = name, state = 'pending', waiting_on = {} }
    run.agents[name] = agent
    run.order[#run.order + 1] = name
  end
  return agent
end

--- A run this client started (before its first event arrives).
---@param run_id string
---@param spec_path? string
function M.note_run(run_id, spec_path)
  local run = ensure_run(run_id)
  run.spec = run.spec or spec_path
  M.last_run_id = run_id
end

---@param value any
---@return string?
local function text_of(value)
  if type(value) == 'string' then
    return value
  elseif type(value) == 'number' then
    return tostring(value)
  end
  return nil
end

--- Fold one event into the model.
---@param event counterpoint.Event
---@return counterpoint.Run?
function M.apply(event)
  if type(event) ~= 'table' or type(event.run_id) ~= 'string' then
    return nil
  end
  local run = ensure_run(event.run_id)
  if event.id ~= nil and run.event_ids[event.id] then
    return run
  end
  if event.id ~= nil then
    run.event_ids[event.id] = true
  end
  run.events[#run.events + 1] = event
  if #run.events > MAX_EVENTS_PER_RUN then
    table.remove(run.events, 1)
  end
  M.last_run_id = event.run_id
  local meta = type(event.metadata) == 'table' and event.metadata or {}
  local kind, actor = event.type, text_of(event.actor)

  if kind == 'run_started' or kind == 'run_resumed' then
    run.state = 'running'
    run.spec = text_of(meta.spec) or run.spec
    if type(meta.agents) == 'table' then
      for _, name in ipairs(meta.agents) do
        if type(name) == 'string' then
          ensure_agent(run, name)
        end
      end
    end
  elseif kind == 'run_finished' then
    run.state = text_of(event.action) or text_of(meta.state) or 'finished'
  elseif kind == 'signal' then
    local signal = text_of(event.action)
    if signal then
      run.signals[signal] = event.timestamp or ''
    end
  elseif actor and STATE_OF_EVENT[kind] then
    local agent = ensure_agent(run, actor)
    agent.state = STATE_OF_EVENT[kind]
    if kind == 'agent_waiting' then
      local waiting = meta --[[@as counterpoint.AgentWaitingPayload]]
      if type(waiting.waiting_on) == 'table' then
        agent.waiting_on = waiting.waiting_on
      end
    else
      agent.waiting_on = {}
    end
    if kind == 'agent_started' then
      agent.started_at = event.timestamp
    end
  elseif actor and kind == 'agent_finished' then
    local agent = ensure_agent(run, actor)
    agent.state = text_of(event.action) or 'finished'
    agent.finished_at = event.timestamp
    agent.waiting_on = {}
    local finished = meta --[[@as counterpoint.AgentFinishedPayload]]
    if type(finished.duration_s) == 'number' then
      agent.duration_s = finished.duration_s
    end
  elseif actor and kind == 'agent_output' then
    local agent = ensure_agent(run, actor)
    local line = text_of(meta.line) or text_of(meta.text) or text_of(event.action)
    if line then
      agent.last_output = line
    end
  end
  return run
end

--- Replace a run's agents and signals with a `counterpoint.status` entry.
---@param info counterpoint.RunStatusInfo
function M.apply_status(info)
  if type(info) ~= 'table' or type(info.runId) ~= 'string' then
    return
  end
  local run = ensure_run(info.runId)
  run.spec = text_of(info.spec) or run.spec
  -- Keep the outcome a run_finished event told (the status may only say "finished").
  local status_state = text_of(info.state)
  if status_state and not (status_state == 'finished' and TERMINAL[run.state]) then
    run.state = status_state
  end
  for _, a in ipairs(info.agents or {}) do
    if type(a) == 'table' and type(a.name) == 'string' then
      local agent = ensure_agent(run, a.name)
      agent.state = text_of(a.state) or agent.state
      agent.waiting_on = type(a.waiting_on) == 'table' and a.waiting_on or {}
      agent.duration_s = type(a.duration_s) == 'number' and a.duration_s or agent.duration_s
      agent.last_output = text_of(a.last_output) or agent.last_output
      agent.started_at = text_of(a.started_at) or agent.started_at
      agent.finished_at = text_of(a.finished_at) or agent.finished_at
    end
  end
  if type(info.signals) == 'table' then
    for name, at in pairs(info.signals) do
      run.signals[name] = text_of(at) or ''
    end
  end
end

---@return counterpoint.Run?
function M.last_run()
  return M.last_run_id and M.runs[M.last_run_id] or nil
end

---@param run counterpoint.Run
---@return boolean
function M.is_live(run)
  return run.state == 'running' or run.state == 'pending' or run.state == 'started'
end

---@return string[]
function M.live_run_ids()
  local ids = {}
  for id, run in pairs(M.runs) do
    if M.is_live(run) then
      ids[#ids + 1] = id
    end
  end
  table.sort(ids)
  return ids
end

---@param run_id string
---@return string?
function M.first_failed(run_id)
  local run = M.runs[run_id]
  if not run then
    return nil
  end
  for _, name in ipairs(run.order) do
    local s = run.agents[name].state
    if s == 'failed' or s == 'timed_out' then
      return name
    end
  end
  return nil
end

--- Agent names known from runs (for completion when no spec buffer is open).
---@return string[]
function M.agent_names()
  local run = M.last_run()
  return run and vim.deepcopy(run.order) or {}
end

--- "counterpoint: 2 running, 3 done, 1 failed" for the live (or last) run.
---@return string?
function M.summary()
  local run = M.last_run()
  if not run or #run.order == 0 then
    return nil
  end
  local counts = {}
  for _, name in ipairs(run.order) do
    local s = run.agents[name].state
    counts[s] = (counts[s] or 0) + 1
  end
  local parts = {}
  for _, s in ipairs({ 'running', 'gated', 'queued', 'waiting', 'succeeded', 'failed', 'timed_out', 'cancelled', 'blocked', 'skipped' }) do
    if counts[s] then
      parts[#parts + 1] = counts[s] .. ' ' .. s
    end
  end
  local head = M.is_live(run) and 'counterpoint' or ('counterpoint ' .. run.state)
  return head .. ': ' .. table.concat(parts, ', ')
end

return M
