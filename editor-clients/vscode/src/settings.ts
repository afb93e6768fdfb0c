/**
 * Client settings without `vscode`: validating the raw `counterpoint.*` values (a bad value is
 * reported and its default used), turning them into the server's launch command (and finding that
 * command before starting it), the payload sent as `initializationOptions` and answered to
 * `workspace/configuration`, and the message shown when the server cannot start.
 */
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";

export const SETTINGS_SECTION = "counterpoint";
export const DEFAULT_SERVER_COMMAND = "counterpoint lsp";
export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;
export const TRACE_LEVELS = ["off", "messages", "verbose"] as const;
export const MAX_PARALLEL_LIMIT = 256;

export type LogLevel = (typeof LOG_LEVELS)[number];
export type TraceLevel = (typeof TRACE_LEVELS)[number];

/** The values as read from the configuration, unchecked (keys are relative to `counterpoint.`). */
export interface RawSettings {
  "server.command"?: unknown;
  pythonPath?: unknown;
  maxParallel?: unknown;
  watcherIgnores?: unknown;
  logLevel?: unknown;
  "trace.server"?: unknown;
}

export interface ClientSettings {
  serverCommand: string;
  pythonPath: string;
  maxParallel: number | null;
  watcherIgnores: string[];
  logLevel: LogLevel;
  traceServer: TraceLevel;
}

/** What the server reads from `initializationOptions` and `workspace/configuration`. */
export interface ServerSettingsPayload {
  maxParallel: number | null;
  watcherIgnores: string[];
  logLevel: LogLevel;
}

export interface ServerLaunch {
  command: string;
  args: string[];
  /** Where the command came from, for messages: "counterpoint.server.command" or "counterpoint.pythonPath". */
  source: string;
}

export const DEFAULT_SETTINGS: Readonly<ClientSettings> = Object.freeze({
  serverCommand: DEFAULT_SERVER_COMMAND,
  pythonPath: "",
  maxParallel: null,
  watcherIgnores: [],
  logLevel: "info",
  traceServer: "off",
});

/** Checks every value; each bad one gives a problem message and falls back to its default. */
export function validateSettings(raw: RawSettings): { settings: ClientSettings; problems: string[] } {
  const problems: string[] = [];
  const bad = (key: string, value: unknown, expected: string, fallback: unknown): void => {
    problems.push(
      `counterpoint.${key}: ${JSON.stringify(value)} is not ${expected}; using ${JSON.stringify(fallback)}.`,
    );
  };
  const settings: ClientSettings = { ...DEFAULT_SETTINGS, watcherIgnores: [] };

  const command = raw["server.command"];
  if (command !== undefined && command !== null) {
    if (typeof command === "string" && splitCommandLine(command).length > 0) {
      settings.serverCommand = command.trim();
    } else {
      bad("server.command", command, "a non-empty command line", DEFAULT_SERVER_COMMAND);
    }
  }

  const python = raw.pythonPath;
  if (python !== undefined && python !== null) {
    if (typeof python === "string") settings.pythonPath = python.trim();
    else bad("pythonPath", python, "a path", "");
  }

  const maxParallel = raw.maxParallel;
  if (maxParallel !== undefined && maxParallel !== null) {
    if (
      typeof maxParallel === "number" &&
      Number.isInteger(maxParallel) &&
      maxParallel >= 1 &&
      maxParallel <= MAX_PARALLEL_LIMIT
    ) {
      settings.maxParallel = maxParallel;
    } else {
      bad("maxParallel", maxParallel, `an integer from 1 to ${MAX_PARALLEL_LIMIT} (or null)`, null);
    }
  }

  const ignores = raw.watcherIgnores;
  if (ignores !== undefined && ignores !== null) {
    if (Array.isArray(ignores) && ignores.every((g) => typeof g === "string")) {
      settings.watcherIgnores = ignores.map((g: string) => g.trim()).filter((g) => g.length > 0);
    } else {
      bad("watcherIgnores", ignores, "a list of glob patterns", []);
    }
  }

  const logLevel = raw.logLevel;
  if (logLevel !== undefined && logLevel !== null) {
    if (typeof logLevel === "string" && (LOG_LEVELS as readonly string[]).includes(logLevel)) {
      settings.logLevel = logLevel as LogLevel;
    } else {
      bad("logLevel", logLevel, `one of ${LOG_LEVELS.join(", ")}`, DEFAULT_SETTINGS.logLevel);
    }
  }

  const trace = raw["trace.server"];
  if (trace !== undefined && trace !== null) {
    if (typeof trace === "string" && (TRACE_LEVELS as readonly string[]).includes(trace)) {
      settings.traceServer = trace as TraceLevel;
    } else {
      bad("trace.server", trace, `one of ${TRACE_LEVELS.join(", ")}`, DEFAULT_SETTINGS.traceServer);
    }
  }
  return { settings, problems };
}

