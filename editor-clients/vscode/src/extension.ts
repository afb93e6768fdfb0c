/**
 * The Counterpoint extension: starts the language server over stdio (vscode-languageclient), sends
 * the settings, feeds `counterpoint/event` notifications into the run model behind the Agents view,
 * status bar and progress, and registers the palette / editor-title commands that call the server's
 * `workspace/executeCommand` commands (reviewing isolated runs: review.ts).
 */
import * as vscode from "vscode";
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  RevealOutputChannelOn,
  type ServerOptions,
  State,
  TransportKind,
} from "vscode-languageclient/node";
import { RunDisplay, SHOW_AGENTS_COMMAND } from "./agentsView";
import {
  ATTACH_PLACEHOLDER,
  ATTACH_TITLE,
  type AttachItem,
  LAST,
  type LastRun,
  NO_LAST_RUN,
  attachCommand,
  attachItems,
  attachMessage,
  attachResultOf,
  chosenRunId,
  lastRunCommand,
  lastRunOf,
  runIdProblem,
} from "./attach";
import { Review } from "./review";
import { createTraceChannel } from "./traceChannel";
import {
  type ExecuteCommand,
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
} from "./commands";
import {
  PLAN_PLACEHOLDER,
  PLAN_PROMPT,
  isPlanEvent,
  planCommand,
  planMessage,
  planResultOf,
  requestProblem,
} from "./plan";
import { NOTIFICATIONS, SPEC_GLOB, type StatusResult, isEvent, isSpecPath } from "./protocol";
import { RunModel, failedAgents } from "./runModel";
import {
  type ClientSettings,
  type RawSettings,
  SETTINGS_SECTION,
  configurationResponse,
  findExecutable,
  launchFailureMessage,
  serverLaunch,
  serverSettingsPayload,
  validateSettings,
} from "./settings";
import type { TreeNode } from "./views";

const CLIENT_ID = "counterpoint";
const CLIENT_NAME = "Counterpoint";

let client: LanguageClient | undefined;
let output: vscode.LogOutputChannel;
let traceOutput: vscode.LogOutputChannel;
let settings: ClientSettings;
let readyItem: vscode.StatusBarItem;
let display: RunDisplay;
let review: Review;
const model = new RunModel();

function readSettings(): { settings: ClientSettings; problems: string[] } {
  const config = vscode.workspace.getConfiguration(SETTINGS_SECTION);
  const raw: RawSettings = {
    "server.command": config.get("server.command"),
    pythonPath: config.get("pythonPath"),
    maxParallel: config.get("maxParallel"),
    watcherIgnores: config.get("watcherIgnores"),
    logLevel: config.get("logLevel"),
    "trace.server": config.get("trace.server"),
  };
  return validateSettings(raw);
}

function setReady(state: "starting" | "ready" | "failed" | "stopped"): void {
  const look = {
    starting: ["$(loading~spin) Counterpoint starting", "The Counterpoint language server is starting."],
    ready: ["$(check) Counterpoint ready", "The Counterpoint language server is running. Click for its output."],
    failed: ["$(error) Counterpoint failed", "The Counterpoint language server could not start. Click for its output."],
    stopped: ["$(circle-slash) Counterpoint stopped", "The Counterpoint language server stopped. Click for its output."],
  }[state];
  readyItem.text = look[0];
  readyItem.tooltip = look[1];
  readyItem.show();
  void vscode.commands.executeCommand("setContext", "counterpoint.ready", state === "ready");
}

