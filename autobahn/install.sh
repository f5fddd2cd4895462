#!/usr/bin/env bash
# Installs the Autobahn testsuite's `wstest` into autobahn/.venv; safe to run again.
#
# wstest (autobahntestsuite 25.10.1) runs on Python 2.7 only. Python 2.7 has no `venv`,
# so virtualenv 20.15.1 (its last release for 2.7) is installed with `pip --target` into
# autobahn/.venv-tools, creates autobahn/.venv, and every package of that venv is then
# installed from the pins of autobahn/requirements.txt (`--no-deps`), then `pip check`ed.
#
# Usage: autobahn/install.sh          (PYTHON2=/path/to/python2.7 to choose the interpreter)
# Prints the path of wstest on its last line. Exits 0 at once when it is installed and works.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="$HERE/.venv"
TOOLS="$HERE/.venv-tools"
WSTEST="$VENV/bin/wstest"
STAMP="$VENV/.requirements.sha256"
WANT_VERSION="AutobahnTestSuite 25.10.1"

# Python 2.7 prints deprecation banners on every pip call; they are noise here.
export PYTHONWARNINGS=ignore PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_PYTHON_VERSION_WARNING=1

say() { printf 'autobahn/install.sh: %s\n' "$*"; }

requirements_hash() {
    cat "$HERE/requirements-virtualenv.txt" "$HERE/requirements.txt" | sha256sum | cut -d' ' -f1
}

# True when wstest runs, reports the pinned version, and was built from the current pins.
wstest_works() {
    [[ -x "$WSTEST" && -f "$STAMP" ]] || return 1
    [[ "$(cat "$STAMP")" == "$(requirements_hash)" ]] || return 1
    "$WSTEST" --autobahnversion 2>/dev/null | grep -qx "$WANT_VERSION"
}

find_python2() {
    local candidate
    for candidate in "${PYTHON2:-}" "$HOME/.pyenv/versions/2.7.18/bin/python" python2.7; do
        [[ -n "$candidate" ]] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (2, 7))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

if wstest_works; then
    say "wstest already installed ($WANT_VERSION)"
    echo "$WSTEST"
    exit 0
fi

if ! PY2="$(find_python2)"; then
    cat >&2 <<MSG
autobahn/install.sh: Python 2.7 is required: wstest (autobahntestsuite) runs on Python 2 only.
  Looked for: \$PYTHON2, ~/.pyenv/versions/2.7.18/bin/python, python2.7 on PATH.
  Get it with pyenv:  pyenv install 2.7.18   (needs a C compiler and the libssl, zlib,
  libffi, libbz2, libreadline, libsqlite3 headers), or set PYTHON2=/path/to/python2.7.
MSG
    exit 2
fi

LOG="$(mktemp "${TMPDIR:-/tmp}/autobahn-install.XXXXXX.log")"
trap 'status=$?; if ((status != 0)); then say "failed, log follows ($LOG)" >&2; tail -n 60 "$LOG" >&2; fi' EXIT
start=$SECONDS

# 1. virtualenv, into its own folder (pinned, with its dependencies).
if ! PYTHONPATH="$TOOLS" "$PY2" -c 'import virtualenv, sys; sys.exit(virtualenv.__version__ != "20.15.1")' >>"$LOG" 2>&1; then
    rm -rf "$TOOLS"
    "$PY2" -m pip install -q --no-deps --target "$TOOLS" -r "$HERE/requirements-virtualenv.txt" >>"$LOG" 2>&1
fi

# 2. A new venv: a broken or stale one is removed, never patched.
rm -rf "$VENV"
PYTHONPATH="$TOOLS" "$PY2" -m virtualenv -q --no-download --no-periodic-update \
    --app-data "$TOOLS/app-data" --pip 20.3.4 --setuptools 44.0.0 --wheel 0.37.1 \
    "$VENV" >>"$LOG" 2>&1

# 3. Every package from the pins, then a dependency check.
"$VENV/bin/pip" install -q --no-deps -r "$HERE/requirements.txt" >>"$LOG" 2>&1
"$VENV/bin/pip" check >>"$LOG" 2>&1

requirements_hash >"$STAMP"
if ! wstest_works; then
    say "wstest was installed but does not run" >&2
    exit 1
fi
rm -f "$LOG"
say "installed $WANT_VERSION with $PY2 in $((SECONDS - start)) s"
echo "$WSTEST"
