/** Command arguments and results, and the names shared with the server. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  agentNamesFromSymbols,
  cancelCommand,
  eventsCommand,
  eventsOf,
  formatEvents,
  reportCommand,
  reportFileOf,
  rerunCommand,
  runCommand,
  runIdOf,
  statusCommand,
} from "../../src/commands";
import { NOTIFICATIONS, SERVER_COMMANDS, SPEC_SUFFIX, isEvent, isSpecPath } from "../../src/protocol";

const root = join(__dirname, "..", "..", "..");
const methods = JSON.parse(
  readFileSync(join(root, "..", "..", "protocol", "counterpoint_protocol", "schemas", "methods.json"), "utf8"),
);
const packageJson = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

test("command ids and notification names come from the protocol's methods.json", () => {
  assert.deepEqual(SERVER_COMMANDS, methods.commands);
  assert.equal(NOTIFICATIONS.event, methods.notifications.event);
  assert.equal(SPEC_SUFFIX, ".agents.md");
  assert.ok(isSpecPath("/w/app.agents.md"));
  assert.ok(!isSpecPath("/w/README.md"));
});

test("the palette commands do not take the server's command ids (the language client registers those)", () => {
  const ours: string[] = packageJson.contributes.commands.map((c: { command: string }) => c.command);
  const theirs = Object.values(methods.commands) as string[];
  assert.ok(ours.length >= 6);
  for (const id of ours) assert.ok(!theirs.includes(id), `${id} collides with a server command`);
  for (const id of ours) assert.ok(id.startsWith("counterpoint.vscode."));
});

test("each command sends one object argument shaped as commands.schema.json says", () => {
  assert.deepEqual(runCommand("file:///w/a.agents.md"), {
    command: methods.commands.run,
    arguments: [{ uri: "file:///w/a.agents.md" }],
  });
  assert.deepEqual(runCommand("file:///w/a.agents.md", ["backend"]).arguments, [
    { uri: "file:///w/a.agents.md", agents: ["backend"] },
  ]);
  assert.deepEqual(cancelCommand("r1"), { command: methods.commands.cancel, arguments: [{ runId: "r1" }] });
  assert.deepEqual(cancelCommand().arguments, [{}]);
  assert.deepEqual(statusCommand(), { command: methods.commands.status, arguments: [{}] });
  assert.deepEqual(rerunCommand("r1", "backend").arguments, [{ runId: "r1", agent: "backend" }]);
  assert.deepEqual(eventsCommand("r1", "signal").arguments, [{ runId: "r1", type: "signal" }]);
  assert.deepEqual(eventsCommand().arguments, [{}]);
  assert.deepEqual(reportCommand("r1"), { command: methods.commands.report, arguments: [{ runId: "r1" }] });
});

test("results: the run id, the report's html file, the events list", () => {
  assert.equal(runIdOf({ runId: "abc" }), "abc");
  assert.equal(runIdOf(null), undefined);
  assert.deepEqual(reportFileOf({ files: { json: "/r/report.json", html: "/r/report.html" }, agents: {} }), {
    path: "/r/report.html",
    kind: "html",
  });
  assert.deepEqual(reportFileOf({ files: { md: "/r/report.md" } }), { path: "/r/report.md", kind: "md" });
  assert.equal(reportFileOf({}), undefined);
  const events = [
    { id: 1, run_id: "r", type: "run_started", actor: null, action: "enroll", metadata: {}, timestamp: "2026-01-01T10:00:00Z" },
    { id: 2, run_id: "r", type: "signal", actor: "backend", action: "api_ready", metadata: {}, timestamp: "2026-01-01T10:00:02Z" },
  ];
  assert.equal(eventsOf(events).length, 2);
  assert.equal(eventsOf({ events }).length, 2);
  assert.deepEqual(eventsOf("nope"), []);
  const text = formatEvents(events);
  assert.match(text, /#1 {2}run_started {5}run started: enroll/);
  assert.match(text, /backend: signal api_ready by backend/);
  assert.ok(isEvent(events[0]));
  assert.ok(!isEvent({ type: "x" }));
});

test("agent names come from document symbols (leaves), else from ## headings", () => {
  assert.deepEqual(agentNamesFromSymbols([{ name: "backend" }, { name: "frontend" }]), ["backend", "frontend"]);
  assert.deepEqual(
    agentNamesFromSymbols([{ name: "Course enrollment", children: [{ name: "backend" }, { name: "docs" }] }]),
    ["backend", "docs"],
  );
  assert.deepEqual(agentNamesFromSymbols([], "# Feature\n\n## backend\nrunner: replay\n\n## quality\n"), [
    "backend",
    "quality",
  ]);
});
