#!/usr/bin/env bash
# Installs what the end-to-end suite needs: Debian's chromium, ripgrep and the headers code-server's
# native modules build against (apt), then code-server and playwright-core from the npm registry into
# .e2e/tools (git-ignored; pinned by test/e2e/tools/package-lock.json so the main lock stays lean).
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
APT_PACKAGES=(libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config ripgrep chromium fonts-liberation g++ make)

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

# --- 2. npm: code-server + playwright-core ----------------------------------------------------
# node-gyp must build against this node's headers without downloading them.
if [ -z "${npm_config_nodedir:-}" ] && [ "$(npm config get nodedir)" = "undefined" -o -z "$(npm config get nodedir)" ]; then
  node_prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
  if [ -f "$node_prefix/include/node/node_api.h" ]; then export npm_config_nodedir=$node_prefix; fi
fi
export JOBS=${JOBS:-max}                      # node-gyp: make -j<cores>
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

stamp_of() { { cat "$MANIFEST/package-lock.json"; node -v; cat "$0"; } | sha256sum | cut -c1-16; }
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
  (cd "$VS" && npm_config_yes=true npm rebuild --loglevel=error \
    kerberos node-pty @parcel/watcher @vscode/spdlog @vscode/deviceid native-watchdog @vscode/sqlite3)
  (cd "$TOOLS" && npm rebuild --loglevel=error argon2)
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
