#!/usr/bin/env bash
# Screenshot of the Neovim plugin for the README: a real Neovim in tmux, the
# example spec after a run, with a spec diagnostic, code lenses and the status
# window; `tmux capture-pane -e` is turned into HTML and Chromium renders it.
#   make_nvim_screenshot.sh WORKSPACE OUT.png     (writes OUT.txt too: the plain text)
# Needs tmux and chromium (apt-get install tmux chromium); `counterpoint` and
# `nvim` on PATH (the repository's .venv/bin).
set -euo pipefail
WS="$(cd "$1" && pwd)"
OUT="$(realpath -m "$2")"; mkdir -p "$(dirname "$OUT")"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PLUGIN="$(cd "$HERE/../../editor-clients/nvim" && pwd)"
VENV_BIN="$(cd "$HERE/../../.venv/bin" 2>/dev/null && pwd || true)"
[ -n "$VENV_BIN" ] && export PATH="$VENV_BIN:$PATH"
missing=""
for tool in tmux chromium; do command -v "$tool" >/dev/null || missing="$missing $tool"; done
if [ -n "$missing" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing$missing" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >&2 \
    || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >&2; }
fi
for tool in tmux chromium nvim counterpoint python3; do
  command -v "$tool" >/dev/null || { echo "missing: $tool (apt-get install tmux chromium; ./dev sync)" >&2; exit 1; }
done
WORK="$(mktemp -d)"
SOCK="cpshot$$"
cleanup() { tmux -L "$SOCK" kill-server 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
COLS=118 ROWS=34

cat > "$WORK/init.lua" <<LUA
vim.opt.runtimepath:prepend('$PLUGIN')
vim.o.termguicolors = true
vim.o.swapfile = false
vim.o.number = true
vim.o.signcolumn = 'yes'
vim.o.laststatus = 3
vim.o.statusline = ' %f %m%=%{v:lua.require("counterpoint").statusline()} '
vim.diagnostic.config({ virtual_text = { prefix = '●' }, severity_sort = true })
-- Like a notification plugin: messages never stack into a "Press ENTER" prompt.
vim.notify = function(msg) vim.api.nvim_echo({ { (tostring(msg):gsub('\\n', ' ')):sub(1, vim.v.echospace) } }, false, {}) end
vim.cmd('runtime! plugin/counterpoint.lua')
vim.api.nvim_create_autocmd('FileType', { pattern = 'markdown', callback = function() pcall(vim.treesitter.start) end })
local cp = require('counterpoint')
cp.setup({ view = 'split' })
local state = require('counterpoint.state')
local ready = '$WORK/ready'
local function fail(msg) vim.fn.writefile({ 'FAIL ' .. msg }, ready) end
vim.api.nvim_create_autocmd('LspAttach', { once = true, callback = function(ev)
  local bufnr = ev.buf
  vim.defer_fn(function() cp.run() end, 500)
  vim.api.nvim_create_autocmd('User', { pattern = 'CounterpointRunFinished', once = true, callback = function()
    -- Break the spec: frontend needs a signal nobody fires.
    local lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
    local heading
    for i, l in ipairs(lines) do
      if l:match('^## frontend') then heading = i end
      if heading and l:match('^needs:') then
        vim.api.nvim_buf_set_lines(bufnr, i - 1, i, false, { 'needs: nonexistent' })
        vim.api.nvim_win_set_cursor(0, { i, 7 })
        break
      end
    end
    local timer = assert(vim.uv.new_timer())
    timer:start(100, 100, vim.schedule_wrap(function()
      if #vim.diagnostic.get(bufnr, { severity = 1 }) == 0 then return end
      timer:stop()
      require('counterpoint.ui').show_status()
      vim.defer_fn(function()
        vim.cmd('wincmd k')
        local title = vim.fn.search('^# ', 'nw')
        vim.fn.winrestview({ topline = math.max(title, 1) })
        vim.fn.search('^needs: nonexistent', 'w')
        vim.lsp.codelens.refresh({ bufnr = bufnr })
        vim.defer_fn(function()
          vim.cmd('redraw!')
          vim.fn.writefile({ 'OK' }, ready)
        end, 1500)
      end, 800)
    end))
  end })
end })
vim.defer_fn(function() if vim.fn.filereadable(ready) == 0 then fail('timeout') end end, 60000)
LUA

SPEC="$(cd "$WS" && ls *.agents.md | head -1)"
tmux -L "$SOCK" -f /dev/null new-session -d -s shot -x "$COLS" -y "$ROWS" \
  "cd '$WS' && TERM=tmux-256color COUNTERPOINT_TRUST=1 XDG_STATE_HOME='$WORK/state' XDG_DATA_HOME='$WORK/data' XDG_CONFIG_HOME='$WORK/config' nvim --clean -u '$WORK/init.lua' '$SPEC'"
tmux -L "$SOCK" set -g default-terminal tmux-256color >/dev/null
tmux -L "$SOCK" set -as terminal-overrides ',*:RGB' >/dev/null
for _ in $(seq 1 600); do [ -f "$WORK/ready" ] && break; sleep 0.1; done
[ -f "$WORK/ready" ] || { echo "nvim never got ready" >&2; tmux -L "$SOCK" capture-pane -p -t shot >&2; exit 1; }
grep -q '^OK' "$WORK/ready" || { cat "$WORK/ready" >&2; tmux -L "$SOCK" capture-pane -p -t shot >&2; exit 1; }
sleep 0.3
tmux -L "$SOCK" capture-pane -e -p -t shot > "$WORK/pane.ansi"
tmux -L "$SOCK" capture-pane -p -t shot > "${OUT%.png}.txt"

python3 - "$WORK/pane.ansi" "$WORK/pane.html" "$COLS" "$ROWS" <<'PY'
"""Render `tmux capture-pane -e` output (SGR escapes) as an HTML page."""
import html, re, sys
src, dst, cols, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
BASE = ["#07080d", "#ffc0b9", "#b3f6c0", "#fce094", "#a6dbff", "#ffcaff", "#8cf8f7", "#eef1f8",
        "#4f5258", "#ffc0b9", "#b3f6c0", "#fce094", "#a6dbff", "#ffcaff", "#8cf8f7", "#ffffff"]
def c256(n):
    if n < 16: return BASE[n]
    if n < 232:
        n -= 16; v = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (v[n // 36], v[(n // 6) % 6], v[n % 6])
    g = 8 + 10 * (n - 232); return "#%02x%02x%02x" % (g, g, g)
FG, BG = "#e0e2ea", "#14161b"
st = {}
def apply(params):
    p = [int(x) if x else 0 for x in params.split(";")] if params else [0]
    i = 0
    while i < len(p):
        n = p[i]
        if n == 0: st.clear()
        elif n == 1: st["b"] = 1
        elif n == 3: st["i"] = 1
        elif n in (4, 21): st["u"] = 1
        elif n == 7: st["r"] = 1
        elif n == 22: st.pop("b", None)
        elif n == 23: st.pop("i", None)
        elif n == 24: st.pop("u", None)
        elif n == 27: st.pop("r", None)
        elif 30 <= n <= 37: st["fg"] = BASE[n - 30]
        elif 90 <= n <= 97: st["fg"] = BASE[n - 90 + 8]
        elif 40 <= n <= 47: st["bg"] = BASE[n - 40]
        elif 100 <= n <= 107: st["bg"] = BASE[n - 100 + 8]
        elif n == 39: st.pop("fg", None)
        elif n == 49: st.pop("bg", None)
        elif n in (38, 48) and i + 1 < len(p):
            key = "fg" if n == 38 else "bg"
            if p[i + 1] == 5 and i + 2 < len(p): st[key] = c256(p[i + 2]); i += 2
            elif p[i + 1] == 2 and i + 4 < len(p): st[key] = "#%02x%02x%02x" % tuple(p[i + 2:i + 5]); i += 4
        i += 1
def style():
    fg, bg = st.get("fg", FG), st.get("bg", BG)
    if st.get("r"): fg, bg = bg, fg
    s = f"color:{fg};background:{bg};"
    if st.get("b"): s += "font-weight:bold;"
    if st.get("i"): s += "font-style:italic;"
    if st.get("u"): s += "text-decoration:underline;"
    return s
out = []
for line in open(src, encoding="utf-8", errors="replace").read().split("\n")[:rows]:
    parts, pos, width = [], 0, 0
    for m in re.finditer(r"\x1b\[([0-9;:]*)m|\x1b[^m]*?[A-Za-z]", line + "\x1b[0m"):
        text = line[pos:m.start()] if m.start() <= len(line) else line[pos:]
        if text:
            parts.append(f'<span style="{style()}">{html.escape(text)}</span>'); width += len(text)
        if m.group(1) is not None: apply(m.group(1).replace(":", ";"))
        pos = m.end()
    st.clear()
    if width < cols: parts.append(" " * (cols - width))
    out.append("".join(parts))
page = f"""<!doctype html><meta charset="utf-8"><style>
html,body{{margin:0;background:{BG}}}
pre{{margin:0;padding:12px;font:15px/19px 'DejaVu Sans Mono',monospace;color:{FG};background:{BG};display:inline-block}}
</style><pre>{chr(10).join(out)}</pre>"""
open(dst, "w", encoding="utf-8").write(page)
PY

WIDTH=$(( COLS * 9 + 24 + 2 )); HEIGHT=$(( ROWS * 19 + 24 ))
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$WORK/chromium" --window-size="$WIDTH,$HEIGHT" \
  --screenshot="$OUT" "file://$WORK/pane.html" >/dev/null 2>&1
[ -s "$OUT" ] || { echo "chromium wrote no screenshot" >&2; exit 1; }
echo "wrote $OUT"
