# The verbs people type. Everything goes through the project's virtual environment.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
MILLESIME ?= 2023
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: install run sample test dev lint bench clean

$(BIN)/observatory: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	touch $@

install: $(BIN)/observatory

sample: install
	$(BIN)/observatory generate --scale sample --millesime $(MILLESIME) --seed 42

run: sample
	$(BIN)/observatory run --millesime $(MILLESIME)

test: install
	$(BIN)/python -m pytest -q

dev: install
	mkdir -p $(DAGSTER_HOME) && cp -n dagster.yaml $(DAGSTER_HOME)/dagster.yaml || true
	$(BIN)/dagster dev -m pipelines.definitions

lint: install
	$(BIN)/ruff check observatory pipelines tests bench

BENCH_FRACTION ?= 0.01
bench: install
	$(BIN)/python bench/bench_national.py --fraction $(BENCH_FRACTION) --region 53 --root bench/out/national

clean:
	rm -rf output warehouse .dagster_home
