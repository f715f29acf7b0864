# Two commands do everything on a fresh machine with Python 3.11+:
#   make demo   set up, run the whole pipeline on the simulated organisation, print a summary
#   make test   set up, lint, run every test (pytest; the pipeline runs inside it run dbt's
#               unit and data tests)
# Set-up is idempotent: uv (in .tools/) syncs .venv/ from the committed uv.lock.

PYTHON ?= python3
export UV_PYTHON_DOWNLOADS := never
UV := .tools/bin/uv
VENV := .venv

.PHONY: setup demo test dev lint lock clean

setup: $(VENV)/.synced

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==0.13.9"

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

demo: setup
	$(VENV)/bin/insights demo

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

# Dagster's UI on http://127.0.0.1:3000 with the same definitions the CLI runs.
dev: setup
	DAGSTER_HOME=$(CURDIR)/dagster_home $(VENV)/bin/dagster dev -w workspace.yaml

lint: setup
	$(VENV)/bin/ruff check .

lock: $(UV)
	$(UV) lock --python $(PYTHON)

clean:
	rm -rf data dbt_project/target dbt_project/logs .pytest_cache
