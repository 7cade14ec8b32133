#!/usr/bin/env bash
# Rewrites constraints.txt (see scripts/update-constraints.py for why it exists).
#   make update-constraints   newest complete OpenTelemetry train pyproject allows, then the whole suite
#   make constraints          same train, picking up pyproject.toml changes (a new dependency), no tests
# Extra arguments go to the generator (--refresh re-resolves the non-OpenTelemetry pins too).
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
train="${1:-newest}"
shift || true
tool="${XDG_CACHE_HOME:-$HOME/.cache}/otel-secretary/resolvers/tool"
if [ ! -x "$tool/bin/python" ]; then
  python3 -m venv "$tool"
  "$tool/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip packaging
fi
"$tool/bin/python" scripts/update-constraints.py --train "$train" "$@"
git --no-pager diff --stat -- constraints.txt 2>/dev/null || true
if [ "$train" = newest ] && [ "${SKIP_TESTS:-0}" != 1 ]; then
  echo "==> the whole suite on the new set (SKIP_TESTS=1 to skip)"
  make test
fi
