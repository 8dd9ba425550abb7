"""One round's training job: read the regime's documents, train, save; in-process or under accelerate launch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def train_round(spec: dict, log=print) -> None:
    """Train round r's model as `spec` says (init, synthetic, real, output, condition, training, seed, where;
    optional scratch_root of the resume state, default results/.scratch)."""
    from .io import read_jsonl
    from .modeling import load_checkpoint, save_checkpoint
    from .regimes import composition, make_regime
    from .training import discard_resume_state, pack_blocks, scratch_dir, tokenize_documents, train_causal_lm

    where, condition, cfg = spec["where"], spec["condition"], spec["training"]
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
    blocks = pack_blocks(tokenize_documents(tok, [d["text"] for d in docs]), cfg["block_size"], tok.eos_token_id)
    root = spec.get("scratch_root")
    scratch = scratch_dir(spec["output"], root)
    stats = train_causal_lm(model, blocks, cfg, spec["seed"], log=log, resume_dir=scratch)
    if is_main_process():
        save_checkpoint(model, tok, spec["output"], info={
            **stats, "documents": len(docs), "regime": regime.name, "sources": sources, "init": condition["init"]})
        discard_resume_state(scratch, root)


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def launch_command(num_processes: int, spec_path: str | Path, gpu: bool = True) -> list[str]:
    """`accelerate launch` of this module on num_processes devices (bf16 on GPUs, gloo on CPU)."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_machines", "1",
           "--num_processes", str(num_processes), "--dynamo_backend", "no",
           "--mixed_precision", "bf16" if gpu else "no"]
    cmd += ["--multi_gpu"] if gpu and num_processes > 1 else ["--cpu"] if not gpu else []
    return cmd + ["-m", "selftrain.round_training", str(spec_path)]


def run_launched(num_processes: int, spec: dict, spec_path: str | Path, gpu: bool, log=print) -> None:
    """Write spec beside the job's scratch state and run it under accelerate on num_processes devices; the
    spec file is removed after success."""
    Path(spec_path).parent.mkdir(parents=True, exist_ok=True)
    Path(spec_path).write_text(json.dumps(spec, sort_keys=True))
    cmd = launch_command(num_processes, spec_path, gpu)
    log("launching: " + " ".join(cmd))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]),
                                                                      os.environ.get("PYTHONPATH")])))
    subprocess.run(cmd, check=True, env=env)
    Path(spec_path).unlink()


if __name__ == "__main__":
    train_round(json.loads(Path(sys.argv[1]).read_text()), log=lambda *a: print(*a, flush=True))