function createClient(): LanguageClient {
  const launch = serverLaunch(settings);
  output.appendLine(`starting the server: ${launch.command} ${[...launch.args, "--stdio"].join(" ")}`);
  const serverOptions: ServerOptions = {
    command: launch.command,
    args: launch.args,
    transport: TransportKind.stdio,
    options: { env: { ...process.env } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", language: "markdown", pattern: SPEC_GLOB },
      { scheme: "untitled", language: "markdown", pattern: SPEC_GLOB },
    ],
    synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher(SPEC_GLOB) },
    initializationOptions: serverSettingsPayload(settings),
    outputChannel: output,
    traceOutputChannel: traceOutput,
    revealOutputChannelOn: RevealOutputChannelOn.Never,
    middleware: {
      workspace: {
        configuration: (params) => configurationResponse(params.items, settings),
      },
    },
    initializationFailedHandler: (error) => {
      void showLaunchFailure(error);
      return false;
    },
  };
  const created = new LanguageClient(CLIENT_ID, CLIENT_NAME, serverOptions, clientOptions);
  created.onDidChangeState((e) => {
    if (e.newState === State.Running) setReady("ready");
    else if (e.newState === State.Stopped) setReady("stopped");
    else setReady("starting");
  });
  created.onNotification(NOTIFICATIONS.event, (params: unknown) => {
    if (!isEvent(params) || isPlanEvent(params)) return;
    if (!model.apply(params)) return;
    display.schedule();
    review.onEvent(params);
  });
  return created;
}

async function showLaunchFailure(error: unknown): Promise<void> {
  const message = launchFailureMessage(serverLaunch(settings), error);
  output.appendLine(message);
  setReady("failed");
  const choice = await vscode.window.showErrorMessage(message, "Open Settings", "Show Output");
  if (choice === "Open Settings") await vscode.commands.executeCommand("workbench.action.openSettings", "counterpoint.server");
  else if (choice === "Show Output") output.show(true);
}

let startAttempted = false;

async function startClient(): Promise<void> {
  startAttempted = true;
  setReady("starting");
  const launch = serverLaunch(settings);
  const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (findExecutable(launch.command, process.env, cwd) === undefined) {
    output.appendLine(`${launch.command} not found; PATH=${process.env.PATH ?? ""}`);
    await showLaunchFailure(new Error(`${launch.command} not found`));
    return;
  }
  client = createClient();
  try {
    await client.start();
  } catch (error) {
    await showLaunchFailure(error);
    return;
  }
  await refreshStatus();
}

async function stopClient(): Promise<void> {
  const old = client;
  client = undefined;
  if (old) {
    try {
      await old.stop(5000);
    } catch (error) {
      output.appendLine(`stopping the server: ${String(error)}`);
    }
  }
}

/** Sends one server command; errors become an error message (`quiet`: a line in the output) and undefined. */
async function execute(call: ExecuteCommand, options: { quiet?: boolean } = {}): Promise<unknown> {
  if (!client && !startAttempted && !options.quiet) await startClient();
  if (!client || !client.isRunning()) {
    if (options.quiet) return undefined;
    void vscode.window.showErrorMessage(
      "Counterpoint: the language server is not running. Run \"Counterpoint: Restart Language Server\" or check the Counterpoint output.",
    );
    return undefined;
  }
  try {
    return await client.sendRequest(ExecuteCommandRequest.type, call);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (options.quiet) output.appendLine(`${call.command} failed: ${message}`);
    else void vscode.window.showErrorMessage(`Counterpoint: ${message}`);
    return undefined;
  }
}

async function refreshStatus(): Promise<void> {
  const result = (await execute(statusCommand())) as StatusResult | undefined;
  if (result && Array.isArray(result.runs)) {
    model.applyStatus(result);
    display.schedule();
  }
}

/** The spec to act on: the argument (editor title / explorer), the active editor, or a pick. */
async function specUri(arg: unknown): Promise<vscode.Uri | undefined> {
  if (arg instanceof vscode.Uri && isSpecPath(arg.path)) return arg;
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active && isSpecPath(active.path)) return active;
  const found = await vscode.workspace.findFiles(SPEC_GLOB, "**/node_modules/**", 50);
  if (found.length === 1) return found[0];
  if (!found.length) {
    void vscode.window.showWarningMessage("Counterpoint: no *.agents.md spec in this workspace.");
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(
    found.map((uri) => ({ label: vscode.workspace.asRelativePath(uri), uri })),
    { placeHolder: "Which spec?" },
  );
  return pick?.uri;
}

async function saveIfDirty(uri: vscode.Uri): Promise<void> {
  const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (doc?.isDirty) await doc.save();
}

