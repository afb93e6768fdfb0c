// Copies the generated protocol names (methods.json) and the JSON Schemas of events and command
// arguments from protocol/counterpoint_protocol/schemas/ into src/generated/, so that the extension
// reads command ids and notification names from the one place the server also uses; and the
// repository's LICENSE into the extension's folder, so that the .vsix ships the license text.
import { copyFileSync, mkdirSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const source = process.env.COUNTERPOINT_SCHEMAS ?? join(here, "..", "..", "..", "protocol", "counterpoint_protocol", "schemas");
const target = join(here, "..", "src", "generated");
mkdirSync(target, { recursive: true });
for (const name of ["methods.json", "event.schema.json", "commands.schema.json"]) {
  const from = join(source, name);
  if (!existsSync(from)) {
    console.error(`copy-protocol: ${from} is missing (generate it with: python -m counterpoint_protocol.export)`);
    process.exit(1);
  }
  copyFileSync(from, join(target, name));
}
console.log(`copy-protocol: schemas copied from ${source}`);

const license = join(here, "..", "..", "..", "LICENSE");
if (!existsSync(license)) {
  console.error(`copy-protocol: ${license} is missing`);
  process.exit(1);
}
copyFileSync(license, join(here, "..", "LICENSE"));
