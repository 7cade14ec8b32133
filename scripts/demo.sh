#!/usr/bin/env bash
# The main job: the AI secretary on the embedded default (no collector), with sample traffic.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh demo
exec .venv/bin/python -m examples.ai_secretary.demo "$@"
