/** "Counterpoint: Attach to Run…": the pick's items, the command's argument, the result said. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  LAST,
  NO_LAST_RUN,
  attachCommand,
  attachItems,
  attachMessage,
  attachResultOf,
  chosenRunId,
  lastRunCommand,
  lastRunOf,
  runIdProblem,
} from "../../src/attach";
import { SERVER_COMMANDS, type AttachResult, type CounterpointEvent } from "../../src/protocol";

const root = join(__dirname, "..", "..", "..");
const packageJson = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const schemas = JSON.parse(
  readFileSync(join(root, "..", "..", "protocol", "counterpoint_protocol", "schemas", "commands.schema.json"), "utf8"),
);

const started: CounterpointEvent = {
  id: 7,
  run_id: "20261202-031842-ab12cd",
  type: "run_started",
  actor: null,
  action: "Course enrollment",
  metadata: { spec: "/w/course.agents.md", agents: ["backend", "docs"] },
  timestamp: "2026-12-02T03:18:42Z",
};

test("counterpoint.attach takes one object, {runId}, as AttachParams declares", () => {
  assert.equal(SERVER_COMMANDS.attach, "counterpoint.attach");
  assert.deepEqual(attachCommand(" 20261202-031842-ab12cd "), {
    command: "counterpoint.attach",
    arguments: [{ runId: "20261202-031842-ab12cd" }],
  });
  const params = schemas.$defs.attach;
  assert.deepEqual(params.required, ["runId"]);
  for (const key of Object.keys(attachCommand("r").arguments[0])) {
    assert.ok(key in params.properties, `${key} is not in AttachParams`);
  }
  assert.equal(params.properties.runId.maxLength, 200);
});

test("the last run comes from counterpoint.events {type: run_started} without a run id", () => {
  assert.deepEqual(lastRunCommand(), { command: SERVER_COMMANDS.events, arguments: [{ type: "run_started" }] });
  assert.deepEqual(lastRunOf([started]), {
    runId: "20261202-031842-ab12cd",
    feature: "Course enrollment",
    spec: "/w/course.agents.md",
    startedAt: "2026-12-02T03:18:42Z",
  });
  // Several (an answer of an older server, say): the newest.
  const later = { ...started, id: 9, run_id: "later", metadata: {} };
  assert.equal(lastRunOf([started, later])?.runId, "later");
  assert.equal(lastRunOf([later])?.spec, "");
  assert.equal(lastRunOf([]), undefined);
  assert.equal(lastRunOf([{ ...started, type: "signal" }]), undefined);
});

test("the pick offers the last run (described when known) and the id being typed", () => {
  const last = lastRunOf([started]);
  const relative = (path: string): string => path.replace(/^\/w\//, "");
  const items = attachItems(last, "", relative);
  assert.equal(items.length, 1);
  assert.equal(items[0].label, LAST);
  assert.equal(items[0].runId, "20261202-031842-ab12cd");
  assert.equal(items[0].description, "20261202-031842-ab12cd");
  assert.match(items[0].detail ?? "", /^Course enrollment · course\.agents\.md · started \d\d:\d\d:\d\d$/);
  assert.ok(items.every((i) => i.alwaysShow));

  const typed = attachItems(last, " 20261201-220000-ffee00 ", relative);
  assert.deepEqual(
    typed.map((i) => [i.label, i.runId]),
    [
      ["20261201-220000-ffee00", "20261201-220000-ffee00"],
      [LAST, "20261202-031842-ab12cd"],
    ],
  );
  // Typing "last", the last run's own id or something that is no id adds nothing.
  assert.equal(attachItems(last, "last").length, 1);
  assert.equal(attachItems(last, "20261202-031842-ab12cd").length, 1);
  assert.equal(attachItems(last, "two words").length, 1);

  // Nothing known yet (the server has not opened the workspace's log): "last" is still offered.
  const unknown = attachItems(undefined, "");
  assert.deepEqual(
    unknown.map((i) => [i.label, i.runId]),
    [[LAST, LAST]],
  );
  assert.match(unknown[0].description ?? "", /newest run/);
  assert.match(NO_LAST_RUN, /type its id/);
});

test("accepting: the chosen item's id, else the typed id when it is one", () => {
  const [typedItem] = attachItems(undefined, "abc");
  assert.equal(chosenRunId(typedItem, "abc"), "abc");
  assert.equal(chosenRunId(undefined, "  abc  "), "abc");
  assert.equal(chosenRunId(undefined, ""), undefined);
  assert.equal(chosenRunId(undefined, "a b"), undefined);
  assert.equal(runIdProblem(""), "Type a run id, or pick the last run.");
  assert.equal(runIdProblem("x".repeat(201)), "A run id has at most 200 characters.");
  assert.equal(runIdProblem("a\tb"), "A run id has no spaces.");
  assert.equal(runIdProblem("20261202-031842-ab12cd"), undefined);
});

test("the result is read and said in one line, a warning when the run's spec is not in this workspace", () => {
  const result: AttachResult = {
    runId: "r1",
    spec: "/w/course.agents.md",
    state: "running",
    agents: ["backend", "docs"],
    following: true,
    message: "run r1 (/w/course.agents.md): following it",
  };
  assert.equal(attachResultOf({ runId: "r1" }), undefined);
  assert.equal(attachResultOf(null), undefined);
  assert.equal(attachResultOf(result), result);
  assert.deepEqual(attachMessage(result), { text: "Counterpoint: run r1 (/w/course.agents.md): following it", warning: false });
  assert.deepEqual(attachMessage({ ...result, spec: null, following: false, state: "succeeded", message: "" }), {
    text: "Counterpoint: run r1: it has ended: succeeded",
    warning: true,
  });
});

test("the palette has Attach to Run…, which activates the extension", () => {
  const attach = packageJson.contributes.commands.find(
    (c: { command: string }) => c.command === "counterpoint.vscode.attach",
  );
  assert.equal(attach?.title, "Attach to Run\u2026");
  assert.equal(attach?.category, "Counterpoint");
  assert.ok(packageJson.activationEvents.includes("onCommand:counterpoint.vscode.attach"));
  // Not hidden from the palette until a spec is open: it starts the server itself.
  const hidden = packageJson.contributes.menus.commandPalette.find(
    (c: { command: string }) => c.command === "counterpoint.vscode.attach",
  );
  assert.equal(hidden, undefined);
});
