/**
 * The "Counterpoint Trace" output: a plain output channel behind the `LogOutputChannel` interface
 * that vscode-languageclient 11 writes its message trace to. Its level is always Trace, so that the
 * `counterpoint.trace.server` setting alone (off / messages / verbose) decides what is traced, as
 * users expect, without also having to raise the channel's log level.
 */
import * as vscode from "vscode";

export function createTraceChannel(name: string): vscode.LogOutputChannel {
  const channel = vscode.window.createOutputChannel(name);
  const never = new vscode.EventEmitter<vscode.LogLevel>();
  const line = (level: string, message: string | Error, args: unknown[]): void => {
    const text = message instanceof Error ? (message.stack ?? message.message) : message;
    const extra = args.length ? ` ${args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ")}` : "";
    channel.appendLine(`${new Date().toISOString()} [${level}] ${text}${extra}`);
  };
  return {
    name: channel.name,
    logLevel: vscode.LogLevel.Trace,
    onDidChangeLogLevel: never.event,
    append: (value: string) => channel.append(value),
    appendLine: (value: string) => channel.appendLine(value),
    replace: (value: string) => channel.replace(value),
    clear: () => channel.clear(),
    show: (a?: vscode.ViewColumn | boolean, b?: boolean) =>
      typeof a === "boolean" || a === undefined ? channel.show(a) : channel.show(a, b),
    hide: () => channel.hide(),
    dispose: () => {
      never.dispose();
      channel.dispose();
    },
    trace: (message: string, ...args: unknown[]) => line("trace", message, args),
    debug: (message: string, ...args: unknown[]) => line("debug", message, args),
    info: (message: string, ...args: unknown[]) => line("info", message, args),
    warn: (message: string, ...args: unknown[]) => line("warn", message, args),
    error: (message: string | Error, ...args: unknown[]) => line("error", message, args),
  };
}
