# Two commands on a fresh machine with Python 3.11+:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test venv lint bench clean

$(BIN)/lienthong: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev,airflow]'
	@touch $@

venv: $(BIN)/lienthong

demo: venv
	$(BIN)/lienthong demo

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check lienthong connectors simulators tests bench dags plugins

bench: venv
	$(BIN)/python -m bench $(BENCH)

clean:
	rm -rf $(VENV) .lienthong .pytest_cache test-artifacts
