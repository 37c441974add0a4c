# The two set-up commands of the README: `make run` and `make test`.
# Both create the environment in .venv/ on first use (Python 3.12 from .python-version).
PYTHON ?= $(shell command -v python3.12 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed
SCENARIO ?= scenarios/taiwan_shock.yaml

.PHONY: run test lint bench validate viz clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "balancesim needs Python 3.12 or newer (see .python-version)")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/balancesim run $(SCENARIO)

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(VENV)/bin/python -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

validate: $(STAMP)
	$(VENV)/bin/balancesim validate

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/engine_vs_mesa.py

viz: $(STAMP)
	$(VENV)/bin/balancesim viz $(SCENARIO)

clean:
	rm -rf $(VENV) results/*/
