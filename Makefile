# report-intake developer commands. `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint setup system-deps clean bench bench-growth

$(BIN)/report-intake: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/python -m compileall -q intake tracker >/dev/null  # as a wheel install does
	touch $@

## setup: a virtualenv in .venv with the project and its test tools
setup: $(BIN)/report-intake

## system-deps: Dovecot, PostgreSQL, Chromium and chromium-driver from Debian's packages
system-deps:
	@scripts/system-deps

## demo: the real pipeline over a Maildir of sample reports, with SQLite (no server needed),
## then the staff board on http://127.0.0.1:8080/ with a demo login until Enter is pressed
demo: setup
	$(BIN)/report-intake demo --serve

## test: the whole suite against real Dovecot, aiosmtpd, SQLite and PostgreSQL
test: setup system-deps
	$(BIN)/pytest

## lint: formatter, linter and type checker
lint: setup
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) demo-workspace .pytest_cache .mypy_cache .ruff_cache

## bench: the intake beside a plain floor on real Dovecot, 80 and 400 mails (a few minutes)
bench: setup
	$(BIN)/python -m compileall -q intake tracker >/dev/null
	$(BIN)/python bench/intake_bench.py

## bench-growth: the commands at 47, 1,000 and 6,000 units and up to 50,000 messages on
## SQLite (about half an hour on 2 cores); PostgreSQL: add
## ARGS="--database-url postgresql://USER:PASS@127.0.0.1/DB" (a database it may empty)
bench-growth: setup
	$(BIN)/python bench/growth_bench.py --markdown $(ARGS)
