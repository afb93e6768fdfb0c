// End-to-end test of reviewing an isolated run in a real VS Code (code-server) driven by Chromium:
// a spec whose three replayed agents work in git working copies of their own runs in a repository
// the test makes; the Agents view lists each agent's changed files with +/− counts, a click opens the
// diff of the file where the agent started against its version (counterpoint-git: documents read with
// counterpoint.showFile), "Apply Run…" brings the changes into the working tree and "Discard Run…"
// (after its confirmation) removes the run's branches and copies.
import { test, expect } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { agentsView, noErrorToast, openFile, palette, useVSCode } from "./harness.mjs";

const SPEC_NAME = "iso.agents.md";
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

let repo;

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

const vs = useVSCode({ workspace: makeRepo, shots: "isolation-" });

function row(text) {
  return agentsView(vs.page).locator(".monaco-list-row", { hasText: text });
}

/** Expands an agent's row until `child` shows under it (a click landing while the view redraws is lost). */
async function expand(agent, child) {
  await expect(async () => {
    if ((await row(child).count()) === 0) await row(new RegExp(`^${agent}`)).first().click();
    await expect(row(child).first()).toBeVisible({ timeout: 2_000 });
  }).toPass({ timeout: 30_000 });
}

test("an isolated run reviewed in VS Code: changed files, their diff, apply and discard", async () => {
  const { page, shot } = vs;
  await test.step("run the isolated spec from the palette", async () => {
    await expect(page.locator(".statusbar-item", { hasText: "Counterpoint ready" })).toBeVisible({ timeout: 60_000 });
    await openFile(page, SPEC_NAME);
    await palette(page, "Counterpoint: Run All Agents of This Spec");
    await expect(row("Isolated review — succeeded").first()).toBeVisible({ timeout: 60_000 });
    expect(readFileSync(join(repo, "app.py"), "utf8")).toBe(LINES); // nothing of the user's changed yet
    await noErrorToast(page);
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
    await noErrorToast(page);
  });

  await test.step("Apply Run… brings the run's changes into the working tree", async () => {
    await palette(page, "Counterpoint: Apply Run…");
    await expect(page.locator(".notifications-toasts .notification-toast", { hasText: "applied run" }).first()).toBeVisible();
    const applied = readFileSync(join(repo, "app.py"), "utf8");
    expect(applied).toContain("TOP\n");
    expect(applied).toContain("BOTTOM\n");
    expect(readFileSync(join(repo, "docs", "notes.md"), "utf8")).toBe("# Notes\nwritten by notes\n");
    expect(git("rev-parse", "--abbrev-ref", "HEAD").trim()).toBe("main");
    await noErrorToast(page);
  });

  await test.step("Discard Run… asks, then removes the run's branches", async () => {
    expect(git("branch", "--all")).toContain("counterpoint/");
    await palette(page, "Counterpoint: Discard Run…");
    const dialog = page.locator(".monaco-dialog-box");
    await expect(dialog).toContainText("Discard run");
    await shot("03-discard-confirm");
    await dialog.getByRole("button", { name: "Discard" }).click();
    await expect(page.locator(".notifications-toasts .notification-toast", { hasText: "discarded run" }).first()).toBeVisible();
    expect(git("branch", "--all")).not.toContain("counterpoint/");
    await noErrorToast(page);
  });
});
