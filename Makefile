# The project's commands (docs/decisions.md, docs/testing.md). `make help` lists them.
PYTHON ?= python
PYTEST = $(PYTHON) -m pytest -q -p no:cacheprovider
PG_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
SCALE ?= 20000

.PHONY: help install test test-unit test-pg test-browser test-fresh lint format typecheck check \
	translations-extract translations-update translations-compile translations mutation mutation-report benchmark

help:  ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-22s %s\n", $$1, $$2}'

install:  ## the app and test dependencies
	pip install -r requirements-dev.txt

test:  ## the whole suite on SQLite (the built database cached per Alembic head)
	$(PYTEST)

test-unit:  ## the unit tests only: no app, no database (seconds)
	$(PYTEST) tests/unit

test-pg:  ## the whole suite on PostgreSQL (a database cloned from the cached template, dropped after)
	TEST_DATABASE_URL=$(PG_URL) $(PYTEST)

test-browser:  ## the browser tests (Debian's Chromium through Playwright)
	$(PYTEST) tests/browser

test-fresh:  ## the whole suite on a database built afresh (no cache)
	AZX_TEST_DB_CACHE=0 $(PYTEST)

lint:  ## ruff lint and format check
	ruff check . && ruff format --check .

format:  ## ruff fixes and formatting
	ruff check --fix . && ruff format .

typecheck:  ## mypy on app/services, app/security, app/workflows ([tool.mypy])
	mypy

check: lint typecheck test-unit  ## what is quick to run before a commit

translations-extract:  ## marked strings -> app/translations/messages.pot
	pybabel extract -F babel.cfg -k lazy_gettext -k _ -k N_ -o app/translations/messages.pot .

translations-update:  ## messages.pot -> the catalogs
	pybabel update -i app/translations/messages.pot -d app/translations

translations-compile:  ## the catalogs -> .mo
	pybabel compile -d app/translations

translations: translations-extract translations-update translations-compile  ## all three

mutation:  ## mutation run over the rules (docs/testing.md); MODULES="workflows base ..." to choose
	$(PYTHON) tests/mutation/run.py $(MODULES)

mutation-report:  ## the score of the last mutation run
	$(PYTHON) tests/mutation/run.py --report

benchmark:  ## bench/run.py at SCALE projects on a fresh PostgreSQL database (docs/benchmarks.md)
	$(PYTHON) bench/run.py --scale $(SCALE) --quick --out bench/out/results.json --markdown bench/out/benchmarks.md
