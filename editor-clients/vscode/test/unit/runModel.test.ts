/** The run model and what the views show, fed with the events a real run sends. */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { CounterpointEvent, EventPayloads, PayloadType } from "../../src/protocol";
import { RunModel, countAgents, describeAgent, describeEvent, failedAgents, formatSeconds } from "../../src/runModel";
import { buildTree, progressOf, statusBarText } from "../../src/views";

let nextId = 1;
function ev(type: string, actor: string | null, action: string | null, metadata: Record<string, unknown>, second: number, run = "run-1"): CounterpointEvent {
  const timestamp = new Date(Date.UTC(2026, 0, 1, 10, 0, second)).toISOString();
  return { id: nextId++, run_id: run, type, actor, action, metadata, timestamp };
}

/** An event of a typed type: its payload is checked against the protocol's generated types. */
function typed<T extends PayloadType>(type: T, actor: string, action: string | null, payload: EventPayloads[T], second: number): CounterpointEvent {
  return ev(type, actor, action, { ...payload }, second);
}

function startedRun(model: RunModel): void {
  model.apply(ev("run_started", null, "course enrollment", { spec: "/w/enroll.agents.md", agents: ["backend", "frontend", "integrator"] }, 0));
  model.apply(ev("agent_started", "backend", "running", { attempt: 1, runner: "replay" }, 0));
  model.apply(ev("agent_waiting", "frontend", "waiting", { waiting_on: ["api_ready"] }, 0));
  model.apply(ev("agent_waiting", "integrator", "waiting", { waiting_on: ["backend", "frontend"] }, 0));
}

test("run_started lists the agents; state events move each agent", () => {
  const model = new RunModel();
  startedRun(model);
  const run = model.get("run-1")!;
  assert.equal(run.feature, "course enrollment");
  assert.equal(run.spec, "/w/enroll.agents.md");
  assert.deepEqual([...run.agents.keys()], ["backend", "frontend", "integrator"]);
  assert.equal(run.agents.get("backend")!.state, "running");
  assert.deepEqual(run.agents.get("frontend")!.waitingOn, ["api_ready"]);
  assert.deepEqual(countAgents(run), { total: 3, running: 1, waiting: 2, done: 0, failed: 0, cancelled: 0 });
  const now = new Date(Date.UTC(2026, 0, 1, 10, 0, 12));
  assert.equal(describeAgent(run.agents.get("backend")!, now), "running 12s");
  assert.equal(describeAgent(run.agents.get("frontend")!, now), "waiting on api_ready");
});

test("signals, output, finishing with duration and error, and the run's end", () => {
  const model = new RunModel();
  startedRun(model);
  model.apply(ev("agent_output", "backend", null, { line: "wrote api.py" }, 1));
  model.apply(ev("signal", "backend", "api_ready", {}, 2));
  model.apply(ev("agent_started", "frontend", "running", { attempt: 1 }, 2));
  model.apply(ev("agent_finished", "backend", "succeeded", { duration_s: 3.14 }, 3));
  model.apply(ev("agent_finished", "frontend", "failed", { duration_s: 1.5, error: "exit code 1" }, 4));
  model.apply(ev("agent_finished", "integrator", "blocked", { unmet: ["frontend"] }, 4));
  const run = model.get("run-1")!;
  assert.equal(run.agents.get("backend")!.lastOutput, "wrote api.py");
  assert.deepEqual(run.signals.map((s) => [s.name, s.actor]), [["api_ready", "backend"]]);
  assert.equal(describeAgent(run.agents.get("backend")!, new Date()), "succeeded 3.1s");
  assert.equal(describeAgent(run.agents.get("frontend")!, new Date()), "failed 1.5s: exit code 1");
  assert.deepEqual(failedAgents(run).map((a) => a.name), ["frontend", "integrator"]);
  assert.equal(model.live().length, 1);
  model.apply(ev("run_finished", null, "failed", { wall_s: 4.2, agents: { backend: "succeeded", frontend: "failed", integrator: "blocked" } }, 5));
  assert.equal(run.state, "failed");
  assert.equal(model.live().length, 0);
  assert.deepEqual(countAgents(run), { total: 3, running: 0, waiting: 0, done: 1, failed: 2, cancelled: 0 });
});

test("a repeated event (same id) is ignored", () => {
  const model = new RunModel();
  const e = ev("run_started", null, "x", { agents: ["a"] }, 0);
  assert.ok(model.apply(e));
  assert.equal(model.apply(e), undefined);
});

test("recent events per agent are bounded, newest kept", () => {
  const model = new RunModel({ maxEventsPerAgent: 5 });
  startedRun(model);
  for (let i = 0; i < 30; i++) model.apply(ev("agent_output", "backend", null, { line: `line ${i}` }, 1));
  const events = model.get("run-1")!.agents.get("backend")!.events;
  assert.equal(events.length, 5);
  assert.equal(events[4].text, "> line 29");
});

test("only the newest runs are kept, live ones never dropped", () => {
  const model = new RunModel({ maxRuns: 2 });
  for (let i = 0; i < 4; i++) {
    model.apply(ev("run_started", null, `f${i}`, { agents: ["a"] }, i, `r${i}`));
    if (i > 0) model.apply(ev("run_finished", null, "succeeded", {}, i, `r${i}`));
  }
  const ids = model.list().map((r) => r.runId);
  assert.ok(ids.includes("r0"), "the live run stays");
  assert.ok(ids.includes("r3"));
  assert.equal(ids.length, 2);
});

