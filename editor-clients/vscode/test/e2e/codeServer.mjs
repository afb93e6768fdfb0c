// Helpers of the end-to-end test: a throw-away profile for code-server (settings, the built .vsix
// installed), a copy of the example workspace with `git init`, starting code-server in its own
// process group and stopping the whole group (extension host and language server included).
import { execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync } from "node:fs";
import { createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const EXTENSION_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const REPO_ROOT = resolve(EXTENSION_DIR, "..", "..");
export const CODE_SERVER_VERSION = process.env.CODE_SERVER_VERSION ?? "4.139.1";
export const CODE_SERVER_DIR =
  process.env.CODE_SERVER_DIR ??
  join(process.env.COUNTERPOINT_CACHE ?? join(homedir(), ".cache", "counterpoint"), `code-server-${CODE_SERVER_VERSION}`);
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const SERVER_COMMAND =
  process.env.COUNTERPOINT_SERVER_COMMAND ?? `${join(REPO_ROOT, ".venv", "bin", "counterpoint")} lsp`;
// Screenshots of each moment: a temporary folder unless COUNTERPOINT_ARTIFACTS names one (tests never
// write into the checkout; `./dev screenshots` refreshes the documentation's pictures on purpose).
export const ARTIFACTS = process.env.COUNTERPOINT_ARTIFACTS ?? join(tmpdir(), "counterpoint-artifacts", "vscode");
const EXAMPLE = join(REPO_ROOT, "examples", "course-enrollment");

export function freePort() {
  return new Promise((res, rej) => {
    const server = createServer();
    server.once("error", rej);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => res(port));
    });
  });
}

/** A run folder holding everything of one test run (profile, workspace, XDG dirs, logs). */
export function makeRunFolder() {
  const base = process.env.COUNTERPOINT_E2E_TMP ?? tmpdir();
  mkdirSync(base, { recursive: true });
  const run = mkdtempSync(join(base, "counterpoint-vscode-e2e-"));
  for (const sub of ["user-data/User", "extensions", "xdg/config", "xdg/data", "xdg/cache", "tmp", "chrome"]) {
    mkdirSync(join(run, sub), { recursive: true });
  }
  return run;
}

export function codeServerEnv(run) {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  // Playwright's workers run with FORCE_COLOR=1 (and DEBUG_COLORS); a VS Code started by a person has
  // neither, and they would colour the output of the example's pytest check.
  delete env.FORCE_COLOR;
  delete env.DEBUG_COLORS;
  env.PATH = `${join(CODE_SERVER_DIR, "node_modules", "node", "bin")}:${env.PATH}`;
  env.XDG_CONFIG_HOME = join(run, "xdg", "config");
  env.XDG_DATA_HOME = join(run, "xdg", "data");
  env.XDG_CACHE_HOME = join(run, "xdg", "cache");
  env.TMPDIR = join(run, "tmp");
  env.COUNTERPOINT_TRUST = "1"; // the example's replay agents run without asking
  return env;
}

function codeServerBin() {
  const bin = join(CODE_SERVER_DIR, "node_modules", ".bin", "code-server");
  if (!existsSync(bin)) throw new Error(`code-server is not installed at ${bin}: run scripts/install-code-server.sh`);
  return bin;
}

/** Writes the clean profile's settings and installs the .vsix into it. */
export function prepareProfile(run, vsix) {
  const settings = {
    "security.workspace.trust.enabled": false,
    "workbench.startupEditor": "none",
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    "workbench.tips.enabled": false,
    "workbench.welcomePage.walkthroughs.openOnInstall": false,
    "chat.disableAIFeatures": true,
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "extensions.autoUpdate": "off",
    "extensions.autoCheckUpdates": false,
    "git.enabled": false,
    "files.autoSave": "off",
    "editor.minimap.enabled": false,
    "window.commandCenter": false,
    "counterpoint.server.command": SERVER_COMMAND,
    "counterpoint.logLevel": "debug",
    "counterpoint.trace.server": "messages",
  };
  writeFileSync(join(run, "user-data", "User", "settings.json"), JSON.stringify(settings, null, 2));
  writeFileSync(join(run, "config.yaml"), "auth: none\ncert: false\n");
  execFileSync(
    codeServerBin(),
    [
      "--config", join(run, "config.yaml"),
      "--user-data-dir", join(run, "user-data"),
      "--extensions-dir", join(run, "extensions"),
      "--install-extension", vsix,
      "--force",
    ],
    { env: codeServerEnv(run), stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 },
  );
}

/** Copies the example (without what runs generate) into the run folder and makes it a git repository. */
export function copyExample(run) {
  const target = join(run, "workspace");
  cpSync(EXAMPLE, target, {
    recursive: true,
    filter: (src) => {
      const rel = src.slice(EXAMPLE.length);
      return !/^\/(app|\.counterpoint\/(events\.db.*|runs|junit\.xml))(\/|$)/.test(rel) && !rel.includes("__pycache__");
    },
  });
  execFileSync("git", ["init", "-q"], { cwd: target });
  return target;
}

/** Starts code-server in a new process group; resolves once /healthz answers. */
export async function startCodeServer(run, workspace) {
  const port = await freePort();
  const log = openSync(join(run, "code-server.log"), "a");
  const child = spawn(
    codeServerBin(),
    [
      "--config", join(run, "config.yaml"),
      "--bind-addr", `127.0.0.1:${port}`,
      "--auth", "none",
      "--disable-telemetry",
      "--disable-update-check",
      "--disable-workspace-trust",
      "--disable-getting-started-override",
      "--user-data-dir", join(run, "user-data"),
      "--extensions-dir", join(run, "extensions"),
      workspace,
    ],
    { env: codeServerEnv(run), detached: true, stdio: ["ignore", log, log] },
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`code-server exited (${child.exitCode}); see ${join(run, "code-server.log")}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error("code-server did not answer /healthz within 60 s");
    await new Promise((r) => setTimeout(r, 250));
  }
  return { child, url, pgid: child.pid };
}

/** Stops code-server's whole process group (TERM, then KILL after 5 s). */
export async function stopCodeServer(server) {
  if (!server) return;
  const alive = () => {
    try {
      process.kill(-server.pgid, 0);
      return true;
    } catch {
      return false;
    }
  };
  try {
    process.kill(-server.pgid, "SIGTERM");
  } catch {
    return;
  }
  const deadline = Date.now() + 5000;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive()) {
    try {
      process.kill(-server.pgid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

export function removeRunFolder(run) {
  rmSync(run, { recursive: true, force: true });
}

export function readText(path) {
  return readFileSync(path, "utf8");
}
