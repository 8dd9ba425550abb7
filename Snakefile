# Recursive self-training of language models: generate -> filter -> continual pre-training -> evaluate,
# round after round, for every model size x condition x seed of the config. Table of contents only.
from snakemake.utils import min_version

min_version("9.0")


# a preset given with --configfile replaces the embedded default instead of merging over it (Snakemake
# would merge it over config.yaml, keeping the default's model and conditions); --config alone still
# overrides config.yaml. Jobs get the same --configfiles from Snakemake, so they load what the main process did.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/fetch.smk"
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


cache_signatures(workflow.rules)