async function startRun(uri: vscode.Uri, agents?: string[]): Promise<void> {
  await saveIfDirty(uri);
  const result = await execute(runCommand(uri.toString(), agents));
  const runId = runIdOf(result);
  if (runId) {
    output.appendLine(`run ${runId} started${agents?.length ? ` (${agents.join(", ")})` : ""}`);
    await display.reveal();
  }
}

/** The run a command is about: the tree node's run, else the newest live run, else the newest run. */
function runOf(arg: unknown): string | undefined {
  const node = arg as TreeNode | undefined;
  if (node && typeof node.id === "string" && typeof node.contextValue === "string") {
    return node.id.split("/")[0];
  }
  return model.current()?.runId;
}

async function cancel(arg: unknown): Promise<void> {
  const fromNode = arg && typeof (arg as TreeNode).contextValue === "string" ? runOf(arg) : undefined;
  if (fromNode) {
    await execute(cancelCommand(fromNode));
    return;
  }
  const live = model.live();
  if (live.length > 1) {
    const pick = await vscode.window.showQuickPick(
      [{ label: "All live runs", runId: undefined as string | undefined }, ...live.map((r) => ({ label: r.feature || r.spec, description: r.runId, runId: r.runId as string | undefined }))],
      { placeHolder: "Cancel which run?" },
    );
    if (!pick) return;
    await execute(cancelCommand(pick.runId));
    return;
  }
  const result = (await execute(cancelCommand(live[0]?.runId))) as { cancelled?: string[] } | undefined;
  if (result && Array.isArray(result.cancelled) && result.cancelled.length === 0) {
    void vscode.window.showInformationMessage("Counterpoint: no run is live.");
  }
}

async function rerunFailed(arg: unknown): Promise<void> {
  const node = arg as TreeNode | undefined;
  if (node && node.contextValue === "agent-failed") {
    const [runId, , agent] = node.id.split("/");
    await execute(rerunCommand(runId, agent));
    return;
  }
  const run = model.list().find((r) => r.state !== "running" && failedAgents(r).length) ?? model.current();
  const failed = run ? failedAgents(run) : [];
  if (!run || !failed.length) {
    void vscode.window.showInformationMessage("Counterpoint: no failed agent in the last run.");
    return;
  }
  const pick =
    failed.length === 1
      ? { label: failed[0].name }
      : await vscode.window.showQuickPick(
          failed.map((a) => ({ label: a.name, description: a.state + (a.error ? `: ${a.error}` : "") })),
          { placeHolder: "Rerun which agent (and what it blocked)?" },
        );
  if (pick) await execute(rerunCommand(run.runId, pick.label));
}

let eventsChannel: vscode.OutputChannel | undefined;

async function showEvents(arg: unknown): Promise<void> {
  const runId = runOf(arg);
  const events = eventsOf(await execute(eventsCommand(runId)));
  eventsChannel ??= vscode.window.createOutputChannel("Counterpoint Events");
  eventsChannel.clear();
  eventsChannel.appendLine(`# events of run ${runId ?? "(last)"}: ${events.length}`);
  eventsChannel.appendLine(formatEvents(events));
  eventsChannel.show(true);
}

async function openReport(arg: unknown): Promise<void> {
  const file = reportFileOf(await execute(reportCommand(runOf(arg))));
  if (!file) return;
  const uri = vscode.Uri.file(file.path);
  if (file.kind !== "html") {
    await vscode.window.showTextDocument(uri);
    return;
  }
  const html = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
  const panel = vscode.window.createWebviewPanel("counterpoint.report", "Counterpoint Report", vscode.ViewColumn.Active, {
    enableScripts: true,
  });
  panel.webview.html = html;
}

async function runAgent(arg: unknown): Promise<void> {
  const uri = await specUri(arg);
  if (!uri) return;
  const doc = await vscode.workspace.openTextDocument(uri);
  const symbols = await vscode.commands.executeCommand<vscode.DocumentSymbol[] | vscode.SymbolInformation[]>(
    "vscode.executeDocumentSymbolProvider",
    uri,
  );
  const names = agentNamesFromSymbols(symbols as unknown as { name: string }[] | undefined, doc.getText());
  if (!names.length) {
    void vscode.window.showWarningMessage("Counterpoint: this spec has no agents.");
    return;
  }
  const pick = await vscode.window.showQuickPick(names, { placeHolder: "Run which agent (with what it needs)?" });
  if (pick) await startRun(uri, [pick]);
}

