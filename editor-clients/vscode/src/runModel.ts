/**
 * The live state of runs, rebuilt from `counterpoint/event` notifications (and seeded from
 * `counterpoint.status`): each run's agents with their state, timing, what they wait on and their
 * recent events, the signals with when they fired, and the counts the status bar and progress show.
 * No `vscode` here: the Agents view, status bar and progress read this model.
 */
import { type CounterpointEvent, type StatusResult, payloadOf } from "./protocol";

export const TERMINAL_STATES = new Set(["succeeded", "failed", "timed_out", "cancelled", "blocked", "skipped"]);
export const FAILED_STATES = new Set(["failed", "timed_out", "blocked"]);
/** Events not listed under their agent: signals have their own line, a tool call's file_written says it. */
const QUIET_TYPES = new Set(["signal", "tool_call", "usage"]);

/** Event type → the state an agent is in after it (agent_finished carries the state as its action). */
const STATE_OF_EVENT: Record<string, string> = {
  agent_waiting: "waiting",
  agent_queued: "queued",
  agent_gated: "gated",
  agent_started: "running",
};

export interface EventLine {
  id: number;
  type: string;
  timestamp: string;
  text: string;
}

export interface AgentModel {
  name: string;
  state: string;
  waitingOn: string[];
  startedAt?: string;
  finishedAt?: string;
  durationS?: number;
  error?: string;
  lastOutput?: string;
  attempt?: number;
  /** Works in a working copy of its own (`isolation: worktree`): it has changes to review. */
  isolated?: boolean;
  events: EventLine[];
}

export interface SignalModel {
  name: string;
  actor: string | null;
  firedAt: string;
}

export interface RunModelState {
  runId: string;
  spec: string;
  feature: string;
  /** running, succeeded, failed or cancelled. */
  state: string;
  startedAt: string;
  finishedAt?: string;
  wallS?: number;
  agents: Map<string, AgentModel>;
  signals: SignalModel[];
  findings: number;
  lastEventId: number;
  /** Whether its run_started said it isolates agents (undefined: not seen, e.g. seeded from status). */
  isolated?: boolean;
}

export interface RunCounts {
  total: number;
  running: number;
  waiting: number;
  done: number;
  failed: number;
  cancelled: number;
}

export interface RunModelOptions {
  /** Runs kept (the oldest finished ones are dropped). */
  maxRuns?: number;
  /** Recent events kept per agent. */
  maxEventsPerAgent?: number;
}

export class RunModel {
  private readonly runs = new Map<string, RunModelState>();
  private readonly maxRuns: number;
  private readonly maxEventsPerAgent: number;

  constructor(options: RunModelOptions = {}) {
    this.maxRuns = options.maxRuns ?? 5;
    this.maxEventsPerAgent = options.maxEventsPerAgent ?? 20;
  }

