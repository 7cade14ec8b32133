# The few verbs a maintainer needs; README and CI call these.
.PHONY: setup demo test lint bench generate stack-up stack-down constraints update-constraints

setup:
	bash scripts/setup.sh test

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

bench:
	bash scripts/setup.sh test && .venv/bin/pip install -q -e '.[bench]' -c constraints.txt && \
	for b in benchmarks/bench_*.py; do echo "== $$b"; .venv/bin/python $$b; done

# Every generated file (Prometheus rules + promtool tests, alertmanager.yml, Grafana dashboards, the
# Collector's PII redaction config) from the shipped specs, the telemetry registry and the PII patterns.
generate:
	.venv/bin/otel-secretary generate --out generated

stack-up:
	.venv/bin/otel-secretary stack up

stack-down:
	.venv/bin/otel-secretary stack down

# constraints.txt pins one complete OpenTelemetry release train (README "Install").
# After editing pyproject.toml's dependencies: same train, new pins for what changed.
constraints:
	bash scripts/update-constraints.sh current

# Move to the newest complete upstream train, then run the whole suite on it.
update-constraints:
	bash scripts/update-constraints.sh newest
