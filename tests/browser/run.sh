#!/usr/bin/env bash
# The chat page in a real browser: installs Chromium (Debian package) and playwright-core
# (npm, pinned), builds the binary, and runs the *.spec.mjs files (chat.spec.mjs: two people
# chat across a server restart; page.spec.mjs: the page on a phone, drafts, notices;
# limits.spec.mjs: rate limits and backoff; fallback.spec.mjs: the HTTP fallback with no
# WebSocket in the browser and behind nginx), which start, restart and stop `fullduplex chat`
# (and nginx, installed here from Debian) on free loopback ports themselves. Screenshots:
# tests/browser/output/.
# storm.spec.mjs: a reconnect storm of STORM_PAGES pages (default 24) after a server restart.
# Usage: tests/browser/run.sh [SPEC.mjs ...]   (default: every spec file)
set -euo pipefail
cd "$(dirname "$0")"
ROOT="$(cd ../.. && pwd)"
SPECS=("$@")
[[ ${#SPECS[@]} -eq 0 ]] && SPECS=(chat.spec.mjs page.spec.mjs limits.spec.mjs fallback.spec.mjs storm.spec.mjs)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -x /usr/bin/chromium ]; then
    echo "== installing chromium (apt-get)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [ ! -x /usr/sbin/nginx ]; then
    echo "== installing nginx-light (apt-get; no service is started)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
fi
if ! command -v node >/dev/null; then
    echo "== installing nodejs and npm (apt-get)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi

echo "== npm ci (playwright-core, pinned in package-lock.json)"
npm ci --no-audit --no-fund --loglevel=error

echo "== cargo build --release"
(cd "$ROOT" && cargo build --release --bin fullduplex)

echo "== chat in headless $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
rm -rf output
FULLDUPLEX_BIN="$ROOT/target/release/fullduplex" CHROMIUM=/usr/bin/chromium NGINX=/usr/sbin/nginx \
    node --test --test-concurrency=1 "${SPECS[@]}"
