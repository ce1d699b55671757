# Supplier Navigator — every command sets up what it needs (Python 3.10 venv, knowledge store, model).
.DEFAULT_GOAL := help
SHELL := /bin/bash
PY := .venv/bin/python
export PYTHONPATH := $(CURDIR)

.PHONY: help install run cluster test shell train validate knowledge eval bench lock clean

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: ## create .venv with Python 3.10 and the pinned dependencies (only when requirements.lock or requirements.nodeps.txt changed)
	@scripts/setup-venv.sh

run: install ## build the knowledge store and model if needed, start actions + Rasa + widget page (Ctrl-C stops)
	@scripts/setup-browser.sh --npm-only
	@$(PY) -m bot run

cluster: install ## start PostgreSQL, Redis, two Rasa and two action servers behind nginx, and the widget (Ctrl-C stops)
	@scripts/setup-browser.sh --npm-only
	@$(PY) -m bot cluster

test: install ## run the whole test suite (trains the model once if needed)
	@scripts/setup-browser.sh
	@$(PY) -m pytest $(PYTEST_ARGS)

shell: install ## chat with the assistant in the terminal
	@$(PY) -m bot shell

train: install ## train the model if the training data, domain or config changed
	@$(PY) -m bot train

validate: install ## check the knowledge files (path:line: message for each problem)
	@$(PY) -m bot knowledge validate

knowledge: install ## validate and rebuild the knowledge store; the running assistant picks it up
	@$(PY) -m bot knowledge build

eval: install ## NLU evaluation on the held-out questions and conversation tests
	@$(PY) -m bench.eval

bench: install ## benchmarks: ingestion, search and reply latency
	@$(PY) -m bench.bench_ingest && $(PY) -m bench.bench_search

lock: ## re-resolve requirements.in into requirements.lock (needs the package registry)
	@scripts/setup-venv.sh --lock

clean: ## remove generated files (var/, .rasa/ cache); keeps .venv
	rm -rf var .rasa results
