#!/usr/bin/env bash
# Builds the uWebSockets C++ peer from the uWebSockets/uSockets sources vendored in the
# crates.io package libuwebsockets-sys (fetched by cargo into the scratch dir, never committed).
# Usage: build.sh SCRATCH_DIR  → SCRATCH_DIR/uws-cpp/uws-server
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
scratch="$1"
crate=libuwebsockets-sys
version=0.0.10
out="$scratch/uws-cpp"
mkdir -p "$out"
if [ "$out/uws-server" -nt "$here/server.cpp" ]; then
    echo "up to date: $out/uws-server"
    exit 0
fi
src="$out/$crate-$version"
if [ ! -d "$src/uWebSockets/uSockets/src" ]; then
    # A throwaway crate that depends on the package makes cargo fetch and unpack it.
    fetcher="$out/fetch"
    mkdir -p "$fetcher/src"
    printf '[package]\nname = "fetch-uws"\nversion = "0.0.0"\nedition = "2021"\n[workspace]\n[dependencies]\n%s = "=%s"\n' \
        "$crate" "$version" > "$fetcher/Cargo.toml"
    echo 'fn main() {}' > "$fetcher/src/main.rs"
    (cd "$fetcher" && CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" cargo fetch --quiet)
    archive=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"$crate-$version.crate" | head -n1)
    tar -xzf "$archive" -C "$out"
fi
uws="$src/uWebSockets"
objs="$out/obj"
mkdir -p "$objs"
cd "$objs"
gcc -O3 -flto -DLIBUS_NO_SSL -std=c11 -I"$uws/uSockets/src" -c \
    "$uws"/uSockets/src/*.c "$uws"/uSockets/src/eventing/epoll_kqueue.c
g++ -O3 -flto -DLIBUS_NO_SSL -std=c++20 -I"$uws/src" -I"$uws/uSockets/src" \
    -o "$out/uws-server" "$here/server.cpp" "$objs"/*.o -lz
echo "built $out/uws-server"
