# kotaku: `make run` starts the bot (console chat on demo data when no channel token is set),
# `make test` runs the whole suite. Both create .venv and install on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/kotaku db upgrade
	$(BIN)/kotaku demo --if-empty
	$(BIN)/kotaku run

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check kotaku bot tests migrations benchmarks
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy kotaku

bench: $(STAMP)
	$(BIN)/kotaku bench

clean:
	rm -rf $(VENV) var .pytest_cache
