// The set-up every end-to-end test file shares: one VS Code (code-server with the built .vsix in a
// clean profile) on a folder the test file makes, Chromium open on its workbench, a screenshot and the
// extension's logs when a test fails, everything stopped and the run folder removed at the end; and
// the workbench helpers the tests share (the palette, quick open, error notifications, the Agents view).
import { test, expect, chromium } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  ARTIFACTS,
  CHROMIUM,
  EXTENSION_DIR,
  makeRunFolder,
  prepareProfile,
  removeRunFolder,
  startCodeServer,
  stopCodeServer,
} from "./codeServer.mjs";

export const VSIX = process.env.COUNTERPOINT_VSIX ?? join(EXTENSION_DIR, "dist", "counterpoint.vsix");

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Registers the hooks of a test file that drives one VS Code, and returns its session:
 * - before all: a run folder (`vs.run`), the folder `workspace(run)` makes and returns (it may be
 *   async; `vs.workspace`), a profile with the .vsix, code-server on that folder (`vs.server`),
 *   Chromium (`vs.context`, `vs.page`) showing the workbench;
 * - after a failed test: the screenshot `<shots>failure` and the last lines of the extension's logs;
 * - after all: `vs.close()`, then `tearDown()`, then the run folder removed unless a test failed or
 *   COUNTERPOINT_E2E_KEEP is set.
 * `vs.shot(name)` saves a screenshot as ARTIFACTS/<shots><name>.png and returns its path.
 */
export function useVSCode({ workspace, shots = "", tearDown }) {
  let failed = false;
  const vs = {
    run: undefined,
    workspace: undefined,
    server: undefined,
    context: undefined,
    page: undefined,
    async shot(name) {
      mkdirSync(ARTIFACTS, { recursive: true });
      const path = join(ARTIFACTS, `${shots}${name}.png`);
      await vs.page.screenshot({ path });
      return path;
    },
    /** Closes Chromium and stops code-server's whole process group (the language server included). */
    async close() {
      await vs.context?.close().catch(() => undefined);
      vs.context = undefined;
      await stopCodeServer(vs.server);
      vs.server = undefined;
    },
  };

  test.beforeAll(async () => {
    if (!existsSync(VSIX)) throw new Error(`${VSIX} is missing: run npm run package first`);
    vs.run = makeRunFolder();
    vs.workspace = await workspace(vs.run);
    prepareProfile(vs.run, VSIX);
    vs.server = await startCodeServer(vs.run, vs.workspace);
    vs.context = await chromium.launchPersistentContext(join(vs.run, "chrome"), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1440, height: 900 },
      args: CHROMIUM_ARGS,
    });
    vs.page = vs.context.pages()[0] ?? (await vs.context.newPage());
    await vs.page.goto(`${vs.server.url}/?folder=${encodeURIComponent(vs.workspace)}`);
    await expect(vs.page.locator(".monaco-workbench")).toBeVisible({ timeout: 60_000 });
  });

  test.afterEach(async ({}, testInfo) => {
    if (testInfo.status === testInfo.expectedStatus) return;
    failed = true;
    if (vs.page) await vs.shot("failure").catch(() => undefined);
    // The extension's log (server stderr and the client's messages) tells why.
    try {
      const out = execFileSync("find", [join(vs.run, "user-data", "logs"), "-name", "Counterpoint*.log"], {
        encoding: "utf8",
      });
      for (const file of out.split("\n").filter(Boolean)) {
        console.log(`--- ${file}\n${readFileSync(file, "utf8").split("\n").slice(-40).join("\n")}`);
      }
    } catch {
      // no log
    }
  });

  test.afterAll(async () => {
    await vs.close();
    tearDown?.();
    if (vs.run && !failed && !process.env.COUNTERPOINT_E2E_KEEP) removeRunFolder(vs.run);
    else if (vs.run) console.log(`e2e run folder kept: ${vs.run}`);
  });

  return vs;
}

/** Fails at once, with its text, when VS Code shows an error notification. */
export async function noErrorToast(page) {
  const errors = page.locator(".notifications-toasts .notification-toast:has(.codicon-error)");
  if ((await errors.count()) > 0) {
    throw new Error(`error notification: ${await errors.first().innerText()}`);
  }
}

/** Runs a command from the palette by its title. */
export async function palette(page, commandTitle) {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await expect(input).toBeVisible();
  await input.fill(`>${commandTitle}`);
  const row = page.locator(".quick-input-widget .monaco-list-row", { hasText: commandTitle }).first();
  await expect(row).toBeVisible();
  await page.keyboard.press("Enter");
}

/** Opens a workspace file by its name (the palette without its '>' is quick open); resolves once its tab shows. */
export async function openFile(page, name) {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await expect(input).toBeVisible();
  await input.fill(name);
  await expect(page.locator(".quick-input-widget .monaco-list-row", { hasText: name }).first()).toBeVisible();
  await page.keyboard.press("Enter");
  await expect(page.locator(".tabs-container .tab", { hasText: name })).toBeVisible();
}

/** The extension's Agents view in the side bar. */
export function agentsView(page) {
  return page.locator(".pane", { has: page.locator(".pane-header", { hasText: "Agents" }) });
}
