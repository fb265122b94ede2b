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

# Three stages: every tier that shares the machine well on two processes (xdist), then the Celery
# cluster tier (its own Airflow processes), then the reliability tier alone (its kills are placed by
# phase, its timings are not fought over). Each stage runs its own log scan.
test: venv
	$(BIN)/python -m pytest -n 2 --ignore=tests/reliability --ignore=tests/airflow_cluster $(PYTEST_ARGS)
	$(BIN)/python -m pytest tests/airflow_cluster $(PYTEST_ARGS)
	$(BIN)/python -m pytest tests/reliability $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check lienthong connectors simulators tests bench dags plugins

bench: venv
	$(BIN)/python -m bench $(BENCH)

clean:
	rm -rf $(VENV) .lienthong .pytest_cache test-artifacts