/** The workspace log's last run (undefined: the server knows none yet). */
async function lastRun(): Promise<LastRun | undefined> {
  return lastRunOf(eventsOf(await execute(lastRunCommand(), { quiet: true })));
}

/** The quick pick of "Attach to Run…": the last run, or the id typed; undefined when dismissed. */
async function pickRunToAttach(): Promise<string | undefined> {
  const last = await lastRun();
  const relative = (path: string): string => vscode.workspace.asRelativePath(path);
  const pick = vscode.window.createQuickPick<AttachItem>();
  pick.title = ATTACH_TITLE;
  pick.placeholder = ATTACH_PLACEHOLDER;
  pick.ignoreFocusOut = true;
  pick.matchOnDescription = true;
  pick.items = attachItems(last, "", relative);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (value: string | undefined): void => {
      if (settled) return;
      settled = true;
      resolve(value);
      pick.dispose();
    };
    pick.onDidChangeValue((value) => {
      pick.items = attachItems(last, value, relative);
    });
    pick.onDidAccept(() => {
      const runId = chosenRunId(pick.selectedItems[0], pick.value);
      if (runId !== undefined) finish(runId);
      else void vscode.window.showWarningMessage(`Counterpoint: ${runIdProblem(pick.value)}`);
    });
    pick.onDidHide(() => finish(undefined));
    pick.show();
  });
}

/**
 * "Counterpoint: Attach to Run…": show a run that another process runs (a terminal, CI, a colleague's
 * machine writing the same PostgreSQL log) as if it ran here: `counterpoint.attach {runId}`. The
 * argument (a run id, or `{runId}`) skips the pick.
 */
async function attachToRun(arg: unknown): Promise<void> {
  const fromObject = arg && typeof arg === "object" ? (arg as { runId?: unknown }).runId : undefined;
  const given = typeof arg === "string" ? arg : typeof fromObject === "string" ? fromObject : undefined;
  if (!client && !startAttempted) await startClient(); // no spec open yet: the server starts for the pick
  let runId = given ?? (await pickRunToAttach());
  if (runId === undefined) return;
  if (runId.trim() === LAST) {
    runId = (await lastRun())?.runId;
    if (!runId) {
      void vscode.window.showErrorMessage(`Counterpoint: ${NO_LAST_RUN}`);
      return;
    }
  }
  const problem = runIdProblem(runId);
  if (problem) {
    void vscode.window.showErrorMessage(`Counterpoint: ${problem}`);
    return;
  }
  output.appendLine(`attaching to run ${runId}`);
  const result = attachResultOf(await execute(attachCommand(runId)));
  if (!result) return;
  output.appendLine(`attached: ${result.message}`);
  const { text, warning } = attachMessage(result);
  if (warning) void vscode.window.showWarningMessage(text);
  else void vscode.window.showInformationMessage(text);
  await display.reveal();
}

/** The workspace folder to plan in: the active editor's, the only one, or a pick (undefined: none open). */
async function planFolder(): Promise<vscode.WorkspaceFolder | undefined> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  const active = vscode.window.activeTextEditor?.document.uri;
  const own = active ? vscode.workspace.getWorkspaceFolder(active) : undefined;
  if (own) return own;
  if (folders.length <= 1) return folders[0];
  return vscode.window.showWorkspaceFolderPick({ placeHolder: "Plan the feature in which folder?" });
}

