/**
 * What the user sees of the run model, without `vscode`: the Agents tree as plain nodes (label,
 * description, icon, context value, children), the status-bar text and the progress message and
 * percentage of a run. The vscode adapters (agentsView.ts, extension.ts) only map these.
 */
import { changesSummary, fileNodes } from "./changes";
import type { DiffResult } from "./protocol";
import {
  type AgentModel,
  type RunModel,
  type RunModelState,
  clockTime,
  countAgents,
  describeAgent,
  formatSeconds,
  secondsBetween,
} from "./runModel";

export interface TreeNode {
  id: string;
  label: string;
  description?: string;
  tooltip?: string;
  /** A codicon id, e.g. "sync~spin". */
  icon?: string;
  /** A theme color id for the icon. */
  color?: string;
  /** For menus: run-live, run-done, run-isolated (a finished isolated run), agent-<state>, agent-failed,
   * signals, signal, event, file-change. */
  contextValue: string;
  /** Run this command (palette id) with `commandArgs` when the node is clicked. */
  command?: { id: string; title: string; args: unknown[] };
  children: TreeNode[];
  expanded?: boolean;
}

const STATE_ICONS: Record<string, { icon: string; color?: string }> = {
  pending: { icon: "circle-outline" },
  waiting: { icon: "watch", color: "charts.yellow" },
  queued: { icon: "list-ordered", color: "charts.yellow" },
  gated: { icon: "shield", color: "charts.orange" },
  running: { icon: "sync~spin", color: "charts.blue" },
  succeeded: { icon: "pass", color: "testing.iconPassed" },
  failed: { icon: "error", color: "testing.iconFailed" },
  timed_out: { icon: "clock", color: "testing.iconFailed" },
  cancelled: { icon: "circle-slash", color: "disabledForeground" },
  blocked: { icon: "debug-disconnect", color: "testing.iconFailed" },
  skipped: { icon: "debug-step-over", color: "disabledForeground" },
  finished: { icon: "check" },
};

export function stateIcon(state: string): { icon: string; color?: string } {
  return STATE_ICONS[state] ?? { icon: "question" };
}

export function runTitle(run: RunModelState): string {
  const name = run.feature || baseName(run.spec) || run.runId;
  return name;
}

export function countsText(run: RunModelState): string {
  const c = countAgents(run);
  const parts = [`${c.running} running`, `${c.done} done`, `${c.failed} failed`];
  if (c.cancelled) parts.push(`${c.cancelled} cancelled`);
  if (c.waiting) parts.push(`${c.waiting} waiting`);
  return parts.join(" · ");
}

/** An isolated agent's changes (its `counterpoint.diff` result), when known. */
export type ChangesOf = (runId: string, agent: string) => DiffResult | undefined;

/** The Agents view: every run, newest first; under each isolated agent of the newest, its changed files. */
export function buildTree(model: RunModel, now: Date = new Date(), changesOf?: ChangesOf): TreeNode[] {
  return model.list().map((run, index) => runNode(run, now, index === 0, index === 0 ? changesOf : undefined));
}

function runNode(run: RunModelState, now: Date, newest: boolean, changesOf?: ChangesOf): TreeNode {
  const live = run.state === "running";
  const wall = run.wallS ?? secondsBetween(run.startedAt, live ? now : run.finishedAt);
  const icon = live ? { icon: "sync~spin", color: "charts.blue" } : stateIcon(run.state);
  const agents = [...run.agents.values()].map((a) =>
    agentNode(run, a, now, a.isolated && changesOf ? changesOf(run.runId, a.name) : undefined),
  );
  const signals: TreeNode = {
    id: `${run.runId}/signals`,
    label: "Signals",
    description: run.signals.length ? `${run.signals.length} fired` : "none fired yet",
    icon: "broadcast",
    contextValue: "signals",
    children: run.signals.map((s) => {
      const after = secondsBetween(run.startedAt, s.firedAt);
      return {
        id: `${run.runId}/signal/${s.name}`,
        label: s.name,
        description: `fired ${clockTime(s.firedAt)}${after !== undefined ? ` (+${formatSeconds(after)})` : ""}${s.actor ? ` by ${s.actor}` : ""}`,
        tooltip: `${s.name} fired at ${s.firedAt}${s.actor ? ` by ${s.actor}` : ""}`,
        icon: "zap",
        contextValue: "signal",
        children: [],
      };
    }),
  };
  return {
    id: run.runId,
    label: `${runTitle(run)} — ${live ? "running" : run.state}`,
    description: `${countsText(run)}${wall !== undefined ? ` · ${formatSeconds(wall)}` : ""}`,
    tooltip: `Run ${run.runId}\nSpec: ${run.spec}\nState: ${run.state}${run.findings ? `\nFindings: ${run.findings}` : ""}`,
    icon: icon.icon,
    color: icon.color,
    contextValue: live ? "run-live" : run.isolated ? "run-isolated" : "run-done",
    children: [...agents, signals],
    expanded: newest,
  };
}

