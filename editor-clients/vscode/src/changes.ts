/**
 * The changes of isolated agents, without `vscode`: each agent's `counterpoint.diff` result kept per
 * run, which events call for fetching it again, the Agents view's file nodes (with +/− counts) and
 * the `counterpoint-git:` URIs the diff editor reads a file at a commit through (`counterpoint.showFile`).
 */
import type { CounterpointEvent, DiffResult, FileChange } from "./protocol";
import type { RunModel, RunModelState } from "./runModel";
import type { TreeNode } from "./views";

/** The scheme of the file versions the diff editor shows (served by `counterpoint.showFile`). */
export const GIT_SCHEME = "counterpoint-git";
/** The palette-less command a file node runs: open the diff of one changed file. */
export const OPEN_CHANGE_COMMAND = "counterpoint.vscode.openChange";
/** Events after which an isolated agent's changes are fetched again. */
export const REFRESHING_EVENTS = new Set(["agent_merged", "agent_finished", "snapshot"]);

/** What a file node hands to `OPEN_CHANGE_COMMAND`. */
export interface ChangeTarget {
  runId: string;
  agent: string;
  /** The commit the agent started from (the left side). */
  base: string;
  /** The agent's version (the right side). */
  head: string;
  path: string;
  /** A renamed file's path at `base`. */
  oldPath?: string;
  status: string;
}

/** The parts of a `counterpoint-git:` URI (for `vscode.Uri.from`). */
export interface GitUriParts {
  scheme: string;
  path: string;
  query: string;
}

/**
 * A file at a commit of a run: the path part is the file's own (so that the editor names the tab and
 * picks the language by it), the query says which run, commit and file the text is read from.
 */
export function gitUri(runId: string, commit: string, path: string): GitUriParts {
  const query = new URLSearchParams({ run: runId, commit, path }).toString();
  return { scheme: GIT_SCHEME, path: `/${path.replace(/^\/+/, "")}`, query };
}

/** The `counterpoint.showFile` arguments of a `counterpoint-git:` URI's query; undefined if it is not one. */
export function parseGitQuery(query: string): { runId: string; commit: string; path: string } | undefined {
  const params = new URLSearchParams(query);
  const runId = params.get("run");
  const commit = params.get("commit");
  const path = params.get("path");
  if (!runId || !commit || !path) return undefined;
  return { runId, commit, path };
}

/** The two sides of a changed file and the diff editor's title. */
export function diffSides(target: ChangeTarget): { left: GitUriParts; right: GitUriParts; title: string } {
  const name = baseName(target.path);
  return {
    left: gitUri(target.runId, target.base, target.oldPath ?? target.path),
    right: gitUri(target.runId, target.head, target.path),
    title: `${name} (base ↔ ${target.agent})`,
  };
}

/** "+12 −3", or "binary" for a binary file. */
export function countsOf(change: FileChange): string {
  if (change.binary) return "binary";
  return `+${change.added ?? 0} −${change.removed ?? 0}`;
}

const STATUS_ICONS: Record<string, { icon: string; color: string }> = {
  added: { icon: "diff-added", color: "gitDecoration.addedResourceForeground" },
  deleted: { icon: "diff-removed", color: "gitDecoration.deletedResourceForeground" },
  renamed: { icon: "diff-renamed", color: "gitDecoration.renamedResourceForeground" },
  modified: { icon: "diff-modified", color: "gitDecoration.modifiedResourceForeground" },
};

/** The Agents view's nodes of one agent's changed files (under the agent's node). */
export function fileNodes(runId: string, agent: string, diff: DiffResult): TreeNode[] {
  return (diff.files ?? []).map((change) => {
    const look = STATUS_ICONS[change.status] ?? { icon: "diff", color: "gitDecoration.modifiedResourceForeground" };
    const folder = dirName(change.path);
    const target: ChangeTarget = {
      runId,
      agent,
      base: diff.base,
      head: diff.head,
      path: change.path,
      status: change.status,
      ...(change.old_path ? { oldPath: change.old_path } : {}),
    };
    const renamed = change.old_path ? ` (from ${change.old_path})` : "";
    return {
      id: `${runId}/agent/${agent}/file/${change.path}`,
      label: baseName(change.path),
      description: `${countsOf(change)}${folder ? ` · ${folder}` : ""}`,
      tooltip: `${change.path}${renamed}: ${change.status}, ${countsOf(change)}\nClick to compare ${agent}'s version with what it started from.`,
      icon: look.icon,
      color: look.color,
      contextValue: "file-change",
      command: { id: OPEN_CHANGE_COMMAND, title: "Compare with the base", args: [target] },
      children: [],
    };
  });
}