  /** Applies one event; returns the run it changed (undefined when it was a duplicate). */
  apply(event: CounterpointEvent): RunModelState | undefined {
    const meta = event.metadata ?? {};
    let run = this.runs.get(event.run_id);
    if (run === undefined) {
      run = {
        runId: event.run_id,
        spec: typeof meta.spec === "string" ? meta.spec : "",
        feature: "",
        state: "running",
        startedAt: event.timestamp,
        agents: new Map(),
        signals: [],
        findings: 0,
        lastEventId: -1,
      };
      this.runs.set(event.run_id, run);
      this.prune();
    }
    if (typeof event.id === "number") {
      if (event.id <= run.lastEventId) return undefined;
      run.lastEventId = event.id;
    }
    const actor = event.actor ?? null;
    switch (event.type) {
      case "run_started":
        run.state = "running";
        run.startedAt = event.timestamp;
        run.feature = event.action ?? run.feature;
        if (typeof meta.spec === "string") run.spec = meta.spec;
        run.isolated = !!meta.isolation && typeof meta.isolation === "object";
        for (const name of agentNames(meta.agents)) this.agent(run, name);
        break;
      case "working_copy_created":
        // The integration copy (actor "integration") is no agent's.
        if (actor && run.agents.has(actor)) run.agents.get(actor)!.isolated = true;
        break;
      case "run_resumed":
        run.state = "running";
        run.finishedAt = undefined;
        break;
      case "run_finished":
        run.state = event.action ?? "finished";
        run.finishedAt = event.timestamp;
        if (typeof meta.wall_s === "number") run.wallS = meta.wall_s;
        if (meta.agents && typeof meta.agents === "object" && !Array.isArray(meta.agents)) {
          for (const [name, state] of Object.entries(meta.agents as Record<string, unknown>)) {
            if (typeof state === "string") this.agent(run, name).state = state;
          }
        }
        break;
      case "signal":
        if (event.action && !run.signals.some((s) => s.name === event.action)) {
          run.signals.push({ name: event.action, actor, firedAt: event.timestamp });
        }
        if (actor && run.agents.has(actor)) this.note(run.agents.get(actor)!, event, `fired ${event.action}`);
        break;
      case "finding":
        run.findings += 1;
        break;
      case "findings_cleared":
        run.findings = 0;
        break;
      default:
        break;
    }
    if (actor && event.type.startsWith("agent_")) this.applyAgentEvent(this.agent(run, actor), event);
    else if (actor && run.agents.has(actor) && !QUIET_TYPES.has(event.type)) {
      const agent = run.agents.get(actor)!;
      this.note(agent, event, describeEvent(event));
    }
    return run;
  }

  private applyAgentEvent(agent: AgentModel, event: CounterpointEvent): void {
    const meta = event.metadata ?? {};
    const next = STATE_OF_EVENT[event.type];
    if (next !== undefined) {
      agent.state = next;
      if (next === "waiting") agent.waitingOn = stringList(payloadOf(event, "agent_waiting").waiting_on);
      else agent.waitingOn = [];
      if (next === "running") {
        const started = payloadOf(event, "agent_started");
        agent.startedAt = event.timestamp;
        agent.finishedAt = undefined;
        agent.durationS = undefined;
        agent.error = undefined;
        if (typeof started.attempt === "number") agent.attempt = started.attempt;
      }
    } else if (event.type === "agent_finished") {
      const finished = payloadOf(event, "agent_finished");
      agent.state = event.action ?? "finished";
      agent.waitingOn = [];
      agent.finishedAt = event.timestamp;
      if (typeof finished.duration_s === "number") agent.durationS = finished.duration_s;
      if (typeof finished.error === "string") agent.error = finished.error;
    } else if (event.type === "agent_output") {
      if (typeof meta.line === "string") agent.lastOutput = meta.line;
    }
    this.note(agent, event, describeEvent(event));
  }

  private note(agent: AgentModel, event: CounterpointEvent, text: string): void {
    agent.events.push({ id: event.id, type: event.type, timestamp: event.timestamp, text });
    if (agent.events.length > this.maxEventsPerAgent) agent.events.splice(0, agent.events.length - this.maxEventsPerAgent);
  }

  private agent(run: RunModelState, name: string): AgentModel {
    let agent = run.agents.get(name);
    if (agent === undefined) {
      agent = { name, state: "pending", waitingOn: [], events: [] };
      run.agents.set(name, agent);
    }
    return agent;
  }

  private prune(): void {
    if (this.runs.size <= this.maxRuns) return;
    const finished = [...this.runs.values()].filter((r) => r.state !== "running");
    for (const run of finished.sort((a, b) => a.startedAt.localeCompare(b.startedAt))) {
      if (this.runs.size <= this.maxRuns) break;
      this.runs.delete(run.runId);
    }
  }

