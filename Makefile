# Two entry points (README): `make run` builds results/figures/collapse.pdf from config.yaml,
# `make test` runs the test suite. Both create the virtual environment .venv on first use.
PYTHON ?= python3
VENV ?= .venv
CORES ?= 2

.PHONY: setup run test dry-run lint

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

run: setup
	$(VENV)/bin/snakemake --cores $(CORES) results/figures/collapse.pdf

test: setup
	$(VENV)/bin/python -m pytest -q tests

dry-run: setup
	$(VENV)/bin/snakemake -n results/figures/collapse.pdf

lint: setup
	$(VENV)/bin/snakemake --lint

.PHONY: report
report: setup
	$(VENV)/bin/snakemake --report report.html