/** "3 files changed, +12 −3" for an agent's node. */
export function changesSummary(diff: DiffResult): string {
  const files = diff.files ?? [];
  const added = files.reduce((n, f) => n + (f.added ?? 0), 0);
  const removed = files.reduce((n, f) => n + (f.removed ?? 0), 0);
  return `${files.length} file${files.length === 1 ? "" : "s"} changed, +${added} −${removed}`;
}

/** The `counterpoint.diff` result of a command's answer, when it is one. */
export function diffResultOf(result: unknown): DiffResult | undefined {
  if (!result || typeof result !== "object") return undefined;
  const r = result as Partial<DiffResult>;
  if (typeof r.runId !== "string" || typeof r.base !== "string" || typeof r.head !== "string") return undefined;
  return { ...r, files: Array.isArray(r.files) ? r.files.filter(isFileChange) : [] } as DiffResult;
}

function isFileChange(value: unknown): value is FileChange {
  return !!value && typeof value === "object" && typeof (value as FileChange).path === "string";
}

/** The changes of isolated agents, per run and agent, newest fetch wins. */
export class AgentChanges {
  private readonly diffs = new Map<string, DiffResult>();
  private readonly asked = new Map<string, number>();
  private counter = 0;

  /** Notes a fetch about to be sent; its number, for `settle`. */
  ask(runId: string, agent: string): number {
    const n = ++this.counter;
    this.asked.set(key(runId, agent), n);
    return n;
  }

  /** Keeps the answer of fetch `n`, unless a newer fetch was sent meanwhile; whether it was kept. */
  settle(runId: string, agent: string, n: number, diff: DiffResult | undefined): boolean {
    const k = key(runId, agent);
    if (this.asked.get(k) !== n) return false;
    this.asked.delete(k);
    if (diff) this.diffs.set(k, diff);
    return diff !== undefined;
  }

  get(runId: string, agent: string): DiffResult | undefined {
    return this.diffs.get(key(runId, agent));
  }

  /** Forgets a run (discarded). */
  forget(runId: string): void {
    for (const k of [...this.diffs.keys()]) if (k.startsWith(`${runId}\u0000`)) this.diffs.delete(k);
  }
}

/**
 * The agent whose changes to fetch after `event` (already applied to `model`): an isolated agent of
 * the newest run, when it merged, finished or took a snapshot; undefined otherwise.
 */
export function changeToFetch(model: RunModel, event: CounterpointEvent): { runId: string; agent: string } | undefined {
  if (!REFRESHING_EVENTS.has(event.type) || !event.actor) return undefined;
  const newest = model.list()[0];
  if (!newest || newest.runId !== event.run_id) return undefined;
  const agent = newest.agents.get(event.actor);
  if (!agent || !agent.isolated) return undefined;
  return { runId: newest.runId, agent: agent.name };
}

/** Every isolated agent of the newest run (to fetch their changes once the extension knows the run). */
export function isolatedAgents(run: RunModelState | undefined): string[] {
  if (!run) return [];
  return [...run.agents.values()].filter((a) => a.isolated).map((a) => a.name);
}

/** The runs one may apply or discard: isolated (or not known not to be), not live, newest first. */
export function reviewableRuns(model: RunModel): RunModelState[] {
  return model.list().filter((r) => r.state !== "running" && r.isolated !== false);
}

/** The message after `counterpoint.apply`. */
export function appliedMessage(runId: string, result: unknown): string {
  const files = result && typeof result === "object" ? (result as { files?: unknown }).files : undefined;
  const count = Array.isArray(files) ? files.length : 0;
  return `Counterpoint: applied run ${runId} (${count} file${count === 1 ? "" : "s"} changed in your working tree).`;
}

/** The message after `counterpoint.discard`. */
export function discardedMessage(runId: string, result: unknown): string {
  const r = (result && typeof result === "object" ? result : {}) as { refs?: unknown; working_copies?: unknown };
  const refs = Array.isArray(r.refs) ? r.refs.length : 0;
  const copies = Array.isArray(r.working_copies) ? r.working_copies.length : 0;
  return `Counterpoint: discarded run ${runId} (${refs} branch${refs === 1 ? "" : "es"}, ${copies} working cop${copies === 1 ? "y" : "ies"} removed).`;
}

function key(runId: string, agent: string): string {
  return `${runId}\u0000${agent}`;
}

function baseName(path: string): string {
  return path.split("/").pop() || path;
}

function dirName(path: string): string {
  const parts = path.split("/");
  return parts.slice(0, -1).join("/");
}
