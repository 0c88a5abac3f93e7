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

# Prepare the embedded default (once), run the models, print the paper-style tables, draw the figure, submit
# the runs to the leaderboard. Options pass through: make demo ARGS="--models sasrec,pop".
demo: install
	test -f $(DATA)/manifest.json || $(BIN)/unimp-bench prepare
	$(BIN)/unimp-bench demo --data $(DATA) --out $(RUNS) $(ARGS)

# Test-only system package, an explicit step (`make test` never installs system packages): headless Chromium
# for the board's browser tests, which are skipped without it. Needs root (apt-get).
test-deps:
	@if command -v chromium >/dev/null 2>&1; then echo "chromium present: nothing to install"; \
	elif [ "$$(id -u)" = 0 ]; then echo "installing chromium (apt-get) for the browser tests"; \
	  apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium missing and not root: run 'sudo apt-get install chromium', or the browser tests are skipped"; exit 1; fi

test: install
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
