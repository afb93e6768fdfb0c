// End-to-end test of reviewing an isolated run in a real VS Code (code-server) driven by Chromium:
// a spec whose three replayed agents work in git working copies of their own runs in a repository
// the test makes; the Agents view lists each agent's changed files with +/− counts, a click opens the
// diff of the file where the agent started against its version (counterpoint-git: documents read with
// counterpoint.showFile), "Apply Run…" brings the changes into the working tree and "Discard Run…"
// (after its confirmation) removes the run's branches and copies.
import { test, expect, chromium } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
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

const SPEC_NAME = "iso.agents.md";
const VSIX = process.env.COUNTERPOINT_VSIX ?? join(EXTENSION_DIR, "dist", "counterpoint.vsix");
const LINES = Array.from({ length: 30 }, (_, i) => `line ${i + 1}\n`).join("");
// One agent at a time: copies made at once can race in `git worktree add` (reported to the engine's owner).
const SPEC = `---
feature: Isolated review
isolation: worktree
max_parallel: 1
---
# Isolated review

## top
transcript: transcripts/top.jsonl
- edit the top of app.py

## bottom
transcript: transcripts/bottom.jsonl
- edit the bottom of app.py

## notes
transcript: transcripts/notes.jsonl
- write the notes
`;
const TRANSCRIPTS = {
  top: [{ action: "edit_file", path: "app.py", search: "line 2\n", replace: "TOP\n" }],
  bottom: [{ action: "edit_file", path: "app.py", search: "line 28\n", replace: "BOTTOM\n" }],
  notes: [{ action: "write_file", path: "docs/notes.md", content: "# Notes\nwritten by notes\n" }],
};

let run;
let repo;
let server;
let context;
let page;
let failed = false;

function git(...args) {
  const env = { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" };
  return execFileSync("git", args, { cwd: repo, env, encoding: "utf8" });
}

/** A git repository with app.py committed, the spec and its transcripts beside it. */
function makeRepo(folder) {
  repo = join(folder, "repo");
  mkdirSync(join(repo, "transcripts"), { recursive: true });
  git("init", "-q", "-b", "main");
  writeFileSync(join(repo, ".gitignore"), ".counterpoint/\n");
  writeFileSync(join(repo, "app.py"), LINES);
  git("add", "-A");
  git("commit", "-qm", "start");
  for (const [name, steps] of Object.entries(TRANSCRIPTS)) {
    writeFileSync(join(repo, "transcripts", `${name}.jsonl`), steps.map((s) => JSON.stringify(s) + "\n").join(""));
  }
  writeFileSync(join(repo, SPEC_NAME), SPEC);
  return repo;
}

async function shot(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `isolation-${name}.png`) });
}

async function noErrorToast() {
  const errors = page.locator(".notifications-toasts .notification-toast:has(.codicon-error)");
  if ((await errors.count()) > 0) throw new Error(`error notification: ${await errors.first().innerText()}`);
}

async function palette(commandTitle) {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await expect(input).toBeVisible();
  await input.fill(`>${commandTitle}`);
  await expect(page.locator(".quick-input-widget .monaco-list-row", { hasText: commandTitle }).first()).toBeVisible();
  await page.keyboard.press("Enter");
}

function agentsView() {
  return page.locator(".pane", { has: page.locator(".pane-header", { hasText: "Agents" }) });
}

function row(text) {
  return agentsView().locator(".monaco-list-row", { hasText: text });
}

/** Expands an agent's row until `child` shows under it (a click landing while the view redraws is lost). */
async function expand(agent, child) {
  await expect(async () => {
    if ((await row(child).count()) === 0) await row(new RegExp(`^${agent}`)).first().click();
    await expect(row(child).first()).toBeVisible({ timeout: 2_000 });
  }).toPass({ timeout: 30_000 });
}

