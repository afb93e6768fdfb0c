// Bundles src/extension.ts (and vscode-languageclient) into dist/extension.js; `vscode` stays external.
import { build } from "esbuild";

const production = process.argv.includes("--production");
await build({
  entryPoints: ["src/extension.ts"],
  bundle: true,
  outfile: "dist/extension.js",
  external: ["vscode"],
  format: "cjs",
  platform: "node",
  target: "node20",
  sourcemap: production ? false : "linked",
  minify: production,
  logLevel: "warning",
});
console.log(`esbuild: dist/extension.js${production ? " (production)" : ""}`);