/** "Counterpoint: Plan a Feature…": the director writes a spec; the server opens it (nothing runs). */
async function planFeature(): Promise<void> {
  const folder = await planFolder();
  if (!folder) {
    void vscode.window.showWarningMessage("Counterpoint: open a folder first: the spec is written into it.");
    return;
  }
  const request = await vscode.window.showInputBox({
    title: "Counterpoint: Plan a Feature",
    prompt: PLAN_PROMPT,
    placeHolder: PLAN_PLACEHOLDER,
    ignoreFocusOut: true,
    validateInput: (value) => (value.length ? requestProblem(value) : undefined),
  });
  if (request === undefined || requestProblem(request)) return;
  output.appendLine(`planning in ${folder.uri.fsPath}: ${request}`);
  const result = planResultOf(await execute(planCommand(request, folder.uri.toString())));
  if (!result) return;
  output.appendLine(`plan ${result.planId}: ${result.message}`);
  const { text, warning } = planMessage(result);
  if (warning) {
    void vscode.window.showWarningMessage(text);
    return;
  }
  const choice = await vscode.window.showInformationMessage(text, "Run All Agents");
  if (choice === "Run All Agents") await startRun(vscode.Uri.parse(result.uri));
}

async function onConfigurationChanged(event: vscode.ConfigurationChangeEvent): Promise<void> {
  if (!event.affectsConfiguration(SETTINGS_SECTION)) return;
  const before = serverLaunch(settings);
  const read = readSettings();
  settings = read.settings;
  for (const problem of read.problems) void vscode.window.showWarningMessage(`Counterpoint: ${problem}`);
  const after = serverLaunch(settings);
  if (JSON.stringify(before) !== JSON.stringify(after)) {
    await stopClient();
    await startClient();
  } else if (client?.isRunning()) {
    await client.sendNotification(DidChangeConfigurationNotification.type, {
      settings: { [SETTINGS_SECTION]: serverSettingsPayload(settings) },
    });
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel(CLIENT_NAME, { log: true });
  traceOutput = createTraceChannel(`${CLIENT_NAME} Trace`);
  readyItem = vscode.window.createStatusBarItem("counterpoint.ready", vscode.StatusBarAlignment.Right, 100);
  readyItem.name = "Counterpoint Server";
  readyItem.command = "counterpoint.vscode.showOutput";
  review = new Review(model, execute, () => display.schedule());
  display = new RunDisplay(
    model,
    async (runId) => {
      await execute(cancelCommand(runId));
    },
    (runId, agent) => review.changes.get(runId, agent),
  );
  review.register(context);
  const read = readSettings();
  settings = read.settings;
  for (const problem of read.problems) void vscode.window.showWarningMessage(`Counterpoint: ${problem}`);

  const register = (id: string, fn: (arg: unknown) => Promise<void> | void): void => {
    context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  };
  register("counterpoint.vscode.runAll", async (arg) => {
    const uri = await specUri(arg);
    if (uri) await startRun(uri);
  });
  register("counterpoint.vscode.runAgent", runAgent);
  register("counterpoint.vscode.cancel", cancel);
  register("counterpoint.vscode.rerunFailed", rerunFailed);
  register("counterpoint.vscode.showEvents", showEvents);
  register("counterpoint.vscode.openReport", openReport);
  register("counterpoint.vscode.plan", planFeature);
  register("counterpoint.vscode.attach", attachToRun);
  register(SHOW_AGENTS_COMMAND, () => display.reveal());
  register("counterpoint.vscode.showOutput", () => output.show(true));
  register("counterpoint.vscode.restartServer", async () => {
    await stopClient();
    await startClient();
  });
  context.subscriptions.push(
    output,
    traceOutput,
    readyItem,
    display,
    vscode.workspace.onDidChangeConfiguration((e) => void onConfigurationChanged(e)),
  );
  // Activated by any Markdown file: start the server only once there is a spec to serve.
  const specOpen = vscode.workspace.textDocuments.some((d) => isSpecPath(d.uri.path));
  if (specOpen || (await vscode.workspace.findFiles(SPEC_GLOB, "**/node_modules/**", 1)).length > 0) {
    await startClient();
    return;
  }
  const waiting = vscode.workspace.onDidOpenTextDocument((doc) => {
    if (!isSpecPath(doc.uri.path) || startAttempted) return;
    waiting.dispose();
    void startClient();
  });
  context.subscriptions.push(waiting);
}

export async function deactivate(): Promise<void> {
  await stopClient();
}
