/**
 * Reviewing isolated runs in VS Code: each isolated agent's changed files fetched with
 * `counterpoint.diff` (after it merges, finishes or takes a snapshot) for the Agents view; a click on
 * a file opens `vscode.diff` of the file at the agent's start against its version, both read through
 * the `counterpoint-git:` content provider (`counterpoint.showFile`); and the Apply / Discard Run
 * commands. The logic without `vscode` is in changes.ts.
 */
import * as vscode from "vscode";
import {
  AgentChanges,
  type ChangeTarget,
  GIT_SCHEME,
  OPEN_CHANGE_COMMAND,
  appliedMessage,
  changeToFetch,
  diffResultOf,
  diffSides,
  discardedMessage,
  parseGitQuery,
  reviewableRuns,
} from "./changes";
import { type ExecuteCommand, applyCommand, diffCommand, discardCommand, showFileCommand } from "./commands";
import type { CounterpointEvent, ShowFileResult } from "./protocol";
import type { RunModel } from "./runModel";
import type { TreeNode } from "./views";

export const APPLY_RUN_COMMAND = "counterpoint.vscode.applyRun";
export const DISCARD_RUN_COMMAND = "counterpoint.vscode.discardRun";

/** Sends a server command; `quiet`: a failure is logged, not shown. */
export type Execute = (call: ExecuteCommand, options?: { quiet?: boolean }) => Promise<unknown>;

export class Review implements vscode.TextDocumentContentProvider {
  readonly changes = new AgentChanges();
  private readonly discarded = new Set<string>();

  constructor(
    private readonly model: RunModel,
    private readonly execute: Execute,
    private readonly redraw: () => void,
  ) {}

  register(context: vscode.ExtensionContext): void {
    context.subscriptions.push(
      vscode.workspace.registerTextDocumentContentProvider(GIT_SCHEME, this),
      vscode.commands.registerCommand(OPEN_CHANGE_COMMAND, (target: ChangeTarget) => this.openChange(target)),
      vscode.commands.registerCommand(APPLY_RUN_COMMAND, (arg: unknown) => this.applyRun(arg)),
      vscode.commands.registerCommand(DISCARD_RUN_COMMAND, (arg: unknown) => this.discardRun(arg)),
    );
  }

  /** Called with each event once the model has it: fetches an isolated agent's changes when they moved. */
  onEvent(event: CounterpointEvent): void {
    const target = changeToFetch(this.model, event);
    if (target) void this.fetch(target.runId, target.agent);
  }

  async fetch(runId: string, agent: string): Promise<void> {
    const n = this.changes.ask(runId, agent);
    const diff = diffResultOf(await this.execute(diffCommand(runId, agent), { quiet: true }));
    if (this.changes.settle(runId, agent, n, diff)) this.redraw();
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const file = parseGitQuery(uri.query);
    if (!file) return "";
    const result = (await this.execute(showFileCommand(file.runId, file.commit, file.path))) as
      | Partial<ShowFileResult>
      | undefined;
    if (result?.binary) return `(${file.path} is a binary file at ${file.commit.slice(0, 12)})`;
    return typeof result?.text === "string" ? result.text : "";
  }

  async openChange(target: ChangeTarget): Promise<void> {
    const { left, right, title } = diffSides(target);
    await vscode.commands.executeCommand("vscode.diff", vscode.Uri.from(left), vscode.Uri.from(right), title, {
      preview: true,
    });
  }

  async applyRun(arg: unknown): Promise<void> {
    const runId = await this.pickRun(arg, "Apply which run's changes to your working tree?");
    if (!runId) return;
    const result = await this.execute(applyCommand(runId));
    if (result !== undefined) void vscode.window.showInformationMessage(appliedMessage(runId, result));
  }

  async discardRun(arg: unknown): Promise<void> {
    const runId = await this.pickRun(arg, "Discard which run?");
    if (!runId) return;
    const choice = await vscode.window.showWarningMessage(
      `Discard run ${runId}?`,
      {
        modal: true,
        detail:
          "Its branches and working copies are deleted; what it changed is lost unless you applied it. Your own branch and working tree are not touched.",
      },
      "Discard",
    );
    if (choice !== "Discard") return;
    const result = await this.execute(discardCommand(runId));
    if (result === undefined) return;
    this.discarded.add(runId);
    this.changes.forget(runId);
    this.redraw();
    void vscode.window.showInformationMessage(discardedMessage(runId, result));
  }

  /** The run a command is about: the Agents view's node, the only candidate, or the user's pick. */
  private async pickRun(arg: unknown, question: string): Promise<string | undefined> {
    const node = arg as TreeNode | undefined;
    if (node && typeof node.id === "string" && typeof node.contextValue === "string") return node.id.split("/")[0];
    const runs = reviewableRuns(this.model).filter((r) => !this.discarded.has(r.runId));
    if (!runs.length) {
      void vscode.window.showInformationMessage("Counterpoint: no finished run with isolated agents to review.");
      return undefined;
    }
    if (runs.length === 1) return runs[0].runId;
    const pick = await vscode.window.showQuickPick(
      runs.map((r) => ({ label: r.feature || r.spec || r.runId, description: `${r.runId} · ${r.state}`, runId: r.runId })),
      { placeHolder: question },
    );
    return pick?.runId;
  }
}
