"""Test harness of tests/test_resume.py (on PYTHONPATH for one run only): the real generate step, held after its
model has loaded and its first batch is sampled, so that the test's SIGKILL lands mid-corpus every time: the tiny
config's corpus is three batches, so a kill that raced the generator could land after the corpus was written."""

import importlib.abc
import importlib.machinery
import os
import sys
import time

HELD = os.environ["SELFTRAIN_HOLD_GENERATION"]  # the log line the test waits for (tests/workflow_runs.py)
# the one job to hold, by its log: another job held too would keep the cores this one waits for
LOG = os.environ["SELFTRAIN_HOLD_LOG"]


class HoldGeneration(importlib.abc.MetaPathFinder):
    """Wraps selftrain.generation.generate_corpus as the module loads: in the job that writes LOG, its sampler logs
    HELD after the first batch and sleeps until the test kills the job."""

    def find_spec(self, name, path, target=None):
        if name != "selftrain.generation":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            generate_corpus = module.generate_corpus

            def held(sample, *args, log=print, **kwargs):
                job = getattr(sys.modules["__main__"], "snakemake", None)  # the script's Snakemake object
                if not job or not any(str(p).endswith(LOG) for p in job.log):
                    return generate_corpus(sample, *args, log=log, **kwargs)

                def first_batch_then_hold(prompts, prompt_indices, batch_index):
                    out = sample(prompts, prompt_indices, batch_index)
                    log(HELD)
                    time.sleep(3600)
                    return out

                return generate_corpus(first_batch_then_hold, *args, log=log, **kwargs)

            module.generate_corpus = held

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, HoldGeneration())
