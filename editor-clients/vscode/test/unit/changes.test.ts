/** Isolated agents' changes: the Agents view's file nodes, the counterpoint-git: URIs, when changes are
 * fetched, the review commands' arguments and messages. */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AgentChanges,
  GIT_SCHEME,
  OPEN_CHANGE_COMMAND,
  appliedMessage,
  changeToFetch,
  changesSummary,
  diffResultOf,
  diffSides,
  discardedMessage,
  fileNodes,
  gitUri,
  isolatedAgents,
  parseGitQuery,
  reviewableRuns,
} from "../../src/changes";
import { applyCommand, diffCommand, discardCommand, showFileCommand } from "../../src/commands";
import { type CounterpointEvent, type DiffResult, type EventPayloads, type PayloadType, SERVER_COMMANDS } from "../../src/protocol";
import { RunModel, describeEvent } from "../../src/runModel";
import { type TreeNode, buildTree } from "../../src/views";

let nextId = 1;
function ev(type: string, actor: string | null, metadata: Record<string, unknown>, run = "r1", action: string | null = null): CounterpointEvent {
  return { id: nextId++, run_id: run, type, actor, action, metadata, timestamp: new Date(Date.UTC(2026, 0, 1, 10, 0, nextId)).toISOString() };
}

function typed<T extends PayloadType>(type: T, actor: string, payload: EventPayloads[T], run = "r1"): CounterpointEvent {
  return ev(type, actor, { ...payload }, run);
}

const BASE = "a".repeat(40);
const HEAD = "b".repeat(40);
const DIFF: DiffResult = {
  runId: "r1",
  agent: "left",
  base: BASE,
  head: HEAD,
  files: [
    { path: "app/models.py", status: "modified", added: 12, removed: 3 },
    { path: "README.md", status: "added", added: 4, removed: 0 },
    { path: "app/new_name.py", status: "renamed", added: 1, removed: 1, old_path: "app/old_name.py" },
    { path: "logo.png", status: "modified", binary: true },
  ],
};

function isolatedRun(model: RunModel, run = "r1"): void {
  model.apply(
    ev("run_started", null, { spec: "/w/clash.agents.md", agents: ["left", "right", "fixer"], isolation: { base: BASE, toplevel: "/w" } }, run, "Clash"),
  );
  model.apply(typed("working_copy_created", "left", { path: "/w/.counterpoint/worktrees/left", branch: "b/left", start_commit: BASE, method: "worktree" }, run));
  model.apply(typed("working_copy_created", "integration", { path: "/w/.counterpoint/worktrees/i", branch: "b/i", start_commit: BASE, method: "worktree" }, run));
}

test("counterpoint-git: URIs name the file in their path and the run, commit and file in their query", () => {
  const uri = gitUri("r1", HEAD, "app/models.py");
  assert.equal(uri.scheme, GIT_SCHEME);
  assert.equal(uri.path, "/app/models.py");
  assert.deepEqual(parseGitQuery(uri.query), { runId: "r1", commit: HEAD, path: "app/models.py" });
  const odd = gitUri("r1", "HEAD~1", "dir with space/a&b=c?.py");
  assert.deepEqual(parseGitQuery(odd.query), { runId: "r1", commit: "HEAD~1", path: "dir with space/a&b=c?.py" });
  assert.equal(parseGitQuery("run=r1&path=x"), undefined);
  assert.equal(parseGitQuery(""), undefined);
});

test("a changed file's diff: the base (its old path when renamed) against the agent's version", () => {
  const [, , renamed] = fileNodes("r1", "left", DIFF);
  const sides = diffSides(renamed.command!.args[0] as Parameters<typeof diffSides>[0]);
  assert.deepEqual(parseGitQuery(sides.left.query), { runId: "r1", commit: BASE, path: "app/old_name.py" });
  assert.deepEqual(parseGitQuery(sides.right.query), { runId: "r1", commit: HEAD, path: "app/new_name.py" });
  assert.equal(sides.title, "new_name.py (base ↔ left)");
});

test("file nodes: name, +/− counts and folder, an icon per status, a click that opens the diff", () => {
  const nodes = fileNodes("r1", "left", DIFF);
  assert.deepEqual(
    nodes.map((n) => [n.label, n.description, n.icon]),
    [
      ["models.py", "+12 −3 · app", "diff-modified"],
      ["README.md", "+4 −0", "diff-added"],
      ["new_name.py", "+1 −1 · app", "diff-renamed"],
      ["logo.png", "binary", "diff-modified"],
    ],
  );
  const [models] = nodes;
  assert.equal(models.id, "r1/agent/left/file/app/models.py");
  assert.equal(models.contextValue, "file-change");
  assert.deepEqual(models.command, {
    id: OPEN_CHANGE_COMMAND,
    title: "Compare with the base",
    args: [{ runId: "r1", agent: "left", base: BASE, head: HEAD, path: "app/models.py", status: "modified" }],
  });
  assert.match(models.tooltip!, /app\/models.py: modified, \+12 −3/);
  assert.equal(changesSummary(DIFF), "4 files changed, +17 −4");
});

