#!/usr/bin/env bash
# Installs code-server (a real VS Code) and the Node 24 it needs into a cache folder outside the clone,
# keyed by version, and reuses it when present. Also installs Debian's chromium and the -dev packages
# code-server's native modules compile against. Prints the cache folder on its last line.
set -euo pipefail

CODE_SERVER_VERSION="${CODE_SERVER_VERSION:-4.139.1}"
NODE_MAJOR="${CODE_SERVER_NODE_MAJOR:-24}"
CACHE_ROOT="${COUNTERPOINT_CACHE:-$HOME/.cache/counterpoint}"
DEST="$CACHE_ROOT/code-server-$CODE_SERVER_VERSION"

need_debs=()
for pkg in chromium libkrb5-dev libxkbfile-dev libsecret-1-dev libx11-dev pkg-config; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_debs+=("$pkg")
done
if [ "${#need_debs[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${need_debs[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=900 update -qq >&2
  apt-get -o DPkg::Lock::Timeout=900 install -y -qq "${need_debs[@]}" >/dev/null
fi

if [ -x "$DEST/node_modules/.bin/code-server" ] && [ -f "$DEST/.complete" ]; then
  echo "$DEST"
  exit 0
fi

echo "installing code-server $CODE_SERVER_VERSION into $DEST (compiles native modules: ~15 min on 2 cores)" >&2
# Installed in place (native modules may remember their path); ".complete" marks a finished install.
rm -rf "$DEST"
mkdir -p "$DEST"
cd "$DEST"
echo '{"name":"counterpoint-code-server-cache","private":true}' > package.json
npm install --no-audit --no-fund --loglevel=error "node@$NODE_MAJOR" >&2
export PATH="$DEST/node_modules/node/bin:$PATH"
node --version >&2
# code-server's postinstall runs `npm install` in lib/vscode, whose native modules must compile: npm 11
# blocks dependency install scripts by default, so allow them (inherited by the nested npm calls).
export npm_config_dangerously_allow_all_scripts=true
npm install --no-audit --no-fund --loglevel=error --unsafe-perm "code-server@$CODE_SERVER_VERSION" >&2
XDG_CONFIG_HOME="$DEST/.check" XDG_DATA_HOME="$DEST/.check" "$DEST/node_modules/.bin/code-server" --version >&2
touch .complete
echo "$DEST"
