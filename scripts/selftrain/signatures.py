"""Snakemake inspects the signature of a rule's callable on every call; a workflow of thousands of jobs pays for it
in every dry run. `cache_signatures` computes each once."""

from __future__ import annotations

import inspect


def cache_signatures(rules):
    """Each of the rules' own callables (input functions, params, resources) carries its signature, computed once:
    Snakemake inspects a callable's signature on every call (snakemake.common.get_function_params: 125,000
    inspect.signature calls, 4.5 s of the paper preset's dry run) unless the function carries the attribute
    FUNC_OVERWRITE_PARAMS_ATTR (`_overwrite_params`), which it reads instead. The value stored is the very mapping
    inspect.signature returns, so every answer Snakemake derives from it stays the same."""
    from snakemake.common import FUNC_OVERWRITE_PARAMS_ATTR

    def unwrap(item):
        file = getattr(item, "_file", None)  # an _IOFile wrapping an input function
        for f in (getattr(file, "callable", None), getattr(item, "callable", None),
                  getattr(item, "_evaluator", None), item):
            if inspect.isfunction(f):
                return f
        return None

    # and Snakemake's own Resource.evaluate, through which it calls every resource callable (twice per resource of
    # a job: 54,000 more signatures of the same bound method, (*args, **kwargs))
    from snakemake.resources import Resource

    if not hasattr(Resource.evaluate, FUNC_OVERWRITE_PARAMS_ATTR):
        setattr(Resource.evaluate, FUNC_OVERWRITE_PARAMS_ATTR, inspect.signature(Resource("x", 1).evaluate).parameters)
    for rule in rules:
        items = [*rule.input, *rule.params, *(rule.resources or {}).values()]
        for f in filter(None, map(unwrap, items)):
            if not hasattr(f, FUNC_OVERWRITE_PARAMS_ATTR):
                setattr(f, FUNC_OVERWRITE_PARAMS_ATTR, inspect.signature(f).parameters)
