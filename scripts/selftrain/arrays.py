"""Slurm job arrays (--slurm-array-jobs) only for rules whose jobs all ask for the same resources."""

from __future__ import annotations

from snakemake.exceptions import WorkflowError


def check_array_jobs(workflow, rules):
    """Before any job: no rule whose jobs ask for different resources goes to a Slurm job array. snakemake-executor-
    plugin-slurm 2.8.0 submits the ready jobs of an array-selected rule (--slurm-array-jobs) as one sbatch call built
    from the first job's resources (run_array_jobs: "all jobs have the same resource requirement"); measured on the
    local Slurm (tests/test_slurm.py), a second model's job then runs with the first one's memory. A rule's jobs
    differ where a resource is set per model, and by attempt where memory and runtime escalate on retries.
    """
    # a dry run's executor has no settings (None): arrays are the Slurm executor's, checked when it runs
    chosen = getattr(workflow.executor_settings, "array_jobs", None)
    if not chosen:
        return True
    names = {n.strip() for n in chosen.replace(";", ",").split(",")}
    retries = workflow.execution_settings.retries
    for rule in rules:
        if rule.name not in names and "all" not in names:
            continue
        if rule.name in workflow._localrules:
            continue
        varies = {
            name: [
                v
                for v in getattr(r._evaluator, "varies", [])
                if v != "attempt" or retries
            ]
            for name, r in (rule.resources or {}).items()
            if getattr(r, "_evaluator", None) is not None
        }
        varies = {name: v for name, v in varies.items() if v}
        if varies:
            what = "; ".join(
                f"{name} per {' and per '.join(v)}"
                for name, v in sorted(varies.items())
            )
            raise WorkflowError(
                f"--slurm-array-jobs: rule {rule.name}'s jobs ask for different resources ({what}), and the "
                "Slurm plugin (2.8.0) submits an array with its first job's resources; leave the rule out of "
                "--slurm-array-jobs"
                + (
                    ", or set --retries 0"
                    if retries and all(v == ["attempt"] for v in varies.values())
                    else ""
                )
            )
    return True
