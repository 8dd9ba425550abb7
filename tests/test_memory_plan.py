"""The memory plan: exact parameter counts, measured activation bounds, the paper preset's fit and refusals."""

import json
import subprocess
import sys

import pytest
import yaml

from selftrain.config import validate_config
from selftrain.io import InputError
from selftrain.memory_plan import (ACTIVATION_PER_HIDDEN, ACTIVATION_PER_INTERMEDIATE, architecture, check_memory,
                                   parameters, plans, total)
from workflow_runs import BIG, ROOT, STRATEGIC, TINY, snakemake, write_config


def paper():
    return validate_config(yaml.safe_load((ROOT / "configs" / "paper.yaml").read_text()))


def olmo2(hidden, intermediate, layers, heads, kv_heads, vocab, tied):
    from transformers import Olmo2Config, Olmo2ForCausalLM

    return Olmo2ForCausalLM(Olmo2Config(vocab_size=vocab, hidden_size=hidden, intermediate_size=intermediate,
                                        num_hidden_layers=layers, num_attention_heads=heads,
                                        num_key_value_heads=kv_heads, tie_word_embeddings=tied,
                                        max_position_embeddings=128))


@pytest.mark.parametrize("shape", [(32, 64, 2, 2, 2, 300, True), (48, 80, 3, 4, 2, 500, False)])
def test_parameter_count_is_exact(shape, tmp_path):
    model = olmo2(*shape)
    model.config.save_pretrained(tmp_path)  # a local checkpoint's config.json is read the same way
    cfg = {"models": {"m": {"base": {"kind": "local", "path": str(tmp_path)}}}}
    assert parameters(architecture(cfg, "m")) == sum(p.numel() for p in model.parameters())


def test_activation_coefficients_bound_the_saved_tensors_of_a_layer():
    """Bytes saved for the backward by one more decoder layer, per token, stay within 20 h + 5 i elements."""
    import torch

    def saved(layers, hidden, intermediate, tokens=128):
        torch.manual_seed(0)
        model = olmo2(hidden, intermediate, layers, 4, 4, 300, True).train()
        storages = {}

        def keep(t):
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
            return t

        ids = torch.randint(0, 300, (2, tokens))
        with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
            model(input_ids=ids, labels=ids)
        return sum(storages.values())

    for hidden, intermediate in ((64, 256), (128, 256), (64, 512)):
        per_token = (saved(2, hidden, intermediate) - saved(1, hidden, intermediate)) / (2 * 128) / 4
        bound = ACTIVATION_PER_HIDDEN * hidden + ACTIVATION_PER_INTERMEDIATE * intermediate
        assert 0.6 * bound < per_token <= bound, (hidden, intermediate, per_token)


def test_the_paper_preset_fits_80gb_cards_and_data_parallel_7b_would_not():
    cfg = paper()
    check_memory(cfg)
    train = dict(plans(cfg, "olmo2-7b"))["train"]
    assert train["optimizer"] == 8 * parameters(architecture(cfg, "olmo2-7b")) // 4  # AdamW moments, 4 shards
    cfg["models"]["olmo2-7b"]["training"]["sharding"] = "none"
    with pytest.raises(InputError, match=r"config key 'resources.train.gpu_memory_gb': the train job of model "
                                         r"olmo2-7b needs 1\d\d\.\d GB per GPU"):
        check_memory(cfg)
    cfg["models"]["olmo2-7b"]["resources"]["train"]["gpu_memory_gb"] = 141
    with pytest.raises(InputError, match=r"config key 'models.olmo2-7b.resources.train.gpu_memory_gb'"):
        check_memory(cfg)


