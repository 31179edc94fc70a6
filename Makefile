# Outguard — `make demo` and `make test` bootstrap .venv/ on first use.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint fmt bench clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: Python >= 3.11 is required (python3.11 or newer on PATH)" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

demo: $(STAMP)
	$(BIN)/outguard demo

# The mail path and the core it reads: typed and checked.
MYPY_PATHS := src/outguard/codes.py src/outguard/config.py src/outguard/tabl.py src/outguard/policy \
	src/outguard/counters src/outguard/queue src/outguard/engine.py src/outguard/abuse.py src/outguard/spam \
	src/outguard/reputation.py src/outguard/smtp src/outguard/store src/outguard/trace

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(MYPY_PATHS)
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/bounces
	$(BIN)/python bench/tabl-lookup
	$(BIN)/python bench/relay --outguard-env OUTGUARD_SMTP__PROCESSES=2 --repeat 3

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy $(MYPY_PATHS)

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) outguard-data .pytest_cache
