"""Step: evaluate one round's checkpoint (held-out real perplexity through lm-eval) into eval.json."""

from selftrain.evaluation import eval_record, perplexity_block, perplexity_task, run_lm_eval
from selftrain.io import atomic_write_json
from selftrain.modeling import load_checkpoint, trusts_remote_code
from selftrain.step import step

p = snakemake.params
with step(snakemake) as log:
    model, tok = load_checkpoint(snakemake.input.model, trust_remote_code=trusts_remote_code(snakemake))
    tasks = [perplexity_task(snakemake.input.heldout, "heldout_perplexity")]
    results = run_lm_eval(model, tok, tasks, p.evaluation["batch_size"], p.evaluation["max_length"], p.seed)
    record = eval_record(p.identity, {"heldout": perplexity_block(results, "heldout_perplexity")})
    atomic_write_json(snakemake.output[0], record)
    log(record["perplexity"])
