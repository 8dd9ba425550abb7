# Recursive self-training of language models: generate -> filter -> continual pre-training -> evaluate,
# round after round, for every model size x condition x seed of the config. Table of contents only.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/base.smk"
include: "rules/generate.smk"
include: "rules/filter.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/report.smk"
include: "rules/archive.smk"


rule all:
    input:
        FIGURE_PDF,
        FIGURE_PNG,
        MANIFEST,