test("the Agents view lists an isolated agent's changed files (newest run only), before its events", () => {
  const model = new RunModel();
  isolatedRun(model, "r0");
  isolatedRun(model, "r1");
  const seen: string[] = [];
  const changesOf = (runId: string, agent: string): DiffResult | undefined => {
    seen.push(`${runId}/${agent}`);
    return { ...DIFF, runId, agent };
  };
  const roots = buildTree(model, new Date(), changesOf);
  assert.deepEqual(seen, ["r1/left"]); // only isolated agents (not "integration"), only the newest run
  const child = (node: TreeNode, label: string): TreeNode => node.children.find((c) => c.label === label)!;
  const newest = roots.find((r) => r.id === "r1")!;
  assert.equal(newest.contextValue, "run-live");
  const left = child(newest, "left");
  assert.deepEqual(
    left.children.slice(0, 4).map((c) => c.label),
    ["models.py", "README.md", "new_name.py", "logo.png"],
  );
  assert.equal(left.children[4].contextValue, "event");
  assert.match(left.tooltip!, /Changes: 4 files changed, \+17 −4/);
  assert.ok(child(newest, "right").children.every((c) => c.contextValue !== "file-change"));
  assert.ok(!newest.children.some((c) => c.label === "integration"));
  model.apply(ev("run_finished", null, { agents: { left: "succeeded" } }, "r1", "succeeded"));
  assert.equal(buildTree(model, new Date(), changesOf).find((r) => r.id === "r1")!.contextValue, "run-isolated");
});

test("changes are fetched again when an isolated agent of the newest run merges, finishes or snapshots", () => {
  const model = new RunModel();
  isolatedRun(model, "r0");
  isolatedRun(model, "r1");
  assert.deepEqual(isolatedAgents(model.get("r1")), ["left"]);
  const fetch = (e: CounterpointEvent) => (model.apply(e), changeToFetch(model, e));
  assert.deepEqual(fetch(typed("agent_merged", "left", { commit: HEAD, branch: "b", files: 2, added: 3, removed: 1, order: 1 })), {
    runId: "r1",
    agent: "left",
  });
  assert.deepEqual(fetch(ev("agent_finished", "left", { duration_s: 1 }, "r1", "succeeded")), { runId: "r1", agent: "left" });
  assert.deepEqual(fetch(ev("snapshot", "left", { commit: HEAD, signal: "go" })), { runId: "r1", agent: "left" });
  assert.equal(fetch(ev("agent_finished", "right", {}, "r1", "succeeded")), undefined); // not isolated
  assert.equal(fetch(ev("agent_output", "left", { line: "x" })), undefined);
  assert.equal(fetch(ev("agent_finished", "left", {}, "r0", "succeeded")), undefined); // an older run
});

test("the newest fetch of an agent's changes wins; a discarded run is forgotten", () => {
  const changes = new AgentChanges();
  const first = changes.ask("r1", "left");
  const second = changes.ask("r1", "left");
  assert.equal(changes.settle("r1", "left", second, { ...DIFF, head: "new" }), true);
  assert.equal(changes.settle("r1", "left", first, { ...DIFF, head: "old" }), false);
  assert.equal(changes.get("r1", "left")!.head, "new");
  const failed = changes.ask("r1", "left");
  assert.equal(changes.settle("r1", "left", failed, undefined), false);
  assert.equal(changes.get("r1", "left")!.head, "new"); // a failed fetch keeps what was shown
  changes.forget("r1");
  assert.equal(changes.get("r1", "left"), undefined);
});

test("review commands send one object argument with the protocol's ids; their results and messages", () => {
  assert.deepEqual(diffCommand("r1", "left"), { command: SERVER_COMMANDS.diff, arguments: [{ runId: "r1", agent: "left" }] });
  assert.deepEqual(diffCommand("r1").arguments, [{ runId: "r1" }]);
  assert.deepEqual(applyCommand("r1"), { command: SERVER_COMMANDS.apply, arguments: [{ runId: "r1" }] });
  assert.deepEqual(discardCommand("r1"), { command: SERVER_COMMANDS.discard, arguments: [{ runId: "r1" }] });
  assert.deepEqual(showFileCommand("r1", HEAD, "app.py"), {
    command: "counterpoint.showFile",
    arguments: [{ runId: "r1", commit: HEAD, path: "app.py" }],
  });
  assert.equal(diffResultOf({ runId: "r1", base: BASE, head: HEAD, files: [{ path: "a" }, 3] })!.files!.length, 1);
  assert.equal(diffResultOf({ runId: "r1" }), undefined);
  assert.equal(diffResultOf(null), undefined);
  assert.equal(appliedMessage("r1", { files: [{}, {}] }), "Counterpoint: applied run r1 (2 files changed in your working tree).");
  assert.equal(
    discardedMessage("r1", { refs: ["a", "b"], working_copies: ["/w/c"] }),
    "Counterpoint: discarded run r1 (2 branches, 1 working copy removed).",
  );
});

test("runs one may apply or discard: finished, not known to be shared", () => {
  const model = new RunModel();
  isolatedRun(model, "r1");
  model.apply(ev("run_started", null, { spec: "/w/shared.agents.md", agents: ["a"] }, "r2"));
  model.apply(ev("run_finished", null, {}, "r2", "succeeded"));
  assert.deepEqual(reviewableRuns(model), []); // r1 is live, r2 shared
  model.apply(ev("run_finished", null, {}, "r1", "failed"));
  assert.deepEqual(reviewableRuns(model).map((r) => r.runId), ["r1"]);
});

test("isolation events under their agent", () => {
  const conflict = { key: "predict:left+right", agents: ["left", "right"], files: [], message: "" };
  assert.equal(describeEvent(typed("conflict_predicted", "left", conflict)), "predicted conflict with right");
  assert.equal(
    describeEvent(typed("merge_conflict", "left", { ...conflict, message: "left's work conflicts with right's in app.py" })),
    "merge conflict: left's work conflicts with right's in app.py",
  );
  assert.equal(describeEvent(typed("agent_merged", "left", { commit: HEAD, branch: "b", files: 2, added: 3, removed: 1, order: 1 })), "merged #1 (2 files, +3 −1)");
  assert.equal(describeEvent(ev("snapshot", "left", { signal: "go" })), "snapshot at go");
});
