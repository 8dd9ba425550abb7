"""A training job (the base model's pre-training or one round's training): tokenize, pack, train, save; in this
process or, on several devices, one process per device under torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def train_and_save(model, tok, texts: list[str], cfg: dict, seed: int, output: str, info: dict,
                   scratch_root: str | None, log=print) -> None:
    """The sequence every training job runs: pack texts into blocks, train (resuming from the scratch state of
    output when there is one), write the full safetensors checkpoint from process 0, drop the resume state."""
    from .modeling import save_checkpoint
    from .resume_state import discard_resume_state, scratch_dir
    from .training import full_state_dict, pack_blocks, tokenize_documents, train_causal_lm

    blocks = pack_blocks(tokenize_documents(tok, texts), cfg["block_size"], tok.eos_token_id)
    scratch = scratch_dir(output, scratch_root)
    stats = train_causal_lm(model, blocks, cfg, seed, log=log, resume_dir=scratch)
    weights = full_state_dict(model)  # every process takes part in gathering a sharded model
    if is_main_process():
        save_checkpoint(model, tok, output, info={**stats, **info}, state_dict=weights)
        discard_resume_state(scratch, scratch_root)


def pretrain_base(spec: dict, log=print) -> None:
    """Pre-train a fresh tiny Olmo2 as `spec` says (tokenizer, architecture, train, training, seed, output,
    scratch_root)."""
    from .io import read_jsonl
    from .modeling import build_olmo2
    from .tokenizer import load_tokenizer

    tok = load_tokenizer(spec["tokenizer"])
    model = build_olmo2(spec["architecture"], tok, spec["seed"])
    log(f"Olmo2ForCausalLM with {sum(p.numel() for p in model.parameters()):,} parameters")
    texts = [d["text"] for d in read_jsonl(spec["train"])]
    train_and_save(model, tok, texts, spec["training"], spec["seed"], spec["output"], {}, spec.get("scratch_root"),
                   log)


def train_round(spec: dict, log=print) -> None:
    """Train round r's model as `spec` says (init, synthetic, real, output, condition, training, seed, where;
    optional scratch_root of the resume state, default results/.scratch)."""
    from .io import read_jsonl
    from .modeling import load_checkpoint
    from .regimes import composition, make_regime

    where, condition = spec["where"], spec["condition"]
    model, tok = load_checkpoint(spec["init"], trust_remote_code=spec.get("trust_remote_code", False))
    regime = make_regime(condition["data"], spec["seed"],
                         size=lambda d: len(tok(d["text"], add_special_tokens=False)["input_ids"]))
    rounds = regime.needs_rounds(spec["round"])
    synthetic = [read_jsonl(f) for f in spec["synthetic"]]
    real = read_jsonl(spec["real"]) if regime.needs_real else []
    try:
        docs = regime.documents(synthetic, real)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None
    if not docs:
        raise ValueError(f"{where}: data regime {regime.name} left no training document")
    sources = composition(docs, dict(zip(rounds, synthetic)), real)
    log(f"regime {regime.name}: {len(docs)} documents {sources}, init {condition['init']}")
    info = {"documents": len(docs), "regime": regime.name, "sources": sources, "init": condition["init"]}
    train_and_save(model, tok, [d["text"] for d in docs], spec["training"], spec["seed"], spec["output"], info,
                   spec.get("scratch_root"), log)


JOBS = {"pretrain": pretrain_base, "round": train_round}


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def launch_command(num_processes: int, spec_path: str | Path) -> list[str]:
    """torchrun of this module with one process per device; --standalone picks a free rendezvous port, so
    several training jobs on one node never meet."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(num_processes),
            "-m", "selftrain.round_training", str(spec_path)]


def run_training(spec: dict, processes: int, spec_path: str | Path, log=print) -> None:
    """Run the training job spec['job'] here (one process) or under torchrun on `processes` devices, its spec
    written to spec_path (beside the job's scratch state) and removed after success."""
    if processes <= 1:
        JOBS[spec["job"]](spec, log=log)
        return
    Path(spec_path).parent.mkdir(parents=True, exist_ok=True)
    Path(spec_path).write_text(json.dumps(spec, sort_keys=True))
    cmd = launch_command(processes, spec_path)
    log("launching: " + " ".join(cmd))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]),
                                                                      os.environ.get("PYTHONPATH")])))
    subprocess.run(cmd, check=True, env=env)
    Path(spec_path).unlink()
    from .resume_state import discard_resume_state, scratch_dir

    root = spec.get("scratch_root")
    discard_resume_state(scratch_dir(spec["output"], root), root)  # the spec's folders, now empty


def main(spec_path: str) -> None:
    import torch.distributed as dist

    spec = json.loads(Path(spec_path).read_text())
    # process 0 speaks for all: the others' lines would repeat its own
    log = (lambda *a: print(*a, flush=True)) if is_main_process() else (lambda *a: None)
    try:
        JOBS[spec["job"]](spec, log=log)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
