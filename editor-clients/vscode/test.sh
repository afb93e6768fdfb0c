#!/usr/bin/env bash
# Tests of the VS Code extension, called by `./dev test`: installs what it needs (Debian packages,
# code-server + Node 24 into ~/.cache/counterpoint/code-server-<version>, npm packages from
# package-lock.json), builds (the protocol's TypeScript types are generated from its JSON Schemas
# there), runs the `node --test` unit tests, packages the .vsix and runs the
# end-to-end Playwright test against code-server with the .vsix installed.
# Needs the project's venv (./dev sync) for the language server: $ROOT/.venv/bin/counterpoint.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$HERE"
start=$SECONDS
step() { printf '\n== vscode: %s (%ss)\n' "$1" "$((SECONDS - start))"; }

step "code-server and Debian packages"
CODE_SERVER_DIR="$(scripts/install-code-server.sh | tail -n 1)"
export CODE_SERVER_DIR

step "npm packages"
stamp="node_modules/.counterpoint-lock-stamp"
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  # --ignore-scripts: no dependency needs its install script (esbuild's binary comes from its
  # platform package; keytar, used by vsce only to log in, is not needed to package).
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

step "build (protocol names and types, type-check, bundle)"
npm run --silent build
# The schema copies and the types generated from them (src/generated/protocolTypes.ts) are those of
# the protocol as exported now, and generating them again gives the same text.
npm run --silent check:protocol

step "unit tests (node --test)"
node --test out/test/unit/

step "package the .vsix"
npx --no-install vsce package --no-dependencies --allow-missing-repository \
  --out dist/counterpoint.vsix >/dev/null
ls -l dist/counterpoint.vsix
# The license text ships in the extension (vsce puts it at extension/LICENSE.txt).
python3 -m zipfile -l dist/counterpoint.vsix | grep -q 'extension/LICENSE' || { echo "the .vsix lacks the LICENSE" >&2; exit 1; }

step "end-to-end test in code-server"
export COUNTERPOINT_SERVER_COMMAND="${COUNTERPOINT_SERVER_COMMAND:-$ROOT/.venv/bin/counterpoint lsp}"
if [ ! -x "${COUNTERPOINT_SERVER_COMMAND%% *}" ]; then
  echo "the language server ${COUNTERPOINT_SERVER_COMMAND%% *} is missing: run ./dev sync first" >&2
  exit 1
fi
npx --no-install playwright test -c test/e2e/playwright.config.mjs
step "done"
