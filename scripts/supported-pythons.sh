#!/usr/bin/env bash
# Prints the Python versions we claim, one a line, from pyproject.toml's classifiers (the one list that
# setup, CI and the constraints generator read).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - <<'PY'
import re, tomllib
for c in tomllib.load(open("pyproject.toml", "rb"))["project"]["classifiers"]:
    if m := re.fullmatch(r"Programming Language :: Python :: (3\.\d+)", c):
        print(m.group(1))
PY