def test_a_teacher_and_a_scorer_are_planned_for_the_jobs_they_run():
    """A teacher's generate plan holds the longest prompt and continuation of the corpora it writes for others, at
    its own generation settings; a scorer's filter plan the steps that name it; a model trained by no condition has
    no train plan (nor a batch to check), a pretrain base still its base plan."""
    cfg = json.loads(json.dumps({**TINY, "conditions": STRATEGIC}))
    cfg["models"]["big"] = json.loads(json.dumps(BIG))
    cfg["models"]["big"]["training"] = {"batch_size": 3}  # 3 blocks over its 2 GPUs: never laid out, it never trains
    cfg["models"]["big"]["resources"]["train"] = {"gpus": 2}
    cfg = validate_config(cfg)
    check_memory(cfg)
    rows = {model: [(kind, p["note"]) for kind, p in plans(cfg, model)] for model in ("pico", "big")}
    # big writes taught's corpora (8 prefix tokens + 48) in batches of its own 4 and scores judged's 20 tokens
    assert rows["big"] == [("base", "none over 1, micro-batch 8x64"), ("generate", "hf, batch 4x56"),
                           ("filter", "hf, batch 16x20"), ("evaluate", "hf, batch 8x128")]
    # pico writes naive's and judged's corpora (32 new tokens) and scores none
    assert rows["pico"] == [("base", "none over 1, micro-batch 8x64"), ("train", "none over 1, micro-batch 8x64"),
                            ("generate", "hf, batch 16x32"), ("evaluate", "hf, batch 8x128")]
    cfg["conditions"]["naive"]["students"] = ["pico", "big"]  # now big trains: its batch is refused
    with pytest.raises(InputError, match=r"config key 'models.big.training.batch_size': 3 blocks per step do not "
                                         r"divide over 2 processes"):
        check_memory(cfg)


def test_a_batch_that_does_not_divide_over_the_gpus_names_its_key():
    cfg = paper()
    cfg["models"]["olmo2-13b"]["training"] = {"batch_size": 2}
    with pytest.raises(InputError, match=r"config key 'models.olmo2-13b.training.batch_size': 2 blocks per step do "
                                         r"not divide over 8 processes"):
        check_memory(cfg)
    cfg = paper()
    cfg["training"]["micro_batch_size"] = 3
    with pytest.raises(InputError, match=r"config key 'training.batch_size': 8 blocks per step do not divide over 1 "):
        check_memory(cfg)


def test_memory_plan_command_prints_the_paper_plan():
    proc = subprocess.run([".venv/bin/python", "scripts/memory_plan.py", "--configfile", "configs/paper.yaml"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "| olmo2-13b (13.72B) | train | 8 |" in proc.stdout and "fsdp over 8, micro-batch 1x4096" in proc.stdout
    assert proc.stdout.rstrip().endswith("fits: every planned job is within its gpu_memory_gb "
                                         "(kinds without one are not checked)")


def test_a_plan_that_cannot_fit_stops_snakemake_before_any_job(tmp_path):
    cfg = json.loads(json.dumps(TINY))
    cfg["resources"] = {"train": {"gpus": 1, "gpu_memory_gb": 0.001}}
    write_config(tmp_path, cfg)
    proc = snakemake(tmp_path, "-n", check=False)
    assert proc.returncode != 0
    assert "config key 'resources.train.gpu_memory_gb': the train job of model pico needs" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_a_fetched_hub_model_is_read_from_hub_cache_and_gres_counts_its_gpus(tmp_path):
    """The fetch stage's cache (config key hub_cache) holds the hub model's config.json: both plans read its shape
    there (else the table's); a kind that asks for GPUs as gres counts them from it."""
    from selftrain.memory_plan import gpus

    cfg = paper()
    cfg["hub_cache"] = str(tmp_path / "cache")
    base = cfg["models"]["olmo2-1b"]["base"]
    snapshot = tmp_path / "cache/hub/models--allenai--OLMo-2-0425-1B/snapshots" / base["revision"]
    olmo2(48, 80, 3, 4, 2, 500, False).config.save_pretrained(snapshot)
    assert architecture(cfg, "olmo2-1b") == {"hidden": 48, "intermediate": 80, "layers": 3, "heads": 4, "kv_heads": 2,
                                            "vocab": 500, "tied": False, "context": 128}
    assert architecture(cfg, "olmo2-7b")["hidden"] == 4096  # not fetched: the table
    cfg["models"]["olmo2-7b"]["resources"]["train"]["gres"] = "gpu:h100:8"
    assert (gpus(cfg, "olmo2-7b", "train"), gpus(cfg, "olmo2-13b", "train")) == (8, 8)
