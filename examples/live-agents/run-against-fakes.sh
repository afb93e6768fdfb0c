#!/usr/bin/env bash
# Run live-agents.agents.md against fake OpenAI and Anthropic servers on 127.0.0.1 (no network),
# with the settings the README documents: OPENAI_BASE_URL / OPENAI_API_KEY and
# ANTHROPIC_BASE_URL / ANTHROPIC_API_KEY. The ACP agent is a fake built with the ACP SDK.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
TMP="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do pkill -P "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT

for flavor in openai anthropic; do
  (sleep 100000 | "$PY" "$ROOT/tests/llm/fake_llm_server.py" --flavor "$flavor" --latency 0.1 --tokens 30 \
    >"$TMP/$flavor.url") &
  pids+=("$!")
done
for flavor in openai anthropic; do
  for _ in $(seq 100); do [ -s "$TMP/$flavor.url" ] && break; sleep 0.1; done
done
OPENAI_URL="$(head -n1 "$TMP/openai.url")"
ANTHROPIC_URL="$(head -n1 "$TMP/anthropic.url")"
export OPENAI_BASE_URL="$OPENAI_URL" OPENAI_API_KEY="sk-fake-openai-key-for-loopback"
export ANTHROPIC_BASE_URL="${ANTHROPIC_URL%/v1}" ANTHROPIC_API_KEY="sk-ant-fake-key-for-loopback"
cd "$HERE"
"$ROOT/.venv/bin/counterpoint" run --trust live-agents.agents.md "$@"
