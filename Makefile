# Zhangjiakou renewable scenario engine.
#   make scenarios   run every scenarios/*.yaml that changed, then the verdict table and the site
#   make test        the test suite (creates .venv on first use)
#   make lint        ruff, mypy and import-linter (run in CI)
# Both create the virtual environment when it is missing.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RESULTS := results

SCENARIO_FILES := $(sort $(wildcard scenarios/*.yaml))
SCENARIOS := $(patsubst scenarios/%.yaml,%,$(SCENARIO_FILES))
RUNS := $(patsubst %,$(RESULTS)/%/run.json,$(SCENARIOS))
# A scenario re-runs when its file, any network folder, the data tables or the package change.
NETWORK_INPUTS := $(shell find networks data -type f 2>/dev/null)
# Every module of the package, subpackages included (a change in optimization/ re-runs too).
PACKAGE_FILES := $(shell find energy_model -name '*.py' 2>/dev/null) pyproject.toml

.PHONY: all scenarios runs pathway sweeps mutation test test-all test-slow lint bench report compare validate clean clean-results venv networks
.DELETE_ON_ERROR:

all: scenarios

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Runs every scenario that changed (keeps going past a failing one), then prints the verdict
# table once and writes the site; exits non-zero naming the scenarios that failed.
FAILED := $(RESULTS)/.failed-scenarios
scenarios: | $(STAMP)
	@mkdir -p $(RESULTS) && rm -f $(FAILED)
	@$(MAKE) --no-print-directory -s -k -f $(firstword $(MAKEFILE_LIST)) runs; status=$$?; \
	  $(BIN)/energy-model compare --results $(RESULTS) || status=1; \
	  if [ -s $(FAILED) ]; then \
	    echo "make scenarios: $$(wc -l < $(FAILED)) scenario(s) failed: $$(sort $(FAILED) | tr '\n' ' ')" >&2; \
	  fi; rm -f $(FAILED); exit $$status

runs: $(RUNS)

$(RESULTS)/%/run.json: scenarios/%.yaml $(NETWORK_INPUTS) $(PACKAGE_FILES) | $(STAMP)
	@$(BIN)/energy-model run $< --results $(RESULTS) --no-table || { echo $* >> $(FAILED); exit 1; }

# Least-cost pathway 2022 -> 2035 (docs/pathway.md) alone: scenarios/pathway-2035.yaml (kind:
# pathway) is one of the runs of `make scenarios` (`energy-model run` hands it to the pathway runner).
pathway: $(RESULTS)/pathway-2035/run.json

# Uncertainty sweeps (docs/sweeps.md): every sweeps/*.yaml on a local Dask cluster (its sampler, then
# one-at-a-time for the tornado: results/sweeps/<name>-oat/); resumes.
sweeps: | $(STAMP)
	for spec in $(sort $(wildcard sweeps/*.yaml)); do \
	  $(BIN)/energy-model sweep $$spec && $(BIN)/energy-model sweep $$spec --sampler oat || exit $$?; done

validate: | $(STAMP)
	$(BIN)/energy-model validate $(SCENARIO_FILES)

test: | $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

# Mutation audit (docs/testing.md): curated one-line mistakes, each against its targeted tests.
mutation: | $(STAMP)
	$(BIN)/python benchmarks/mutation_audit.py

# Quality gates (run in CI): ruff (lint), mypy (types), import-linter (layers, no upward imports).
lint: | $(STAMP)
	$(BIN)/ruff check energy_model tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

test-all: | $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m ""

test-slow: | $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m slow

bench: | $(STAMP)
	$(BIN)/python benchmarks/run_benchmarks.py

report: | $(STAMP)
	$(BIN)/energy-model report --results $(RESULTS)

compare: | $(STAMP)
	$(BIN)/energy-model compare --results $(RESULTS)

networks: | $(STAMP)
	$(BIN)/python -m energy_model.build_network --figure docs/topology.png --docs docs/data.md

clean-results:
	rm -rf $(RESULTS)

clean: clean-results
	rm -rf $(VENV) .pytest_cache .hypothesis
