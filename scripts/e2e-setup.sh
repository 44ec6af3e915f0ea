#!/usr/bin/env bash
# Installs what the end-to-end suite needs: Debian's chromium and ripgrep and a C++ toolchain (apt),
# then code-server 4.100.3 from the npm registry into .e2e/tools (git-ignored; pinned by
# test/e2e/tools/package-lock.json so the main lock stays lean) with the native modules it needs built
# offline against this Node's headers. playwright-core is a devDependency of the repository.
#
# Idempotent and cache-friendly: every step is skipped when its stamp matches, npm reads its cache
# first (--prefer-offline), and apt only runs when a package is missing. Keep .e2e/tools between CI
# runs (key: hash of test/e2e/tools/package-lock.json + node version) and the npm step is free.
#
# code-server's own postinstall downloads ripgrep from GitHub, which has no route here; this script
# does what that postinstall does instead (see docs in shared NOTES: "A real VS Code, headless").
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
E2E_DIR=${CONTRACTS_E2E_DIR:-$ROOT/.e2e}
TOOLS=$E2E_DIR/tools
MANIFEST=$ROOT/test/e2e/tools
APT_PACKAGES=(chromium fonts-liberation ripgrep g++ make)
# Headers of the native modules only CONTRACTS_E2E_ALL_NATIVES=1 builds (terminal, kerberos, keymaps).
[ "${CONTRACTS_E2E_ALL_NATIVES:-0}" = 1 ] && APT_PACKAGES+=(libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config)

now() { date +%s.%N; }
T_START=$(now)
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
log() { printf '[e2e-setup] %s\n' "$*" >&2; }

# --- 1. apt -----------------------------------------------------------------------------------
t=$(now)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then
  log "apt: installing ${missing[*]}"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
log "apt: $(elapsed "$t") s"

# --- 2. npm: code-server ------------------------------------------------------------------------
# node-gyp must build against this node's headers without downloading them.
if [ -z "${npm_config_nodedir:-}" ] && [ "$(npm config get nodedir)" = "undefined" -o -z "$(npm config get nodedir)" ]; then
  node_prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
  if [ -f "$node_prefix/include/node/node_api.h" ]; then export npm_config_nodedir=$node_prefix; fi
fi
export JOBS=${JOBS:-max}                      # node-gyp: make -j<cores>
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

# Built .node files (<1 MB) are kept per module version, Node ABI and CPU outside .e2e, so a fresh
# checkout (or a CI run that starts without .e2e) copies them instead of compiling (spdlog alone:
# 30-80 s on 2 cores). By default they sit beside npm's own cache, which CI keeps between runs
# (`npm cache clean` only empties _cacache).
NATIVE_CACHE=${CONTRACTS_E2E_NATIVE_CACHE:-$(npm config get cache)/_prompt-contracts-e2e/natives}
native() {
  local root=$1 module=$2 dir version key
  dir=$root/node_modules/$module
  version=$(node -p "require('$dir/package.json').version")
  key="$(echo "$module" | tr / +)@$version-node$(node -p process.versions.modules)-$(uname -m)"
  if [ -d "$NATIVE_CACHE/$key" ]; then
    cp -a "$NATIVE_CACHE/$key/." "$dir/"
    log "native $module: from cache ($key)"
    return
  fi
  local t3; t3=$(now)
  (cd "$root" && npm_config_yes=true npm rebuild --loglevel=error "$module" >/dev/null)
  mkdir -p "$NATIVE_CACHE/$key.tmp"
  (cd "$dir" && find . -name '*.node' -not -path '*/obj.target/*' -exec cp --parents {} "$NATIVE_CACHE/$key.tmp/" \;)
  rm -rf "$NATIVE_CACHE/$key" && mv "$NATIVE_CACHE/$key.tmp" "$NATIVE_CACHE/$key"
  log "native $module: built in $(elapsed "$t3") s"
}

stamp_of() { { cat "$MANIFEST/package-lock.json"; node -v; cat "$0"; echo "${CONTRACTS_E2E_ALL_NATIVES:-0}"; } | sha256sum | cut -c1-16; }
want=$(stamp_of)
t=$(now)
if [ "$(cat "$TOOLS/.stamp" 2>/dev/null)" = "$want" ]; then
  log "npm: up to date (.e2e/tools stamp $want)"
else
  rm -rf "$TOOLS"
  mkdir -p "$TOOLS"
  cp "$MANIFEST/package.json" "$MANIFEST/package-lock.json" "$TOOLS/"
  (cd "$TOOLS" && npm ci --ignore-scripts --prefer-offline --loglevel=error)
  log "npm ci: $(elapsed "$t") s"

  CS=$TOOLS/node_modules/code-server
  VS=$CS/lib/vscode
  t2=$(now)
  # The two inner packages install in parallel: they share nothing but the npm cache.
  (cd "$VS" && npm install --omit=dev --ignore-scripts --prefer-offline --loglevel=error) &
  p1=$!
  (cd "$VS/extensions" && npm install --omit=dev --ignore-scripts --prefer-offline --loglevel=error) &
  p2=$!
  wait "$p1"; wait "$p2"
  log "npm install (lib/vscode, extensions): $(elapsed "$t2") s"

  t2=$(now)
  # code-server loads argon2 at start. Of VS Code's native modules only spdlog matters here: it writes
  # the extension host's log files (our output channel among them), which the suite keeps as artifacts.
  # The others serve the terminal (node-pty), proxy auth (kerberos), hang detection and telemetry;
  # CONTRACTS_E2E_ALL_NATIVES=1 builds them too, for interactive use.
  native "$TOOLS" argon2
  native "$VS" @vscode/spdlog
  if [ "${CONTRACTS_E2E_ALL_NATIVES:-0}" = 1 ]; then
    for m in node-pty kerberos native-watchdog @vscode/deviceid @parcel/watcher; do native "$VS" "$m"; done
  fi
  mkdir -p "$VS/node_modules/@vscode/ripgrep/bin"
  cp "$(command -v rg)" "$VS/node_modules/@vscode/ripgrep/bin/rg"
  ln -sfn node_modules "$VS/node_modules.asar"
  log "native rebuilds: $(elapsed "$t2") s"
  echo "$want" > "$TOOLS/.stamp"
fi
log "npm total: $(elapsed "$t") s"

# --- 3. smoke check -----------------------------------------------------------------------------
node "$TOOLS/node_modules/code-server/out/node/entry.js" --version >/dev/null
test -x /usr/bin/chromium
log "ready in $(elapsed "$T_START") s: $TOOLS"
