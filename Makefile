# noisefleet: `make demo` runs the system on embedded defaults, `make test` runs every check.
.PHONY: setup demo test lint typecheck imports pytest bench default-model lock clean

VENV := .venv
BIN := $(VENV)/bin
export OPENBLAS_NUM_THREADS ?= 1

setup:
	scripts/setup.sh

demo: setup
	$(BIN)/noisefleet-edge demo --output-dir demo-output

test: setup lint typecheck imports pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy

imports:
	$(BIN)/lint-imports

pytest:
	$(BIN)/pytest

bench: setup
	$(BIN)/python bench/bench_cli.py
	$(BIN)/python bench/bench_meter.py
	$(BIN)/python bench/bench_classifier.py
	$(BIN)/python bench/bench_outbox.py
	$(BIN)/python bench/bench_agent.py
	$(BIN)/python bench/bench_ingest.py
	$(BIN)/python bench/bench_alert_eval.py
	$(BIN)/python bench/bench_alerts.py
	$(BIN)/python bench/bench_dashboard.py

# Regenerate the edge's default classifier from the synthetic generator (fixed seeds).
default-model: setup
	$(BIN)/noisefleet-train default-model --out edge/src/noisefleet_edge/models/default

# One lock for the workspace, and the edge's own hashed requirements for gateways, checked
# with pip (what the gateways install with) for aarch64 and x86_64.
lock:
	uv lock
	uv export --package noisefleet-edge --no-dev --no-emit-workspace --frozen --quiet \
		-o edge/requirements.lock
	scripts/check-edge-lock.sh

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache .hypothesis
