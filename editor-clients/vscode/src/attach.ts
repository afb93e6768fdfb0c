/**
 * "Counterpoint: Attach to Run…" without `vscode`: the quick pick's items (the workspace's last run,
 * or the run id being typed), the `counterpoint.attach {runId}` argument, the check of a typed id and
 * the line said once the server shows the run. The server replays the run's events and follows its
 * new ones (progress, findings as diagnostics, its end as a message); the Agents view shows it from
 * those events like a run started here.
 *
 * The server has no command listing the runs of the log, and `counterpoint.attach` takes a run id
 * only: "last" is read here from `counterpoint.events {type: "run_started"}` without a run id, which
 * answers with the newest run of the workspace's log (nothing while the server has not opened it).
 */
import type { ExecuteCommand } from "./commands";
import { type AttachResult, type CounterpointEvent, SERVER_COMMANDS } from "./protocol";
import { clockTime } from "./runModel";

/** The pick (or argument) meaning the newest run of the workspace's log. */
export const LAST = "last";
export const ATTACH_TITLE = "Counterpoint: Attach to Run";
export const ATTACH_PLACEHOLDER = "Type a run id (from a terminal, CI or a colleague's machine), or pick the last run";
/** How long a run id may be (AttachParams.runId). */
export const MAX_RUN_ID = 200;
/** Said when "last" names no run. */
export const NO_LAST_RUN =
  "no run of this workspace's event log is known yet: type its id (`counterpoint events --run all --type run_started` lists them)";

export function attachCommand(runId: string): ExecuteCommand {
  return { command: SERVER_COMMANDS.attach, arguments: [{ runId: runId.trim() }] };
}

/** The newest run of the workspace's log: its `run_started` event (`counterpoint.events` with no run id). */
export function lastRunCommand(): ExecuteCommand {
  return { command: SERVER_COMMANDS.events, arguments: [{ type: "run_started" }] };
}

export interface LastRun {
  runId: string;
  feature: string;
  spec: string;
  startedAt: string;
}

/** The last run from `counterpoint.events`' answer (its run_started event; the newest if several). */
export function lastRunOf(events: readonly CounterpointEvent[]): LastRun | undefined {
  const started = events.filter((e) => e.type === "run_started" && typeof e.run_id === "string" && e.run_id);
  const event = started[started.length - 1];
  if (!event) return undefined;
  const spec = event.metadata?.spec;
  return {
    runId: event.run_id,
    feature: event.action ?? "",
    spec: typeof spec === "string" ? spec : "",
    startedAt: event.timestamp,
  };
}

/** Why a typed run id cannot be sent (undefined: it can). */
export function runIdProblem(value: string): string | undefined {
  const id = value.trim();
  if (!id) return "Type a run id, or pick the last run.";
  if (id.length > MAX_RUN_ID) return `A run id has at most ${MAX_RUN_ID} characters.`;
  if (/\s/.test(id)) return "A run id has no spaces.";
  return undefined;
}

export interface AttachItem {
  label: string;
  description?: string;
  detail?: string;
  /** Kept in the list whatever is typed (VS Code filters the others by the typed text). */
  alwaysShow: boolean;
  /** The id to attach to, or LAST when the last run is not known yet. */
  runId: string;
}

/**
 * The quick pick's items: the id being typed (when it is one), then the last run (always offered;
 * described when known). `asRelative` shortens the spec's path for the detail line.
 */
export function attachItems(
  last: LastRun | undefined,
  typed: string,
  asRelative: (path: string) => string = (path) => path,
): AttachItem[] {
  const items: AttachItem[] = [];
  const id = typed.trim();
  if (id && id !== LAST && runIdProblem(id) === undefined && id !== last?.runId) {
    items.push({ label: id, description: "attach to this run", alwaysShow: true, runId: id });
  }
  if (last) {
    const parts = [last.feature, last.spec ? asRelative(last.spec) : "", last.startedAt ? `started ${clockTime(last.startedAt)}` : ""];
    items.push({
      label: LAST,
      description: last.runId,
      detail: parts.filter((p) => p).join(" · "),
      alwaysShow: true,
      runId: last.runId,
    });
  } else {
    items.push({
      label: LAST,
      description: "the newest run of this workspace's event log",
      alwaysShow: true,
      runId: LAST,
    });
  }
  return items;
}

/** What to attach to once the person accepted the pick: the chosen item's id, else the typed one. */
export function chosenRunId(item: AttachItem | undefined, typed: string): string | undefined {
  if (item) return item.runId;
  const id = typed.trim();
  return runIdProblem(id) === undefined ? id : undefined;
}

/** `counterpoint.attach`'s result, if it is one. */
export function attachResultOf(result: unknown): AttachResult | undefined {
  if (!result || typeof result !== "object") return undefined;
  const r = result as Record<string, unknown>;
  if (typeof r.runId !== "string" || typeof r.state !== "string" || typeof r.following !== "boolean") return undefined;
  return result as AttachResult;
}

/** The line said once the server shows the run (its message, else one made from the result). */
export function attachMessage(result: AttachResult): { text: string; warning: boolean } {
  const said =
    result.message ||
    `run ${result.runId}: ${result.following ? "following it" : `it has ended: ${result.state}`}`;
  return { text: `Counterpoint: ${said}`, warning: result.spec == null };
}
