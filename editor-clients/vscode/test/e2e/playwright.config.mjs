// Playwright runs the end-to-end test against a real VS Code (code-server) in Debian's Chromium;
// no browser is downloaded (the test launches /usr/bin/chromium itself).
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: ".",
  testMatch: /.*\.e2e\.mjs$/,
  timeout: 240_000,
  expect: { timeout: 20_000 },
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  outputDir: join(tmpdir(), "counterpoint-playwright-results"),
});
