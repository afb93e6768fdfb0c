/**
 * The arguments of the server's `workspace/executeCommand` commands and the reading of their results,
 * without `vscode`: one JSON object argument per command (see commands.schema.json), the run id of
 * `counterpoint.run`, the report path of `counterpoint.report`, agent names from document symbols,
 * and the text of the events panel.
 */
import { SERVER_COMMANDS, type CounterpointEvent } from "./protocol";
import { clockTime, describeEvent } from "./runModel";

export interface ExecuteCommand {
  command: string;
  arguments: [Record<string, unknown>];
}

export function runCommand(uri: string, agents?: readonly string[]): ExecuteCommand {
  const args: Record<string, unknown> = { uri };
  if (agents && agents.length) args.agents = [...agents];
  return { command: SERVER_COMMANDS.run, arguments: [args] };
}

/** Cancels one run, or every live run when `runId` is undefined. */
export function cancelCommand(runId?: string): ExecuteCommand {
  return { command: SERVER_COMMANDS.cancel, arguments: [runId ? { runId } : {}] };
}

export function statusCommand(): ExecuteCommand {
  return { command: SERVER_COMMANDS.status, arguments: [{}] };
}

export function rerunCommand(runId: string, agent: string): ExecuteCommand {
  return { command: SERVER_COMMANDS.rerun, arguments: [{ runId, agent }] };
}

export function eventsCommand(runId?: string, type?: string): ExecuteCommand {
  const args: Record<string, unknown> = {};
  if (runId) args.runId = runId;
  if (type) args.type = type;
  return { command: SERVER_COMMANDS.events, arguments: [args] };
}

export function reportCommand(runId?: string): ExecuteCommand {
  return { command: SERVER_COMMANDS.report, arguments: [runId ? { runId } : {}] };
}

/** One isolated agent's changes (its start commit to its branch), or the whole run's without `agent`. */
export function diffCommand(runId: string, agent?: string): ExecuteCommand {
  return { command: SERVER_COMMANDS.diff, arguments: [agent ? { runId, agent } : { runId }] };
}

export function applyCommand(runId: string): ExecuteCommand {
  return { command: SERVER_COMMANDS.apply, arguments: [{ runId }] };
}

export function discardCommand(runId: string): ExecuteCommand {
  return { command: SERVER_COMMANDS.discard, arguments: [{ runId }] };
}

/** A file's text at a commit of an isolated run (`path` relative to the repository's top folder). */
export function showFileCommand(runId: string, commit: string, path: string): ExecuteCommand {
  return { command: SERVER_COMMANDS.show_file, arguments: [{ runId, commit, path }] };
}

/** The run id from `counterpoint.run`'s result (`{"runId": ...}`). */
export function runIdOf(result: unknown): string | undefined {
  if (result && typeof result === "object") {
    const r = result as Record<string, unknown>;
    if (typeof r.runId === "string") return r.runId;
    if (typeof r.run_id === "string") return r.run_id;
  }
  return typeof result === "string" && result ? result : undefined;
}

/** The report file to open from `counterpoint.report`'s result: html first, else the first file. */
export function reportFileOf(result: unknown): { path: string; kind: string } | undefined {
  if (!result || typeof result !== "object") return undefined;
  const files = (result as Record<string, unknown>).files;
  if (files && typeof files === "object") {
    const entries = Object.entries(files as Record<string, unknown>).filter(
      (e): e is [string, string] => typeof e[1] === "string" && e[1].length > 0,
    );
    const html = entries.find(([kind]) => kind === "html");
    const chosen = html ?? entries[0];
    if (chosen) return { path: chosen[1], kind: chosen[0] };
  }
  const path = (result as Record<string, unknown>).path;
  return typeof path === "string" ? { path, kind: "file" } : undefined;
}

/** The events from `counterpoint.events`' result: a list, or `{"events": [...]}`. */
export function eventsOf(result: unknown): CounterpointEvent[] {
  const list = Array.isArray(result)
    ? result
    : result && typeof result === "object" && Array.isArray((result as Record<string, unknown>).events)
      ? ((result as Record<string, unknown>).events as unknown[])
      : [];
  return list.filter(
    (e): e is CounterpointEvent => !!e && typeof e === "object" && typeof (e as CounterpointEvent).type === "string",
  );
}

/** One line per event, for the events output channel. */
export function formatEvents(events: readonly CounterpointEvent[]): string {
  return events
    .map((e) => {
      const who = e.actor ? `${e.actor}: ` : "";
      return `${clockTime(e.timestamp)}  #${e.id}  ${e.type.padEnd(15)} ${who}${describeEvent(e)}`;
    })
    .join("\n");
}

/** The shape of an LSP DocumentSymbol or SymbolInformation, as far as the agent pick needs it. */
export interface SymbolLike {
  name: string;
  detail?: string;
  children?: SymbolLike[];
}

/**
 * Agent names from a spec's document symbols (the server lists the agents). Nested symbols: the
 * leaves are the agents (a top-level feature heading holding them is skipped). Falls back to the
 * `## name` headings of `text` when there are no symbols.
 */
export function agentNamesFromSymbols(symbols: readonly SymbolLike[] | undefined, text?: string): string[] {
  const names: string[] = [];
  const walk = (list: readonly SymbolLike[]): void => {
    for (const s of list) {
      if (s.children && s.children.length) walk(s.children);
      else names.push(s.name);
    }
  };
  if (symbols && symbols.length) walk(symbols);
  if (!names.length && text !== undefined) {
    for (const m of text.matchAll(/^##\s+([^\s#]+)\s*$/gm)) names.push(m[1]);
  }
  return [...new Set(names.map((n) => n.trim()).filter((n) => n.length > 0))];
}
