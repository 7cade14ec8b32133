#!/usr/bin/env bash
# The whole suite, as CI runs it: set-up, lint, types, then every test (unit, integration, e2e) on the
# primary Python (.venv), then the unit and integration tests (all but e2e) on every other Python that
# pyproject.toml claims, each in its own venv (.venv-3.12, .venv-3.13) made by scripts/setup.sh.
# Arguments (e.g. a test folder) run on the primary Python only; OTHER_PYTHONS=0 also skips the others.
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
echo "==> pytest ($(.venv/bin/python --version))"
.venv/bin/pytest -q "$@"

if [ $# -gt 0 ] || { [ "${OTHER_PYTHONS:-1}" = 0 ] && [ "${CI:-}" != "true" ]; }; then exit 0; fi
primary=$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
for version in $(bash scripts/supported-pythons.sh); do
  [ "$version" = "$primary" ] && continue
  if [ ! -x ".venv-$version/bin/pytest" ]; then
    if [ "${CI:-}" = "true" ]; then echo "CI=true but .venv-$version is missing (scripts/setup.sh)" >&2; exit 1; fi
    echo "==> Python $version: skipped, no .venv-$version (interpreter not found by scripts/find-python.sh)"
    continue
  fi
  echo "==> pytest -m 'not e2e' ($(".venv-$version/bin/python" --version))"
  started=$SECONDS
  ".venv-$version/bin/pytest" -q -m "not e2e" -p no:cacheprovider
  echo "==> Python $version: $((SECONDS - started)) s"
done
