# One command to set up and run the main job, one to set up and run the tests.
# Both create .venv from the project's own files; nothing else is needed on the machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= data

.PHONY: setup run test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

setup: $(BIN)/.installed

run: setup
	CONVENTIONS_DATA_DIR=$(DATA) bash scripts/demo.sh

test: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) $(DATA) .pytest_cache .ruff_cache
