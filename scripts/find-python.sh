#!/usr/bin/env bash
# Prints the interpreter for one Python minor version (e.g. `find-python.sh 3.12`), or fails with one
# line saying where it looked. Order: $PYTHON_3_12 (any X_Y), pyenv's versions folder (newest patch
# release; pyenv ships 3.11, 3.12 and 3.13 on this project's machines, CI's included), then python3.12
# on PATH. pyenv's folder is read directly: its shims only expose the versions `pyenv global` names.
set -euo pipefail
version="${1:?usage: find-python.sh 3.X}"
override_var="PYTHON_${version//./_}"
if [ -n "${!override_var:-}" ]; then
  [ -x "${!override_var}" ] || { echo "$override_var=${!override_var}: not an executable" >&2; exit 1; }
  echo "${!override_var}"
  exit 0
fi
pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
best=""
for candidate in "$pyenv_root"/versions/"$version".*/bin/python; do
  [ -x "$candidate" ] || continue
  patch="${candidate#"$pyenv_root/versions/$version."}"
  patch="${patch%%/*}"
  [[ "$patch" =~ ^[0-9]+$ ]] || continue   # skip 3.12.1t (free-threaded), 3.12-dev and the like
  if [ -z "$best" ] || [ "$patch" -gt "$best_patch" ]; then best="$candidate"; best_patch="$patch"; fi
done
if [ -n "$best" ]; then echo "$best"; exit 0; fi
# A pyenv shim for a version `pyenv global` does not name exists but fails when run: check it runs.
if on_path=$(command -v "python$version") && "$on_path" -c "import sys; assert '%d.%d' % sys.version_info[:2] == '$version'" 2>/dev/null; then
  echo "$on_path"
  exit 0
fi
echo "Python $version not found: set $override_var, or install it (pyenv install $version), looked in $pyenv_root/versions/$version.* and PATH" >&2
exit 1
