# Two entry points (README): `make run` builds results/figures/collapse.pdf from config.yaml,
# `make test` runs the test suite. Both create the virtual environment .venv on first use.
PYTHON ?= python3
VENV ?= .venv
CORES ?= 2

.PHONY: setup run test dry-run lint bench status verify archive report

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

run: setup
	$(VENV)/bin/snakemake --cores $(CORES) results/figures/collapse.pdf results/manifest.json

test: setup
	$(VENV)/bin/python -m pytest -q tests

dry-run: setup
	$(VENV)/bin/snakemake -n results/figures/collapse.pdf

lint: setup
	$(VENV)/bin/snakemake --lint

bench: setup
	$(VENV)/bin/python bench/run.py

status: setup
	$(VENV)/bin/python scripts/status.py

verify: setup
	$(VENV)/bin/python scripts/verify_manifest.py --verify

archive: setup
	$(VENV)/bin/snakemake --cores $(CORES) results/archive/selftrain.tar.gz

report: setup
	$(VENV)/bin/snakemake --report report.html
