/**
 * Names shared with the server: command ids, notification names, event types and agent states,
 * read from `generated/methods.json` (copied at build time from the protocol package), and the
 * TypeScript shapes of an event, of the typed event payloads and of the status result, generated at
 * build time from the protocol's JSON Schemas (`generated/protocolTypes.ts`: never typed by hand).
 */
import methods from "./generated/methods.json";
import type { Event, EventPayloads } from "./generated/protocolTypes";

export const SERVER_COMMANDS = methods.commands;
export const NOTIFICATIONS = methods.notifications;
export const EVENT_TYPES: readonly string[] = methods.eventTypes;
export const AGENT_STATES: readonly string[] = methods.agentStates;
export const SPEC_GLOB: string = methods.specGlob;
/** The run id of a plan's events starts with this (`counterpoint.plan`: a plan is no run). */
export const PLAN_ID_PREFIX: string = methods.planIdPrefix;
/** `*.agents.md` with the folder part stripped, for file-name tests. */
export const SPEC_SUFFIX = SPEC_GLOB.replace(/^\*\*\/\*/, "");

/** The generated types: Event, EventPayloads and each payload (FindingPayload...), StatusResult... */
export type * from "./generated/protocolTypes";

/** One row of the event log: the params of a `counterpoint/event` notification. */
export type CounterpointEvent = Event;

/** The event types whose `metadata` the protocol types (the others carry a free record). */
export type PayloadType = keyof EventPayloads;

/**
 * The metadata of an event of a typed type, as the protocol types it. Partial: it comes off the wire,
 * perhaps from the log of an older server, so a reader still checks each value it uses.
 */
export function payloadOf<T extends PayloadType>(event: CounterpointEvent, _type: T): Partial<EventPayloads[T]> {
  return (event.metadata ?? {}) as Partial<EventPayloads[T]>;
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
