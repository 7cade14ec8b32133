#!/usr/bin/env bash
# The whole suite, as CI runs it: set-up, lint, types, then every test (unit, integration, e2e).
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian's golang is not used; the Go toolchain of this machine kind lives here and may be off PATH.
export PATH="$PATH:/usr/local/go/bin"
bash scripts/setup.sh test
echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "==> mypy (strict, package)"
.venv/bin/mypy
echo "==> pytest"
.venv/bin/pytest -q "$@"
