# The verbs people type. Everything goes through the project's virtual environment.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
MILLESIME ?= 2023
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: install run sample test test-fast test-system dev lint bench clean

# Installed with uv (PyPI's `uv`: resolves, installs and compiles the wheels in parallel, ≈ 27 s in a fresh clone
# against ≈ 90 s for pip); pip when uv cannot be had or fails, so that a machine without it still installs.
$(BIN)/observatory: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q uv && $(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e ".[test]" \
	  || { $(BIN)/pip install -q --upgrade pip && $(BIN)/pip install -q -e ".[test]"; }
	touch $@

install: $(BIN)/observatory

sample: install
	$(BIN)/observatory generate --scale sample --millesime $(MILLESIME) --seed 42

run: sample
	$(BIN)/observatory run --millesime $(MILLESIME)

# Two pytest processes (pytest-xdist), taking groups of tests in the order tests/conftest.py gives them: the
# session's published run is made once, by one process, while the other takes the modules that do not need it;
# the slowest steps are printed for the record.
XDIST := -n 2 --dist loadgroup --no-loadscope-reorder
test: install
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -m "not system" $(XDIST) --durations=25

# Everything but the end-to-end, browser and fault tests (markers set in tests/conftest.py), on two processes
# (3 min 7 s for 435 tests on the slower 2-core machine of 4 December, quiet; 3 min 12 s for 398 on the faster one;
# the issue asks for one minute: not there yet — its slowest are the micro-dataset protections and audits, about
# 4 s each of mostly fixed cost, the territory worlds).
test-fast: install
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -m "not e2e and not browser and not faults" $(XDIST)

dev: install
	mkdir -p $(DAGSTER_HOME) && cp -n dagster.yaml $(DAGSTER_HOME)/dagster.yaml || true
	$(BIN)/dagster dev -m pipelines.definitions

lint: install
	$(BIN)/ruff check observatory pipelines tests bench
	$(BIN)/lint-imports

BENCH_FRACTION ?= 0.01
bench: install
	$(BIN)/python bench/bench_national.py --fraction $(BENCH_FRACTION) --region 53 --root bench/out/national

clean:
	rm -rf output warehouse .dagster_home

# The long system tests (tests/test_faults.py's runs killed with SIGKILL and stopped with SIGTERM and the run
# after them, tests/test_idempotence.py, tests/test_distributed.py with Redis and two Celery workers): left out
# of `make test` for their time, run by CI (.ci/run) after it. Two processes: the distributed runs (their own
# extracts) beside the session's sample run, which the others start from.
test-system: install
	$(BIN)/python -m pytest -q -m system $(XDIST) --durations=10
