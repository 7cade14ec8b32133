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

# Its own venv: the bench extra brings upstream's opentelemetry-distro (the baseline arms), and with two
# distros installed an app must name ours (README "Install"); the test venv keeps only ours.
bench:
	bash scripts/setup.sh test && { [ -x .venv-bench/bin/python ] || .venv/bin/python -m venv .venv-bench; } && \
	.venv-bench/bin/pip install -q -e '.[example,bench]' -c constraints.txt && \
	for b in benchmarks/bench_*.py; do echo "== $$b"; .venv-bench/bin/python $$b; done

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
