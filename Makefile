# The verbs a newcomer needs. `make run` starts the product with demo data on SQLite;
# `make test` runs the whole suite. Both set up .venv themselves.

VENV      := .venv
PYTHON    := $(VENV)/bin/python
STAMP     := $(VENV)/.installed-stamp
HOST      ?= 127.0.0.1
PORT      ?= 8000
PYTEST_ARGS ?=

.PHONY: help setup run migrate seed admin-user test lint format bench bench-quick bench-live bench-floor bench-load web worker beat clean

help:
	@echo "make run          set up, migrate, load demo data once, serve on http://$(HOST):$(PORT)"
	@echo "make test         set up and run the whole test suite"
	@echo "make lint         ruff, mypy and the migrations check"
	@echo "make web|worker|beat   the production processes without Docker (gunicorn, Celery)"
	@echo "make bench        benchmarks; make bench-quick for a short run"
	@echo "make bench-live   screen-pop latency in Chromium against the ASGI server"
	@echo "make bench-floor  card, lookup, metrics against their own SQL (PostgreSQL, generate_data)"
	@echo "make bench-load   wrk against the production server (PostgreSQL, generate_data)"

# Idempotent: re-installs only when pyproject.toml changed since the last install.
setup: $(STAMP)

$(STAMP): pyproject.toml
	@if [ ! -x "$(PYTHON)" ]; then \
		py=$$(./scripts/find-python) || exit 1; \
		echo "Creating $(VENV) with $$py"; \
		"$$py" -m venv $(VENV); \
	fi
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

migrate: setup
	$(PYTHON) manage.py migrate --noinput

# seed_demo does nothing when the demo data is already there; the CLV models are fitted
# again on what is there, so the card shows predicted value and the chance a customer is active.
seed: migrate
	$(PYTHON) manage.py seed_demo
	$(PYTHON) manage.py clv fit

admin-user: migrate
	$(PYTHON) manage.py ensure_admin

# uvicorn, not runserver: the ASGI application serves the live event streams; --reload
# restarts it when code changes, whitenoise serves static files straight from the apps (DEBUG).
run: seed admin-user
	$(PYTHON) -m uvicorn crm.asgi:application --reload --reload-dir . --host $(HOST) --port $(PORT)

test: setup
	$(PYTHON) -m pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports
	$(PYTHON) manage.py makemigrations --check --dry-run

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup
	$(PYTHON) bench/run.py

bench-quick: setup
	$(PYTHON) bench/run.py --quick

# Screen-pop latency in Chromium against the ASGI server (needs Redis and /usr/bin/chromium).
bench-live: setup
	$(PYTHON) bench/live_bench.py

# Issue 18: each view against its own SQL, and wrk against the production server; both need a
# PostgreSQL database filled by generate_data (BENCH_DATABASE_URL; see bench/README.md).
bench-floor: setup
	$(PYTHON) bench/floor_bench.py

bench-load: setup
	$(PYTHON) bench/load_bench.py

# The production shape without Docker: collectstatic as the image's build does, then the
# command docker-compose.yml runs (scripts/serve: migrations, then gunicorn).
web: setup
	$(PYTHON) manage.py collectstatic --noinput
	PYTHON=$(PYTHON) CRM_BIND=$(HOST):$(PORT) scripts/serve

worker: setup
	$(VENV)/bin/celery -A crm worker --loglevel INFO

beat: setup
	$(VENV)/bin/celery -A crm beat --loglevel INFO --schedule var/celerybeat-schedule

clean:
	rm -rf $(VENV) var/static .pytest_cache .mypy_cache .ruff_cache