/**
 * Splits a command line as a POSIX shell would for words: whitespace separates, single quotes keep
 * everything, double quotes keep everything but backslash escapes, a backslash escapes one character.
 */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote === "'") {
      if (ch === "'") quote = null;
      else word += ch;
    } else if (quote === '"') {
      if (ch === '"') quote = null;
      else if (ch === "\\" && i + 1 < line.length && '"\\$`'.includes(line[i + 1])) word += line[++i];
      else word += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === "\\" && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (quote !== null) throw new Error(`unterminated ${quote} quote in ${JSON.stringify(line)}`);
  if (inWord) words.push(word);
  return words;
}

/**
 * The command that starts the server: `<python> -m counterpoint lsp` when a Python interpreter is
 * set, else the `counterpoint.server.command` words. The language client appends `--stdio`.
 */
export function serverLaunch(settings: ClientSettings): ServerLaunch {
  if (settings.pythonPath) {
    return {
      command: settings.pythonPath,
      args: ["-m", "counterpoint", "lsp"],
      source: "counterpoint.pythonPath",
    };
  }
  let words: string[];
  try {
    words = splitCommandLine(settings.serverCommand);
  } catch {
    words = [];
  }
  if (words.length === 0) words = splitCommandLine(DEFAULT_SERVER_COMMAND);
  return { command: words[0], args: words.slice(1), source: "counterpoint.server.command" };
}

export function serverSettingsPayload(settings: ClientSettings): ServerSettingsPayload {
  return {
    maxParallel: settings.maxParallel,
    watcherIgnores: [...settings.watcherIgnores],
    logLevel: settings.logLevel,
  };
}

/**
 * The answer to a `workspace/configuration` request: the whole payload for section `counterpoint`,
 * one value for `counterpoint.<key>`, null for other sections.
 */
export function configurationResponse(
  items: ReadonlyArray<{ section?: string | null }>,
  settings: ClientSettings,
): unknown[] {
  const payload = serverSettingsPayload(settings) as unknown as Record<string, unknown>;
  return items.map((item) => {
    const section = item.section ?? "";
    if (section === SETTINGS_SECTION) return payload;
    if (section.startsWith(`${SETTINGS_SECTION}.`)) {
      const key = section.slice(SETTINGS_SECTION.length + 1);
      return key in payload ? payload[key] : null;
    }
    return null;
  });
}

/** A message that says what failed and how to fix it, for when the server does not start. */
export function launchFailureMessage(launch: ServerLaunch, error: unknown): string {
  const detail = error instanceof Error ? error.message : String(error ?? "unknown error");
  const shown = [launch.command, ...launch.args].join(" ");
  const notFound = /ENOENT|not found|no such file/i.test(detail);
  if (notFound) {
    const where = launch.command.includes("/") ? "" : " on the PATH";
    return (
      `Counterpoint: the language server could not start: ${launch.command} was not found${where}. ` +
      `Set "counterpoint.server.command" to the full path of the counterpoint executable ` +
      `(e.g. /path/to/.venv/bin/counterpoint lsp) or "counterpoint.pythonPath" to a Python that has ` +
      `Counterpoint installed (in its repository, ./dev sync makes .venv/bin/counterpoint).`
    );
  }
  return (
    `Counterpoint: the language server could not start (${shown}): ${detail}. Check that ` +
    `"${shown} --stdio" runs in a terminal, fix ${launch.source} if needed, and see the "Counterpoint" ` +
    `output for the server's log.`
  );
}

/**
 * The file a command would run, searched like a shell does (a name with a slash is taken as a path,
 * relative to `cwd`; a bare name is looked up in `PATH`); undefined when there is no such executable.
 */
export function findExecutable(command: string, env: NodeJS.ProcessEnv, cwd?: string): string | undefined {
  const isExecutable = (path: string): boolean => {
    try {
      if (!statSync(path).isFile()) return false;
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (command.includes("/") || command.includes("\\")) {
    const path = isAbsolute(command) || !cwd ? command : join(cwd, command);
    return isExecutable(path) ? path : undefined;
  }
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const path = join(dir, command);
    if (isExecutable(path)) return path;
  }
  return undefined;
}