function agentNode(run: RunModelState, agent: AgentModel, now: Date, changes?: DiffResult): TreeNode {
  const icon = stateIcon(agent.state);
  const failed = ["failed", "timed_out", "blocked", "cancelled"].includes(agent.state);
  const lines = [
    `${agent.name}: ${describeAgent(agent, now)}`,
    agent.waitingOn.length ? `Waiting on: ${agent.waitingOn.join(", ")}` : "",
    agent.startedAt ? `Started: ${agent.startedAt}` : "",
    agent.finishedAt ? `Finished: ${agent.finishedAt}` : "",
    agent.lastOutput ? `Last output: ${agent.lastOutput}` : "",
    changes ? `Changes: ${changesSummary(changes)}` : "",
  ].filter((l) => l.length > 0);
  return {
    id: `${run.runId}/agent/${agent.name}`,
    label: agent.name,
    description: describeAgent(agent, now),
    tooltip: lines.join("\n"),
    icon: icon.icon,
    color: icon.color,
    contextValue: failed ? "agent-failed" : `agent-${agent.state}`,
    children: [...(changes ? fileNodes(run.runId, agent.name, changes) : []), ...eventNodes(run, agent)],
  };
}

function eventNodes(run: RunModelState, agent: AgentModel): TreeNode[] {
  return [...agent.events].reverse().map((e) => ({
    id: `${run.runId}/agent/${agent.name}/event/${e.id}`,
    label: e.text,
    description: clockTime(e.timestamp),
    tooltip: `${e.type} at ${e.timestamp}`,
    icon: e.type === "agent_output" ? "output" : "debug-stackframe-dot",
    contextValue: "event",
    children: [],
  }));
}

/** The status-bar item: text and tooltip for the current run, or undefined when there is none. */
export function statusBarText(model: RunModel): { text: string; tooltip: string; live: boolean } | undefined {
  const run = model.current();
  if (run === undefined) return undefined;
  const c = countAgents(run);
  const live = run.state === "running";
  const icon = live ? "$(sync~spin)" : c.failed ? "$(error)" : run.state === "cancelled" ? "$(circle-slash)" : "$(pass)";
  const text = `${icon} ${c.running} running · ${c.done} done · ${c.failed} failed${c.cancelled ? ` · ${c.cancelled} cancelled` : ""}`;
  const tooltip = `Counterpoint run ${run.runId} (${runTitle(run)}): ${live ? "running" : run.state}. Click to show the Agents view.`;
  return { text, tooltip, live };
}

/** The progress notification of a run: a message and the share of finished agents (0-100). */
export function progressOf(run: RunModelState): { message: string; percent: number } {
  const c = countAgents(run);
  const finished = c.done + c.failed + c.cancelled;
  const percent = c.total ? Math.round((finished / c.total) * 100) : 0;
  const agents = [...run.agents.values()];
  const running = agents.filter((a) => a.state === "running").map((a) => a.name);
  const waiting = agents
    .filter((a) => a.state === "waiting" && a.waitingOn.length)
    .map((a) => `${a.name} waits on ${a.waitingOn.join(", ")}`);
  const parts = [`${finished}/${c.total} done`];
  if (running.length) parts.push(`running: ${running.join(", ")}`);
  if (waiting.length) parts.push(waiting.slice(0, 2).join("; "));
  if (c.failed) parts.push(`${c.failed} failed`);
  return { message: parts.join(" · "), percent };
}

function baseName(path: string): string {
  const name = path.split(/[\\/]/).pop() ?? "";
  return name.replace(/\.agents\.md$/, "");
}