  /** Seeds runs the extension did not see start (e.g. after a reload) from `counterpoint.status`. */
  applyStatus(status: StatusResult): void {
    for (const info of status.runs ?? []) {
      let run = this.runs.get(info.runId);
      if (run === undefined) {
        run = {
          runId: info.runId,
          spec: info.spec,
          feature: "",
          state: info.state === "finished" ? "finished" : info.state,
          startedAt: "",
          agents: new Map(),
          signals: [],
          findings: 0,
          lastEventId: -1,
        };
        this.runs.set(info.runId, run);
      }
      for (const a of info.agents ?? []) {
        const agent = this.agent(run, a.name);
        agent.state = a.state;
        agent.waitingOn = a.waiting_on ?? [];
        if (a.started_at) agent.startedAt = a.started_at;
        if (a.finished_at) agent.finishedAt = a.finished_at;
        if (typeof a.duration_s === "number") agent.durationS = a.duration_s;
        if (a.last_output) agent.lastOutput = a.last_output;
      }
      for (const [name, firedAt] of Object.entries(info.signals ?? {})) {
        if (!run.signals.some((s) => s.name === name)) run.signals.push({ name, actor: null, firedAt });
      }
    }
    this.prune();
  }

  /** Runs, newest first. */
  list(): RunModelState[] {
    return [...this.runs.values()].sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  }

  get(runId: string): RunModelState | undefined {
    return this.runs.get(runId);
  }

  live(): RunModelState[] {
    return this.list().filter((r) => r.state === "running");
  }

  /** The newest live run, else the newest run. */
  current(): RunModelState | undefined {
    return this.live()[0] ?? this.list()[0];
  }

  clear(): void {
    this.runs.clear();
  }
}

export function countAgents(run: RunModelState): RunCounts {
  const counts: RunCounts = { total: 0, running: 0, waiting: 0, done: 0, failed: 0, cancelled: 0 };
  for (const agent of run.agents.values()) {
    counts.total += 1;
    if (agent.state === "running") counts.running += 1;
    else if (FAILED_STATES.has(agent.state)) counts.failed += 1;
    else if (agent.state === "cancelled") counts.cancelled += 1;
    else if (TERMINAL_STATES.has(agent.state)) counts.done += 1;
    else counts.waiting += 1;
  }
  return counts;
}

export function failedAgents(run: RunModelState): AgentModel[] {
  return [...run.agents.values()].filter((a) => FAILED_STATES.has(a.state) || a.state === "cancelled");
}

/** Seconds between two ISO timestamps (or from `start` to `now`). */
export function secondsBetween(start: string | undefined, end: string | Date | undefined): number | undefined {
  if (!start) return undefined;
  const from = Date.parse(start);
  const to = end instanceof Date ? end.getTime() : end ? Date.parse(end) : NaN;
  if (Number.isNaN(from) || Number.isNaN(to)) return undefined;
  return Math.max(0, (to - from) / 1000);
}

