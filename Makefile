# The few verbs a maintainer needs; README and CI call these.
.PHONY: setup demo test lint bench stack-up stack-down

setup:
	bash scripts/setup.sh test

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

bench:
	bash scripts/setup.sh test && .venv/bin/pip install -q -e '.[bench]' && \
	for b in benchmarks/bench_*.py; do echo "== $$b"; .venv/bin/python $$b; done

stack-up:
	.venv/bin/otel-secretary stack up

stack-down:
	.venv/bin/otel-secretary stack down
