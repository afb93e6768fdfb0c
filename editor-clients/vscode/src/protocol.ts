/**
 * Names shared with the server: command ids, notification names, event types and agent states,
 * read from `generated/methods.json` (copied at build time from the protocol package), plus the
 * TypeScript shapes of an event and of the command results the extension uses.
 */
import methods from "./generated/methods.json";

export const SERVER_COMMANDS = methods.commands;
export const NOTIFICATIONS = methods.notifications;
export const EVENT_TYPES: readonly string[] = methods.eventTypes;
export const AGENT_STATES: readonly string[] = methods.agentStates;
export const SPEC_GLOB: string = methods.specGlob;
/** `*.agents.md` with the folder part stripped, for file-name tests. */
export const SPEC_SUFFIX = SPEC_GLOB.replace(/^\*\*\/\*/, "");

/** One row of the event log: the params of a `counterpoint/event` notification. */
export interface CounterpointEvent {
  id: number;
  run_id: string;
  type: string;
  actor?: string | null;
  action?: string | null;
  metadata?: Record<string, unknown>;
  timestamp: string;
}

export interface AgentStatusInfo {
  name: string;
  state: string;
  duration_s?: number | null;
  started_at?: string | null;
  finished_at?: string | null;
  last_output?: string | null;
  waiting_on?: string[];
}

export interface RunStatusInfo {
  runId: string;
  spec: string;
  state: string;
  agents: AgentStatusInfo[];
  signals?: Record<string, string>;
}

export interface StatusResult {
  runs: RunStatusInfo[];
}

/** Whether `value` looks like an event (the notification's params are checked before use). */
export function isEvent(value: unknown): value is CounterpointEvent {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.run_id === "string" && typeof v.type === "string" && typeof v.timestamp === "string";
}

/** Whether a file name or path is a spec (`*.agents.md`). */
export function isSpecPath(path: string): boolean {
  return path.endsWith(SPEC_SUFFIX);
}