test("the tree shows each run with its agents (state, duration, waits, events) and its signals", () => {
  const model = new RunModel();
  startedRun(model);
  model.apply(ev("tool_call", "backend", "write_file", { args: { path: "api.py" } }, 1));
  model.apply(ev("file_written", "backend", "api.py", { bytes: 3 }, 1));
  model.apply(ev("signal", "backend", "api_ready", {}, 2));
  model.apply(ev("agent_finished", "backend", "succeeded", { duration_s: 2 }, 2));
  const now = new Date(Date.UTC(2026, 0, 1, 10, 0, 5));
  const [runNode] = buildTree(model, now);
  assert.equal(runNode.label, "course enrollment — running");
  assert.equal(runNode.contextValue, "run-live");
  assert.match(runNode.description!, /0 running · 1 done · 0 failed · 2 waiting · 5\.0s/);
  const backend = runNode.children.find((n) => n.label === "backend")!;
  assert.equal(backend.description, "succeeded 2.0s");
  assert.equal(backend.icon, "pass");
  assert.deepEqual(backend.children.map((c) => c.label), ["succeeded in 2.0s", "fired api_ready", "wrote api.py", "started"]);
  const integrator = runNode.children.find((n) => n.label === "integrator")!;
  assert.equal(integrator.description, "waiting on backend, frontend");
  const signals = runNode.children.find((n) => n.contextValue === "signals")!;
  assert.equal(signals.children[0].label, "api_ready");
  assert.match(signals.children[0].description!, /fired \d\d:\d\d:\d\d \(\+2\.0s\) by backend/);
});

test("the status bar and the progress notification summarise the current run", () => {
  const model = new RunModel();
  assert.equal(statusBarText(model), undefined);
  startedRun(model);
  const status = statusBarText(model)!;
  assert.equal(status.text, "$(sync~spin) 1 running · 0 done · 0 failed");
  assert.ok(status.live);
  const progress = progressOf(model.get("run-1")!);
  assert.equal(progress.percent, 0);
  assert.equal(progress.message, "0/3 done · running: backend · frontend waits on api_ready; integrator waits on backend, frontend");
  model.apply(ev("agent_finished", "backend", "succeeded", { duration_s: 1 }, 1));
  assert.equal(progressOf(model.get("run-1")!).percent, 33);
  model.apply(ev("agent_finished", "frontend", "cancelled", { duration_s: 0.5, error: "cancelled" }, 2));
  model.apply(ev("agent_finished", "integrator", "cancelled", { error: "cancelled" }, 2));
  model.apply(ev("run_finished", null, "cancelled", {}, 2));
  assert.equal(statusBarText(model)!.text, "$(circle-slash) 0 running · 1 done · 0 failed · 2 cancelled");
  assert.equal(describeAgent(model.get("run-1")!.agents.get("frontend")!, new Date()), "cancelled 0.5s");
});

test("status from counterpoint.status seeds runs the extension did not see start", () => {
  const model = new RunModel();
  model.applyStatus({
    runs: [
      {
        runId: "old",
        spec: "/w/x.agents.md",
        state: "running",
        agents: [{ name: "a", state: "running", started_at: "2026-01-01T10:00:00Z" }, { name: "b", state: "waiting", waiting_on: ["s"] }],
        signals: { s0: "2026-01-01T10:00:01Z" },
      },
    ],
  });
  const run = model.get("old")!;
  assert.equal(run.agents.get("b")!.waitingOn[0], "s");
  assert.equal(run.signals[0].name, "s0");
  assert.equal(model.live().length, 1);
});

test("durations read well", () => {
  assert.equal(formatSeconds(3.14), "3.1s");
  assert.equal(formatSeconds(42), "42s");
  assert.equal(formatSeconds(125), "2m05s");
});

test("events read well: the start of an agent's work, and file signals with the agent that wrote the file", () => {
  assert.equal(describeEvent(ev("agent_active", "backend", null, {}, 1)), "working");
  assert.equal(describeEvent(ev("signal", "backend", "api_ready", {}, 1)), "signal api_ready by backend");
  assert.equal(
    describeEvent(ev("signal", null, "schema_ready", { path: "app/schema.py", by: "backend", attribution: "write" }, 2)),
    "signal schema_ready by backend (app/schema.py)",
  );
  assert.equal(describeEvent(ev("signal", null, "x_ready", { path: "app/x.py", attribution: "unknown" }, 3)), "signal x_ready (app/x.py)");
});

test("typed payloads read well: an attempt, a duration and an error, a finding's message", () => {
  assert.equal(describeEvent(typed("agent_started", "backend", "running", { attempt: 2, runner: "replay" }, 1)), "started (attempt 2)");
  assert.equal(describeEvent(typed("agent_waiting", "frontend", "waiting", { waiting_on: ["api_ready"] }, 1)), "waiting on api_ready");
  assert.equal(
    describeEvent(typed("agent_finished", "backend", "failed", { duration_s: 1.5, error: "exit code 1", attempts: 2 }, 2)),
    "failed in 1.5s: exit code 1",
  );
  const finding = { check: "tests", key: "tests:app/x.py:3", severity: "warning" as const, message: "page calls an undefined mutation" };
  assert.equal(describeEvent(typed("finding", "tests", null, finding, 3)), "finding: page calls an undefined mutation");
  // An event from an older server may lack what its type now requires: it still reads.
  assert.equal(describeEvent(ev("agent_started", "backend", "running", {}, 4)), "started");
  assert.equal(describeEvent(ev("agent_finished", "backend", "succeeded", { duration_s: "soon" }, 5)), "succeeded");
});
