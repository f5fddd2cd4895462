#!/usr/bin/env bash
# The scale-out tests for real: chat nodes sharing rooms through a real redis-server.
#
#   scripts/redis-tests.sh
#
# Installs redis-server (Debian's package) when it is missing and this runs as root, then
# runs tests/scale_out.rs with FULLDUPLEX_REQUIRE_REDIS=1, so a missing redis-server fails
# the run instead of skipping the tests. Each test starts its own redis-server on a free
# loopback port (no service is started or needed).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "redis-tests.sh: installing redis-server"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    else
        echo "redis-tests.sh: redis-server is missing (install Debian's redis-server)" >&2
        exit 1
    fi
fi
echo "redis-tests.sh: $(redis-server --version)"
FULLDUPLEX_REQUIRE_REDIS=1 cargo test --release --test apps scale_out:: 2>&1 | tail -n 100
