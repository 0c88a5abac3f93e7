# Two commands on a fresh clone with only python3: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DATA := data/world-default
RUNS := runs/demo

.PHONY: install demo test test-deps bench board clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "setuptools>=77.0.3,<81" wheel
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# Prepare the embedded default (once), run the models, print the paper-style tables.
demo: install
	test -f $(DATA)/manifest.json || $(BIN)/unimp-bench prepare
	$(BIN)/unimp-bench demo --data $(DATA) --out $(RUNS)

# Test-only system packages (headless Chromium for the HTML tests), installed when we are root.
test-deps:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: browser tests will be skipped"; }

test: install test-deps
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q --timeout=900

# leaderboard/README.md and leaderboard/index.html from leaderboard/index.jsonl (generated, not committed).
board: install
	$(BIN)/unimp-bench leaderboard build $(if $(wildcard data/world-default/manifest.json),--data data/world-default)

bench: install
	$(BIN)/python bench/bench_prepare.py
	$(BIN)/python bench/bench_full_ranking.py

clean:
	rm -rf $(VENV) data runs