export function formatSeconds(seconds: number): string {
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  if (seconds < 60) return `${Math.round(seconds)}s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  return `${m}m${s.toString().padStart(2, "0")}s`;
}

/** How long the agent ran (finished) or has been running (live), formatted; undefined if never started. */
export function agentDuration(agent: AgentModel, now: Date): string | undefined {
  if (agent.durationS !== undefined) return formatSeconds(agent.durationS);
  if (agent.state === "running") {
    const s = secondsBetween(agent.startedAt, now);
    return s === undefined ? undefined : formatSeconds(s);
  }
  if (agent.finishedAt) {
    const s = secondsBetween(agent.startedAt, agent.finishedAt);
    return s === undefined ? undefined : formatSeconds(s);
  }
  return undefined;
}

/** A short text of the agent's state: "waiting on api_ready", "running 12s", "failed 3.1s: boom". */
export function describeAgent(agent: AgentModel, now: Date): string {
  const duration = agentDuration(agent, now);
  switch (agent.state) {
    case "waiting":
      return agent.waitingOn.length ? `waiting on ${agent.waitingOn.join(", ")}` : "waiting";
    case "queued":
      return "queued (max parallel)";
    case "gated":
      return "waiting for approval";
    case "running":
      return duration ? `running ${duration}` : "running";
    default: {
      const base = duration ? `${agent.state.replace("_", " ")} ${duration}` : agent.state.replace("_", " ");
      return agent.error && agent.state !== "succeeded" && agent.error !== agent.state ? `${base}: ${agent.error}` : base;
    }
  }
}

/** One line for an event, as shown under its agent and in the events output. */
export function describeEvent(event: CounterpointEvent): string {
  const meta = event.metadata ?? {};
  switch (event.type) {
    case "agent_waiting": {
      const on = stringList(payloadOf(event, "agent_waiting").waiting_on);
      return on.length ? `waiting on ${on.join(", ")}` : "waiting";
    }
    case "agent_queued":
      return "queued";
    case "agent_gated":
      return "waiting for approval";
    case "agent_started": {
      const { attempt } = payloadOf(event, "agent_started");
      return typeof attempt === "number" && attempt > 1 ? `started (attempt ${attempt})` : "started";
    }
    case "agent_active":
      return "working";
    case "agent_output":
      return typeof meta.line === "string" ? `> ${meta.line}` : "> (output)";
    case "agent_finished": {
      const { duration_s, error } = payloadOf(event, "agent_finished");
      const d = typeof duration_s === "number" ? ` in ${formatSeconds(duration_s)}` : "";
      const err = typeof error === "string" && error !== event.action ? `: ${error}` : "";
      return `${event.action ?? "finished"}${d}${err}`;
    }
    case "signal": {
      // A file signal has no actor; the server names the agent whose write fired it, when known.
      const by = event.actor ?? (typeof meta.by === "string" ? meta.by : null);
      const file = typeof meta.path === "string" ? ` (${meta.path})` : "";
      return `signal ${event.action ?? ""}${by ? ` by ${by}` : ""}${event.actor ? "" : file}`;
    }
    case "run_started":
      return `run started${event.action ? `: ${event.action}` : ""}`;
    case "run_finished":
      return `run ${event.action ?? "finished"}`;
    case "tool_call":
      return `tool ${event.action ?? ""}`;
    case "file_written":
      return `wrote ${event.action ?? ""}`;
    case "finding": {
      const { message } = payloadOf(event, "finding");
      return `finding${typeof message === "string" ? `: ${message}` : ""}`;
    }
    case "check_finished":
      return `check ${event.action ?? ""} finished`;
    case "gate_answered":
      return `gate: ${event.action ?? ""}`;
    case "working_copy_created":
      return "working copy ready";
    case "snapshot":
      return `snapshot${typeof meta.signal === "string" ? ` at ${meta.signal}` : ""}`;
    case "agent_merged": {
      const { files, added, removed, order } = payloadOf(event, "agent_merged");
      const n = typeof order === "number" ? ` #${order}` : "";
      return `merged${n} (${files ?? 0} files, +${added ?? 0} −${removed ?? 0})`;
    }
    case "merge_conflict":
    case "conflict_predicted": {
      const { agents, message } = payloadOf(event, "merge_conflict"); // conflict_predicted: the same payload
      const other = stringList(agents).filter((a) => a !== event.actor).join(", ");
      const what = event.type === "merge_conflict" ? "merge conflict" : "predicted conflict";
      return typeof message === "string" && message ? `${what}: ${message}` : `${what} with ${other || "another agent"}`;
    }
    case "conflict_cleared":
      return "predicted conflict cleared";
    default:
      return `${event.type}${event.action ? ` ${event.action}` : ""}`;
  }
}

/** "12:00:03" for an ISO timestamp (local time), or the input when it does not parse. */
export function clockTime(timestamp: string): string {
  const t = Date.parse(timestamp);
  if (Number.isNaN(t)) return timestamp;
  return new Date(t).toTimeString().slice(0, 8);
}

function agentNames(value: unknown): string[] {
  if (Array.isArray(value)) {
    return value
      .map((v) => (typeof v === "string" ? v : v && typeof v === "object" && "name" in v ? String(v.name) : ""))
      .filter((n) => n.length > 0);
  }
  if (value && typeof value === "object") return Object.keys(value);
  return [];
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}
