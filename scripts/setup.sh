#!/usr/bin/env bash
# Installs everything the tests need, idempotently: the venv and package, Debian packages
# (redis-server, prometheus, alertmanager), and the Go-built binaries (collector, Jaeger, stripe-mock).
# Each step is skipped when its result is already there, so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
MODE="${1:-test}"   # demo: package + example deps + redis; test: everything incl. the stack's binaries
EXTRAS=$([ "$MODE" = "demo" ] && echo example || echo test)

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed-$EXTRAS-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "==> installing otel-secretary[$EXTRAS] into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[$EXTRAS]"
  touch "$stamp"
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
