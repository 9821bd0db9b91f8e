# kotaku: `make run` starts the bot (console chat on demo data when no channel token is set),
# `make test` runs the whole suite. Both create .venv and install on first use.
# Installs the exact versions (with hashes) of requirements/lock.txt: runtime + test + dev, Python 3.11, Linux.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements/lock.txt
# `make lock` keeps the current pins where pyproject.toml allows; `make lock LOCK_ARGS=--upgrade` moves all to the newest.
LOCK_ARGS ?=

.PHONY: install lock run test fuzz lint typecheck bench clean

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

# Regenerates the lock from pyproject.toml (needs the registry); `make install` then installs it.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra test --extra dev --generate-hashes \
		--python-version 3.11 --python-platform linux --custom-compile-command 'make lock' \
		--quiet $(LOCK_ARGS) -o $(LOCK)

run: $(STAMP)
	$(BIN)/kotaku db upgrade
	$(BIN)/kotaku demo --if-empty
	$(BIN)/kotaku run

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -n auto

# The release run of the fuzz suite: the `long` Hypothesis profile (twenty times the inputs `make test`
# gives each parser, 200,000 or more), then the slowest input a steered search finds for each parser.
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=long $(BIN)/python -m pytest -q -p no:cacheprovider -n auto tests/fuzz
	$(BIN)/kotaku bench parsers --examples 3000

lint: $(STAMP)
	$(BIN)/ruff check kotaku bot tests migrations benchmarks
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy kotaku

bench: $(STAMP)
	$(BIN)/kotaku bench

clean:
	rm -rf $(VENV) var .pytest_cache
