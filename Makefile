# The verbs people use. Every target installs what it needs into .venv first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SCALE ?= small
SEED ?= 42
DATA_DIR ?= data
STREAMLIT_PORT ?= 8501
DAGSTER_PORT ?= 3000
export DAGSTER_HOME := $(abspath $(DATA_DIR))/dagster_home

.PHONY: install demo pipeline serve test lint format bench dagster dashboards clean browser-deps java-deps

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev,spark]'
	@touch $(STAMP)

install: $(STAMP)

## demo: install, generate the small sample region, run the full pipeline, serve dashboards + Dagster UI
demo: pipeline
	@if [ -z "$$DEMO_NO_SERVE" ]; then $(MAKE) --no-print-directory serve; fi

## pipeline: everything `demo` does except serving (for scripts)
pipeline: install
	@mkdir -p $(DAGSTER_HOME)
	@if [ ! -d $(DATA_DIR)/inbox ]; then $(BIN)/referral-warehouse generate --scale $(SCALE) --seed $(SEED) --out $(DATA_DIR); fi
	$(BIN)/referral-warehouse run --data-dir $(DATA_DIR)
	@# the sample's second delivery (corrected re-sends, a duplicate): a second run, so the
	@# quality history shows a delta and the replacement of re-sent files is visible
	@if [ -d $(DATA_DIR)/later ] && [ ! -f $(DATA_DIR)/.later-delivered ]; then \
	  echo "Delivering the second batch (data/later → data/inbox) and running again ..."; \
	  cp -r $(DATA_DIR)/later/. $(DATA_DIR)/inbox/ && touch $(DATA_DIR)/.later-delivered && \
	  $(BIN)/referral-warehouse run --data-dir $(DATA_DIR); fi
	@# a local demo user for the dashboards' login (role engineer: every page); its password is printed once
	@if ! $(BIN)/referral-warehouse users --data-dir $(DATA_DIR) list | grep -q '^demo	'; then \
	  echo "Creating the dashboards' demo user (note the password: it is shown only now):"; \
	  $(BIN)/referral-warehouse users --data-dir $(DATA_DIR) add demo --role engineer; fi

## serve: Streamlit dashboards and the Dagster UI (Ctrl-C stops both)
serve: install
	@mkdir -p $(DAGSTER_HOME)
	@test -f $(DAGSTER_HOME)/dagster.yaml || printf 'telemetry:\n  enabled: false\n' > $(DAGSTER_HOME)/dagster.yaml
	@umask 077; $(BIN)/dagster dev -m pipelines.definitions -h 127.0.0.1 -p $(DAGSTER_PORT) >$(DATA_DIR)/dagster-dev.log 2>&1 & echo $$! > $(DATA_DIR)/dagster-dev.pid
	@echo "Dashboards (数据看板): http://127.0.0.1:$(STREAMLIT_PORT)   (login: demo; new password: referral-warehouse users add demo --role engineer)"
	@echo "Dagster UI:            http://127.0.0.1:$(DAGSTER_PORT)   (log: $(DATA_DIR)/dagster-dev.log)"
	@trap 'kill $$(cat $(DATA_DIR)/dagster-dev.pid) 2>/dev/null' EXIT INT TERM; umask 077; \
	  RW_DATA_DIR=$(abspath $(DATA_DIR)) $(BIN)/streamlit run dashboards/app.py --server.headless true \
	    --server.address 127.0.0.1 --server.port $(STREAMLIT_PORT) --browser.gatherUsageStats false \
	    --client.toolbarMode viewer

dagster: install
	@mkdir -p $(DAGSTER_HOME)
	@test -f $(DAGSTER_HOME)/dagster.yaml || printf 'telemetry:\n  enabled: false\n' > $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -m pipelines.definitions -h 127.0.0.1 -p $(DAGSTER_PORT)

## test: install, lint, and the whole test suite (dbt build and GX suites included)
test: install browser-deps java-deps lint
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: the city-scale benchmark (see benchmarks/README.md)
bench: install java-deps
	$(PY) benchmarks/run_bench.py $(BENCH_ARGS)

## browser-deps: Debian chromium + chromedriver for the browser test (skipped when present)
browser-deps:
	@bash scripts/ensure-chromium.sh

## java-deps: Debian OpenJDK 17 for the Spark engine (pyspark, dbt-spark) when missing
java-deps:
	@bash scripts/ensure-java.sh

clean:
	rm -rf $(DATA_DIR)/warehouse $(DATA_DIR)/published $(DATA_DIR)/dagster_home
