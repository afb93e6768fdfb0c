// End-to-end test of "Counterpoint: Plan a Feature…" in a real VS Code (code-server) driven by Chromium,
// in a Python project with no spec yet: the palette command activates the extension and starts the
// server, the input box takes the one-line request, the director (a loopback model run by
// tests/director/serve_model.py, named by the user settings in the profile's XDG_CONFIG_HOME) plans,
// repairing its first draft from the check findings, and the spec opens in an editor with no error
// in the Problems panel and the result said in a notification. Nothing runs.
import { test, expect } from "@playwright/test";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./codeServer.mjs";
import { useVSCode } from "./harness.mjs";

const PYTHON = join(REPO_ROOT, ".venv", "bin", "python");
const REQUEST = "Build a course enrollment feature";
const SPEC = "course-enrollment.agents.md";

let model;

/** The loopback model: makes the project and the user settings, resolves once it serves. */
function startModel(run, workspace) {
  const child = spawn(
    PYTHON,
    ["-m", "tests.director.serve_model", "--config", join(run, "xdg", "config"), "--project", workspace],
    { cwd: REPO_ROOT, stdio: ["pipe", "pipe", "inherit"] },
  );
  return new Promise((resolve, reject) => {
    let seen = "";
    child.stdout.on("data", (chunk) => {
      seen += chunk.toString();
      if (seen.includes("READY ")) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`the model server exited (${code}) before it was ready`)));
  });
}

const vs = useVSCode({
  // The model makes the project (a Python project with no spec) and the user settings naming it.
  workspace: async (run) => {
    const workspace = join(run, "workspace");
    model = await startModel(run, workspace);
    return workspace;
  },
  shots: "plan-",
  tearDown: () => model?.stdin.end(),
});

test("Plan a Feature…: the request in an input box, the spec planned, checked and opened", async () => {
  const { page, workspace, shot } = vs;
  await test.step("the palette command, with no spec in the workspace, asks for the request", async () => {
    // The palette lists the contributed command once the extensions are scanned (the extension itself
    // activates only when the command runs: no spec here).
    const input = page.locator(".quick-input-widget input");
    const row = page.locator(".quick-input-widget .monaco-list-row", { hasText: "Counterpoint: Plan a Feature" });
    const deadline = Date.now() + 60_000;
    for (;;) {
      await page.keyboard.press("F1");
      await expect(input).toBeVisible();
      await input.fill(">Counterpoint: Plan a Feature");
      if (await row.first().isVisible({ timeout: 3_000 }).catch(() => false)) break;
      if (Date.now() > deadline) throw new Error("the palette never listed Counterpoint: Plan a Feature…");
      await page.keyboard.press("Escape");
      await page.waitForTimeout(1_000);
    }
    await page.keyboard.press("Enter");
    await expect(page.locator(".quick-input-widget", { hasText: "What should the agents build?" })).toBeVisible({
      timeout: 30_000,
    });
    await input.fill(REQUEST);
    await shot("request");
    await page.keyboard.press("Enter");
  });

  await test.step("the spec opens in an editor, and the result is said", async () => {
    await expect(page.locator(".tabs-container .tab", { hasText: SPEC })).toBeVisible({ timeout: 120_000 });
    const said = page.locator(".notifications-toasts .notification-toast", { hasText: "predicted speed-up" });
    await expect(said).toBeVisible({ timeout: 30_000 });
    await expect(said).toContainText("passes counterpoint check (2 drafts)");
    await expect(said.getByRole("button", { name: "Run All Agents" })).toBeVisible();
    await expect(page.locator(".monaco-editor .view-lines").first()).toContainText("Planned by");
    await shot("spec");
  });

  await test.step("no error in the Problems panel; nothing ran", async () => {
    await page.keyboard.press("Control+Shift+M");
    await expect(page.locator(".markers-panel")).toBeVisible();
    await expect(page.locator(".markers-panel .monaco-list-row .codicon-error")).toHaveCount(0);
    expect(existsSync(join(workspace, SPEC))).toBe(true);
    expect(existsSync(join(workspace, ".counterpoint", "runs"))).toBe(false);
  });
});
