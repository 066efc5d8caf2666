# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export MPLBACKEND := Agg
export SDL_VIDEODRIVER := dummy

.PHONY: demo test lint imports docs bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --upgrade pip >/dev/null
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m goal_rl.trajectory -N 150 -T 150 -O 3 --seed 0 --out runs/trajectory --plot

lint: $(STAMP)
	$(BIN)/ruff check .

# import rules: envs <- core <- tasks <- entry modules, no private names across modules
imports: $(STAMP)
	$(BIN)/python .ci/check_imports.py

test: $(STAMP) lint imports docs
	$(BIN)/python -m pytest tests

# the documentation site, strictly (any warning fails the build), into site/
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

bench: $(STAMP)
	$(BIN)/python benchmarks/trajectory_speed.py

clean:
	rm -rf runs .pytest_cache site
