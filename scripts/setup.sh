#!/usr/bin/env bash
# Installs everything the tests need, idempotently: the venv and package, Debian packages
# (redis-server, prometheus, alertmanager), and the Go-built binaries (collector, Jaeger, stripe-mock).
# Each step is skipped when its result is already there, so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
MODE="${1:-test}"   # demo: package + example deps + redis; test: everything incl. the stack's binaries
EXTRAS=$([ "$MODE" = "demo" ] && echo example || echo test)

# install_venv DIR INTERPRETER: the README's install line (constraints.txt pins one OpenTelemetry train),
# with the pip the interpreter's venv brings: no upgrade, so CI installs exactly as a new user does.
install_venv() {
  local dir="$1" interpreter="$2"
  if [ ! -x "$dir/bin/python" ]; then
    echo "==> creating $dir with $("$interpreter" --version)"
    "$interpreter" -m venv "$dir"
  fi
  local stamp
  stamp="$dir/.installed-$EXTRAS-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo "==> installing otel-secretary[$EXTRAS] into $dir (constraints.txt)"
    "$dir/bin/python" -m pip install -q --disable-pip-version-check -e ".[$EXTRAS]" -c constraints.txt
    touch "$stamp"
  fi
}

install_venv .venv "$PYTHON"

# The other Pythons we claim (pyproject classifiers) get a venv each for scripts/test.sh: .venv-3.12 ...
# A missing interpreter fails in CI (CI=true), never a silent skip; elsewhere it is a warning.
if [ "$MODE" = "test" ]; then
  primary=$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  for version in $(bash scripts/supported-pythons.sh); do
    [ "$version" = "$primary" ] && continue
    if interpreter=$(bash scripts/find-python.sh "$version"); then
      install_venv ".venv-$version" "$interpreter"
    elif [ "${CI:-}" = "true" ]; then
      echo "setup: CI=true and Python $version (claimed in pyproject.toml) is missing; see scripts/find-python.sh" >&2
      exit 1
    else
      echo "setup: warning: Python $version not found; its tests will not run here" >&2
    fi
  done
fi

if [ "$MODE" = "demo" ]; then
  command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }
else
  if [ -f scripts/install-system-packages.sh ]; then
    bash scripts/install-system-packages.sh
  elif ! command -v redis-server >/dev/null; then
    apt-get update -qq && apt-get install -y -qq redis-server
  fi
  if [ -f scripts/build-go-tools.sh ]; then
    bash scripts/build-go-tools.sh
  fi
fi
