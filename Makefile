# `make run` solves the shipped Eurasia example; `make test` runs ruff and the whole suite.
# Each installs into .venv only what it lacks: the runtime for `run`, the dev extras for `test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev
OUT ?= out/eurasia
CHROMIUM_MISSING := make test needs Chromium for the report tests: run 'sudo apt-get install chromium'

.PHONY: run test chromium lint docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# the planner's dependencies only
$(RUNTIME): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# runtime + dev extras (pytest, hypothesis, ruff, mypy, playwright, ...); covers the runtime stamp too
$(DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(RUNTIME)

run: $(RUNTIME)
	$(BIN)/allocator solve instances/eurasia --out $(OUT) --report

# The HTML report tests drive the system Chromium (Debian's package; `playwright install` is never
# run). Installed with apt-get when missing; when that fails, stop with one line before pytest.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  echo "Chromium not found: apt-get install chromium (log: $(VENV)/apt-get.log)"; \
	  mkdir -p $(VENV); \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo="sudo -n"; fi; \
	  { $$sudo apt-get update && \
	    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	  } >$(VENV)/apt-get.log 2>&1 && \
	  { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; } || { \
	    echo "$(CHROMIUM_MISSING)" >&2; exit 1; }; }

test: $(DEV) chromium
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q -n 2

lint: $(DEV)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

docs: $(RUNTIME)
	$(BIN)/python -m allocator.instance.schema.docs

clean:
	rm -rf $(VENV) out
