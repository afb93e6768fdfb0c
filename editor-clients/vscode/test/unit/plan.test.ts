/** "Counterpoint: Plan a Feature…": the command's argument, the check of the request, the line said after. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isPlanEvent, planCommand, planMessage, planResultOf, requestProblem } from "../../src/plan";
import { SERVER_COMMANDS, type PlanResult } from "../../src/protocol";

const root = join(__dirname, "..", "..", "..");
const packageJson = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const schemas = JSON.parse(
  readFileSync(join(root, "..", "..", "protocol", "counterpoint_protocol", "schemas", "commands.schema.json"), "utf8"),
);

test("counterpoint.plan takes one object: the request (trimmed), the folder, optionally where to write", () => {
  assert.equal(SERVER_COMMANDS.plan, "counterpoint.plan");
  assert.deepEqual(planCommand("  Build a course enrollment feature ", "file:///w"), {
    command: "counterpoint.plan",
    arguments: [{ request: "Build a course enrollment feature", folder: "file:///w" }],
  });
  assert.deepEqual(planCommand("x", undefined, "plans/x.agents.md").arguments, [{ request: "x", out: "plans/x.agents.md" }]);
  // Every key sent is one the server's PlanParams declares (it forbids others).
  const declared = Object.keys(schemas.$defs.plan.properties);
  for (const key of Object.keys(planCommand("x", "file:///w", "o.agents.md").arguments[0])) {
    assert.ok(declared.includes(key), `${key} is not in PlanParams`);
  }
});

test("an empty request is refused before anything is sent", () => {
  assert.equal(requestProblem("   "), "Say in one sentence what to build.");
  assert.equal(requestProblem("Add a logout button"), undefined);
  assert.ok(requestProblem("x".repeat(20001)));
});

test("the palette has Plan a Feature…, and it activates the extension", () => {
  const plan = packageJson.contributes.commands.find((c: { command: string }) => c.command === "counterpoint.vscode.plan");
  assert.equal(plan?.title, "Plan a Feature\u2026");
  assert.equal(plan?.category, "Counterpoint");
  assert.ok(packageJson.activationEvents.includes("onCommand:counterpoint.vscode.plan"));
});

const result: PlanResult = {
  planId: "plan-1",
  uri: "file:///w/course-enrollment.agents.md",
  path: "/w/course-enrollment.agents.md",
  ok: true,
  rounds: 2,
  message: "wrote course-enrollment.agents.md: it passes counterpoint check (2 drafts)",
  prediction: { critical_path: ["backend", "docs", "integrator"], speedup: 2.125 },
};

test("the result is read and said in one line, a warning when the spec still has errors", () => {
  assert.equal(planResultOf({ runId: "x" }), undefined);
  assert.equal(planResultOf(result), result);
  assert.deepEqual(planMessage(result), {
    text:
      "Counterpoint: wrote course-enrollment.agents.md: it passes counterpoint check (2 drafts); " +
      "critical path backend → docs → integrator, predicted speed-up 2.13x",
    warning: false,
  });
  const failing = { ...result, ok: false, errors: 4, prediction: null, message: "wrote x.agents.md, but it still has 4 errors after 3 drafts: fix them before running it" };
  assert.deepEqual(planMessage(failing), { text: `Counterpoint: ${failing.message}`, warning: true });
});

test("a plan's events are told from a run's by their run id (methods.json's planIdPrefix)", () => {
  const event = { id: 1, run_id: "plan-20261202-031842-ab12cd", type: "plan_started", timestamp: "t", metadata: {} };
  assert.ok(isPlanEvent(event));
  assert.ok(!isPlanEvent({ ...event, run_id: "20261202-031842-ab12cd", type: "run_started" }));
});
