/** Settings → server launch, initializationOptions and workspace/configuration answers. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DEFAULT_SETTINGS,
  findExecutable,
  LOG_LEVELS,
  TRACE_LEVELS,
  configurationResponse,
  launchFailureMessage,
  serverLaunch,
  serverSettingsPayload,
  splitCommandLine,
  validateSettings,
} from "../../src/settings";

const packageJson = JSON.parse(readFileSync(join(__dirname, "..", "..", "..", "package.json"), "utf8"));
const contributed: Record<string, { default: unknown; enum?: string[]; markdownDescription?: string; description?: string }> =
  packageJson.contributes.configuration.properties;

test("an empty configuration gives the defaults and no problem", () => {
  const { settings, problems } = validateSettings({});
  assert.deepEqual(settings, DEFAULT_SETTINGS);
  assert.deepEqual(problems, []);
});

test("the defaults contributed in package.json are valid and equal the client's defaults", () => {
  const raw = Object.fromEntries(
    Object.entries(contributed).map(([key, spec]) => [key.replace(/^counterpoint\./, ""), spec.default]),
  );
  const { settings, problems } = validateSettings(raw);
  assert.deepEqual(problems, []);
  assert.deepEqual(settings, DEFAULT_SETTINGS);
  for (const [key, spec] of Object.entries(contributed)) {
    assert.ok((spec.markdownDescription ?? spec.description ?? "").length > 20, `${key} has a description`);
  }
  assert.deepEqual(contributed["counterpoint.logLevel"].enum, [...LOG_LEVELS]);
  assert.deepEqual(contributed["counterpoint.trace.server"].enum, [...TRACE_LEVELS]);
});

test("each bad value is reported and replaced by its default, good ones are kept", () => {
  const { settings, problems } = validateSettings({
    "server.command": "   ",
    maxParallel: 0,
    watcherIgnores: ["dist/**", 3],
    logLevel: "loud",
    "trace.server": "verbose",
    pythonPath: " /opt/py/bin/python ",
  });
  assert.equal(problems.length, 4, problems.join("\n"));
  assert.match(problems.join("\n"), /counterpoint\.maxParallel: 0 is not an integer from 1/);
  assert.match(problems.join("\n"), /counterpoint\.logLevel: "loud" is not one of debug, info, warning, error; using "info"/);
  assert.equal(settings.serverCommand, "counterpoint lsp");
  assert.equal(settings.maxParallel, null);
  assert.deepEqual(settings.watcherIgnores, []);
  assert.equal(settings.logLevel, "info");
  assert.equal(settings.traceServer, "verbose");
  assert.equal(settings.pythonPath, "/opt/py/bin/python");
});

test("maxParallel accepts integers in range only", () => {
  assert.equal(validateSettings({ maxParallel: 4 }).settings.maxParallel, 4);
  assert.equal(validateSettings({ maxParallel: 2.5 }).problems.length, 1);
  assert.equal(validateSettings({ maxParallel: "4" }).problems.length, 1);
  assert.equal(validateSettings({ maxParallel: 100000 }).problems.length, 1);
});

test("command lines split like a shell", () => {
  assert.deepEqual(splitCommandLine("counterpoint lsp"), ["counterpoint", "lsp"]);
  assert.deepEqual(splitCommandLine("  '/my tools/counterpoint'  lsp --log-file \"a b.log\" "), [
    "/my tools/counterpoint",
    "lsp",
    "--log-file",
    "a b.log",
  ]);
  assert.deepEqual(splitCommandLine("a\\ b c"), ["a b", "c"]);
  assert.deepEqual(splitCommandLine('x "" y'), ["x", "", "y"]);
  assert.throws(() => splitCommandLine("'open"), /unterminated/);
});

test("the server starts from the command setting, or as python -m counterpoint lsp", () => {
  const base = validateSettings({ "server.command": "/w/.venv/bin/counterpoint lsp" }).settings;
  assert.deepEqual(serverLaunch(base), {
    command: "/w/.venv/bin/counterpoint",
    args: ["lsp"],
    source: "counterpoint.server.command",
  });
  const withPython = { ...base, pythonPath: "/usr/bin/python3" };
  assert.deepEqual(serverLaunch(withPython), {
    command: "/usr/bin/python3",
    args: ["-m", "counterpoint", "lsp"],
    source: "counterpoint.pythonPath",
  });
  assert.deepEqual(serverLaunch({ ...base, serverCommand: "'broken" }).command, "counterpoint");
});

test("initializationOptions and workspace/configuration carry the server's settings", () => {
  const { settings } = validateSettings({ maxParallel: 3, watcherIgnores: ["**/gen/**"], logLevel: "debug" });
  const payload = serverSettingsPayload(settings);
  assert.deepEqual(payload, { maxParallel: 3, watcherIgnores: ["**/gen/**"], logLevel: "debug" });
  assert.deepEqual(
    configurationResponse([{ section: "counterpoint" }, { section: "counterpoint.maxParallel" }, { section: "editor" }, {}], settings),
    [payload, 3, null, null],
  );
});

test("a server that cannot start gets a message with the fix", () => {
  const launch = serverLaunch(DEFAULT_SETTINGS);
  const missing = launchFailureMessage(launch, new Error("spawn counterpoint ENOENT"));
  assert.match(missing, /could not start: counterpoint was not found on the PATH\./);
  assert.match(missing, /counterpoint\.server\.command/);
  assert.match(missing, /counterpoint\.pythonPath/);
  const absolute = launchFailureMessage(serverLaunch({ ...DEFAULT_SETTINGS, serverCommand: "/x/counterpoint lsp" }), "not found");
  assert.match(absolute, /\/x\/counterpoint was not found\. Set/);
  const crashed = launchFailureMessage(launch, "exit code 2");
  assert.match(crashed, /Check that "counterpoint lsp --stdio" runs in a terminal/);
});

test("the server command is found as a shell would find it, before starting it", () => {
  const dir = mkdtempSync(join(tmpdir(), "cp-find-"));
  try {
    const exe = join(dir, "counterpoint");
    writeFileSync(exe, "#!/bin/sh\n");
    chmodSync(exe, 0o755);
    const plain = join(dir, "notes.txt");
    writeFileSync(plain, "x");
    assert.equal(findExecutable("counterpoint", { PATH: `/nonexistent:${dir}` }), exe);
    assert.equal(findExecutable("counterpoint", { PATH: "/nonexistent" }), undefined);
    assert.equal(findExecutable(exe, {}), exe);
    assert.equal(findExecutable("./counterpoint", {}, dir), join(dir, "counterpoint"));
    assert.equal(findExecutable(plain, {}), undefined, "not executable");
    assert.equal(findExecutable(dir, {}), undefined, "a folder");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
