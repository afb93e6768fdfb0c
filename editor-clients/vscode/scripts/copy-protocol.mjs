// Copies the generated protocol names (methods.json) and the JSON Schemas of events, event payloads
// and command arguments from protocol/counterpoint_protocol/schemas/ into src/generated/, so that the
// extension reads command ids and notification names from the one place the server also uses;
// generates src/generated/protocolTypes.ts from those schemas (protocol-types.mjs: the event, its
// typed payloads, the status result), so that no payload is re-typed by hand; and copies the
// repository's LICENSE into the extension's folder, so that the .vsix ships the license text.
//
//   node scripts/copy-protocol.mjs [--check]
//
// With --check nothing is written; the exit code is 1 when a file is missing or stale (the type-check
// runs it first, so that it never checks the code against types of an older protocol).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { protocolTypes } from "./protocol-types.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const extension = join(here, "..");
const check = process.argv.includes("--check");
const source = process.env.COUNTERPOINT_SCHEMAS ?? join(here, "..", "..", "..", "protocol", "counterpoint_protocol", "schemas");
const target = join(extension, "src", "generated");
const COPIED = ["methods.json", "event.schema.json", "event-payloads.schema.json", "commands.schema.json"];

function readSource(from, hint) {
  if (!existsSync(from)) {
    console.error(`copy-protocol: ${from} is missing${hint ? ` (${hint})` : ""}`);
    process.exit(1);
  }
  return readFileSync(from, "utf8");
}

/** Target path → the text it should have. */
const outputs = new Map();
const texts = new Map();
for (const name of COPIED) {
  const text = readSource(join(source, name), "generate it with: python -m counterpoint_protocol.export");
  texts.set(name, text);
  outputs.set(join(target, name), text);
}
outputs.set(join(target, "protocolTypes.ts"), await protocolTypes((name) => JSON.parse(texts.get(name))));
outputs.set(join(extension, "LICENSE"), readSource(join(here, "..", "..", "..", "LICENSE")));

if (check) {
  const stale = [...outputs]
    .filter(([path, text]) => !existsSync(path) || readFileSync(path, "utf8") !== text)
    .map(([path]) => relative(extension, path));
  if (stale.length) {
    console.error(`copy-protocol: stale or missing (run npm run gen:protocol): ${stale.join(", ")}`);
    process.exit(1);
  }
  console.log("copy-protocol: generated files are current");
} else {
  mkdirSync(target, { recursive: true });
  for (const [path, text] of outputs) writeFileSync(path, text);
  console.log(`copy-protocol: schemas copied from ${source}, types generated into src/generated/protocolTypes.ts`);
}