test.beforeAll(async () => {
  if (!existsSync(VSIX)) throw new Error(`${VSIX} is missing: run npm run package first`);
  run = makeRunFolder();
  makeRepo(run);
  prepareProfile(run, VSIX);
  server = await startCodeServer(run, repo);
  context = await chromium.launchPersistentContext(join(run, "chrome"), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = context.pages()[0] ?? (await context.newPage());
  await page.goto(`${server.url}/?folder=${encodeURIComponent(repo)}`);
  await expect(page.locator(".monaco-workbench")).toBeVisible({ timeout: 60_000 });
});

test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus) {
    failed = true;
    if (page) await shot("failure").catch(() => undefined);
    try {
      const out = execFileSync("find", [join(run, "user-data", "logs"), "-name", "Counterpoint*.log"], { encoding: "utf8" });
      for (const file of out.split("\n").filter(Boolean)) {
        console.log(`--- ${file}\n${readFileSync(file, "utf8").split("\n").slice(-40).join("\n")}`);
      }
    } catch {
      // no log
    }
  }
});

test.afterAll(async () => {
  await context?.close().catch(() => undefined);
  await stopCodeServer(server);
  if (run && !failed && !process.env.COUNTERPOINT_E2E_KEEP) removeRunFolder(run);
  else if (run) console.log(`e2e run folder kept: ${run}`);
});

test("an isolated run reviewed in VS Code: changed files, their diff, apply and discard", async () => {
  await test.step("run the isolated spec from the palette", async () => {
    await expect(page.locator(".statusbar-item", { hasText: "Counterpoint ready" })).toBeVisible({ timeout: 60_000 });
    await page.keyboard.press("Control+P");
    await page.locator(".quick-input-widget input").fill(SPEC_NAME);
    await expect(page.locator(".quick-input-widget .monaco-list-row", { hasText: SPEC_NAME }).first()).toBeVisible();
    await page.keyboard.press("Enter");
    await expect(page.locator(".tabs-container .tab", { hasText: SPEC_NAME })).toBeVisible();
    await palette("Counterpoint: Run All Agents of This Spec");
    await expect(row("Isolated review — succeeded").first()).toBeVisible({ timeout: 60_000 });
    expect(readFileSync(join(repo, "app.py"), "utf8")).toBe(LINES); // nothing of the user's changed yet
    await noErrorToast();
  });

  await test.step("the Agents view lists an agent's changed files with +/− counts", async () => {
    await expand("top", "app.py");
    await expect(row("app.py").first()).toContainText("+1 −1");
    await expand("notes", "notes.md");
    await expect(row("notes.md").first()).toContainText("+2 −0");
    await expect(row("notes.md").first()).toContainText("docs");
    await shot("01-changed-files");
  });

  await test.step("a click opens the diff of where the agent started against its version", async () => {
    await row("app.py").first().click();
    await expect(page.locator(".tabs-container .tab", { hasText: "app.py (base ↔ top)" })).toBeVisible();
    const diff = page.locator(".monaco-diff-editor").first();
    // The lines' text, one after the other (the view renders no separator).
    await expect(diff.locator(".editor.original .view-lines")).toContainText("line 1line 2line 3");
    await expect(diff.locator(".editor.modified .view-lines")).toContainText("line 1TOPline 3");
    await shot("02-diff");
    await noErrorToast();
  });

  await test.step("Apply Run… brings the run's changes into the working tree", async () => {
    await palette("Counterpoint: Apply Run…");
    await expect(page.locator(".notifications-toasts .notification-toast", { hasText: "applied run" }).first()).toBeVisible();
    const applied = readFileSync(join(repo, "app.py"), "utf8");
    expect(applied).toContain("TOP\n");
    expect(applied).toContain("BOTTOM\n");
    expect(readFileSync(join(repo, "docs", "notes.md"), "utf8")).toBe("# Notes\nwritten by notes\n");
    expect(git("rev-parse", "--abbrev-ref", "HEAD").trim()).toBe("main");
    await noErrorToast();
  });

  await test.step("Discard Run… asks, then removes the run's branches", async () => {
    expect(git("branch", "--all")).toContain("counterpoint/");
    await palette("Counterpoint: Discard Run…");
    const dialog = page.locator(".monaco-dialog-box");
    await expect(dialog).toContainText("Discard run");
    await shot("03-discard-confirm");
    await dialog.getByRole("button", { name: "Discard" }).click();
    await expect(page.locator(".notifications-toasts .notification-toast", { hasText: "discarded run" }).first()).toBeVisible();
    expect(git("branch", "--all")).not.toContain("counterpoint/");
    await noErrorToast();
  });
});
