# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test check lint typecheck demo bench soak mutants lock clean

install: $(STAMP)

# Idempotent: the venv is rebuilt only when the pins change.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

check: lint typecheck test

demo: install
	$(BIN)/mercato demo

bench: install
	$(BIN)/mercato bench core

soak: install
	$(BIN)/python -m pytest -q -m slow

# On demand: every storage condition removed one at a time; ends "mutants: N, killed: K, survived: S".
mutants: install
	$(BIN)/python -m tests.mutants

# Regenerate the transitive pins from what is installed in the venv.
lock: install
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
