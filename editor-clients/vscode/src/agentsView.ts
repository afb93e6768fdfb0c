/**
 * The vscode side of the live run display: the "Agents" tree view, the run status-bar item and one
 * cancellable progress notification per live run, all redrawn from the `RunModel` (views.ts builds
 * what they show). Redraws are coalesced so that chatty agent output does not flood the UI.
 */
import * as vscode from "vscode";
import { type RunModel, type RunModelState } from "./runModel";
import { type ChangesOf, type TreeNode, buildTree, progressOf, statusBarText, runTitle } from "./views";

export const AGENTS_VIEW_ID = "counterpoint.agents";
export const SHOW_AGENTS_COMMAND = "counterpoint.vscode.showAgents";

export class AgentsTreeProvider implements vscode.TreeDataProvider<TreeNode> {
  private readonly changed = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private roots: TreeNode[] = [];

  constructor(
    private readonly model: RunModel,
    private readonly changesOf?: ChangesOf,
  ) {}

  refresh(): void {
    this.roots = buildTree(this.model, new Date(), this.changesOf);
    this.changed.fire(undefined);
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    const state = node.children.length
      ? node.expanded || node.contextValue.startsWith("agent-running")
        ? vscode.TreeItemCollapsibleState.Expanded
        : vscode.TreeItemCollapsibleState.Collapsed
      : vscode.TreeItemCollapsibleState.None;
    const item = new vscode.TreeItem(node.label, state);
    item.id = node.id;
    item.description = node.description;
    item.tooltip = node.tooltip;
    item.contextValue = node.contextValue;
    if (node.command) item.command = { command: node.command.id, title: node.command.title, arguments: node.command.args };
    if (node.icon) item.iconPath = new vscode.ThemeIcon(node.icon, node.color ? new vscode.ThemeColor(node.color) : undefined);
    return item;
  }

  getChildren(node?: TreeNode): TreeNode[] {
    if (node) return node.children;
    if (!this.roots.length) this.roots = buildTree(this.model, new Date(), this.changesOf);
    return this.roots;
  }

  getParent(): undefined {
    return undefined;
  }

  dispose(): void {
    this.changed.dispose();
  }
}

interface LiveProgress {
  lastPercent: number;
  report(message: string, increment: number): void;
  finish(): void;
}

/**
 * Keeps the Agents view, the status-bar item and the progress notifications in step with the model.
 * `cancelRun` is called when the user presses Cancel on a run's progress notification.
 */
export class RunDisplay implements vscode.Disposable {
  private readonly tree: AgentsTreeProvider;
  private readonly view: vscode.TreeView<TreeNode>;
  private readonly statusItem: vscode.StatusBarItem;
  private readonly progresses = new Map<string, LiveProgress>();
  private pending: NodeJS.Timeout | undefined;
  private ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly model: RunModel,
    private readonly cancelRun: (runId: string) => Promise<void>,
    changesOf?: ChangesOf,
  ) {
    this.tree = new AgentsTreeProvider(model, changesOf);
    this.view = vscode.window.createTreeView(AGENTS_VIEW_ID, { treeDataProvider: this.tree, showCollapseAll: true });
    this.statusItem = vscode.window.createStatusBarItem("counterpoint.run", vscode.StatusBarAlignment.Left, 50);
    this.statusItem.name = "Counterpoint Run";
    this.statusItem.command = SHOW_AGENTS_COMMAND;
  }

  /** Redraws soon (at most every 150 ms). */
  schedule(): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.redraw();
    }, 150);
  }

  redraw(): void {
    this.tree.refresh();
    const status = statusBarText(this.model);
    if (status) {
      this.statusItem.text = status.text;
      this.statusItem.tooltip = status.tooltip;
      this.statusItem.show();
    } else {
      this.statusItem.hide();
    }
    const live = this.model.live();
    void vscode.commands.executeCommand("setContext", "counterpoint.runLive", live.length > 0);
    this.view.badge = live.length ? { value: live.length, tooltip: `${live.length} live run(s)` } : undefined;
    for (const run of live) this.progressFor(run);
    for (const [runId, progress] of this.progresses) {
      const run = this.model.get(runId);
      if (!run || run.state !== "running") {
        progress.finish();
        this.progresses.delete(runId);
      } else {
        const { message, percent } = progressOf(run);
        progress.report(message, Math.max(0, percent - progress.lastPercent));
        progress.lastPercent = Math.max(progress.lastPercent, percent);
      }
    }
    // Running agents show their duration: tick once a second while a run is live.
    if (live.length && !this.ticker) this.ticker = setInterval(() => this.tree.refresh(), 1000);
    if (!live.length && this.ticker) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }

  private progressFor(run: RunModelState): void {
    if (this.progresses.has(run.runId)) return;
    let finish: () => void = () => undefined;
    let reporter: vscode.Progress<{ message?: string; increment?: number }> | undefined;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const live: LiveProgress = {
      lastPercent: 0,
      report: (message, increment) => reporter?.report({ message, increment }),
      finish: () => finish(),
    };
    this.progresses.set(run.runId, live);
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Counterpoint: ${runTitle(run)}`, cancellable: true },
      (progress, token) => {
        reporter = progress;
        const { message, percent } = progressOf(run);
        progress.report({ message, increment: percent });
        live.lastPercent = percent;
        token.onCancellationRequested(() => void this.cancelRun(run.runId));
        return done;
      },
    );
  }

  async reveal(): Promise<void> {
    await vscode.commands.executeCommand(`${AGENTS_VIEW_ID}.focus`);
  }

  dispose(): void {
    if (this.pending) clearTimeout(this.pending);
    if (this.ticker) clearInterval(this.ticker);
    for (const p of this.progresses.values()) p.finish();
    this.progresses.clear();
    this.view.dispose();
    this.tree.dispose();
    this.statusItem.dispose();
  }
}
