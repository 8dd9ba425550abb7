"""Bad inputs a new user types: each stops validation with one line naming the key path and what is allowed."""

import copy
from pathlib import Path

import pytest
import yaml

from selftrain.config import locate, read_config_file, validate_config
from selftrain.io import InputError

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = yaml.safe_load((ROOT / "config.yaml").read_text())
# the embedded default's settings with two conditions of different prompting strategies, whatever contrast the
# default itself draws: the cases below name keys of these
DEFAULT["conditions"] = {"unconditional": {"prompt": {"strategy": "unconditional"}},
                         "real_prefix": {"prompt": {"strategy": "real_prefix", "prefix_tokens": 16}}}
LONG = "c" * 300


def lines_of(mutate) -> list[str]:
    c = copy.deepcopy(DEFAULT)
    mutate(c)
    with pytest.raises(InputError) as e:
        validate_config(c)
    return [line.strip() for line in str(e.value).splitlines()]


def model(c):
    return c["models"]["tiny"]


def cond(c, name="real_prefix"):
    return c["conditions"][name]


CASES = {
    # the cases
    "float seed": (lambda c: c.update(seed=1234.0),
                   "config key 'seed': 1234.0 is not an integer (write 1234 if that is meant)"),
    "float seed index": (lambda c: c.update(seeds=[1.0]),
                         "config key 'seeds.0': 1.0 is not an integer (write 1 if that is meant)"),
    "float rounds": (lambda c: c.update(rounds=3.0), "config key 'rounds': 3.0 is not an integer (write 3 if that is meant)"),
    "unbounded rounds": (lambda c: c.update(rounds=100000), "config key 'rounds': 100000 is greater than the maximum of 100"),
    "max_length beyond the context": (
        lambda c: c["evaluation"].update(max_length=1024),
        "config key 'evaluation.max_length': 1024 exceeds models.tiny.base.architecture.max_position_embeddings 512"),
    "per-model max_length beyond the context": (
        lambda c: model(c).update(evaluation={"max_length": 600}),
        "config key 'models.tiny.evaluation.max_length': 600 exceeds models.tiny.base.architecture.max_position_embeddings 512"),
    "unknown lm-eval task": (
        lambda c: c["evaluation"].update(downstream={"tasks": [{"name": "hellaswagg"}]}),
        "config key 'evaluation.downstream.tasks.0.name': lm-eval has no task 'hellaswagg' (a local task last_word, "
        "last_word_choice, minimal_pairs or a task of lm-eval's index)"),
    "condition named like a pipeline folder": (
        lambda c: c["conditions"].update(round0={"prompt": {"strategy": "unconditional"}}),
        "config key 'conditions': name 'round0' is reserved (the pipeline's own entries: round0, tokenizer, shared, teaching)"),
    "condition name too long for a file name": (
        lambda c: c["conditions"].update({LONG: {"prompt": {"strategy": "unconditional"}}}),
        "config key 'conditions': name 'cccccccccccccccccccccccccccccccccccccccc'... is 300 characters (at most 128: it "
        "is a path component)"),
    "per-model perplexity_sets": (
        lambda c: model(c).update(evaluation={"perplexity_sets": {"ood": {"source": "jsonl", "path": "x.jsonl"}}}),
        "config key 'models.tiny.evaluation.perplexity_sets': top level only (one value for all models: set "
        "evaluation.perplexity_sets)"),
    "misspelled per-model backend": (
        lambda c: model(c).update(generation={"backend": "vlm"}),
        "config key 'models.tiny.generation.backend': 'vlm' is not one of ['auto', 'hf', 'vllm']"),
    "zero per-model batch size": (
        lambda c: model(c).update(training={"batch_size": 0}),
        "config key 'models.tiny.training.batch_size': 0 is less than the minimum of 1"),
    "batch size big": (
        lambda c: model(c).update(evaluation={"batch_size": "big"}),
        "config key 'models.tiny.evaluation.batch_size': 'big' is not of type 'integer'"),
    "typo in a per-model section": (
        lambda c: model(c).update(generation={"tokens_per_rond": 5}),
        "config key 'models.tiny.generation.tokens_per_rond': unknown key (allowed: backend, batch_size, tokens_per_round)"),
    "dedup with perplexity keys": (
        lambda c: cond(c).update(filters=[{"name": "dedup", "keep_fraction": 0.3, "band": "lowest"}]),
        "config key 'conditions.real_prefix.filters.0.band': unknown key (allowed: name, num_perm, shingle_words, threshold)"),
    "min_length with a quality key": (
        lambda c: cond(c).update(filters=[{"name": "min_length", "min_words": 5}]),
        "config key 'conditions.real_prefix.filters.0.min_words': unknown key (allowed: min_tokens, name)"),
    # more of the same kind
    "bool seed": (lambda c: c.update(seed=True), "config key 'seed': True is not of type 'integer'"),
    "fractional rounds": (lambda c: c.update(rounds=2.5), "config key 'rounds': 2.5 is not an integer"),
    "zero rounds": (lambda c: c.update(rounds=0), "config key 'rounds': 0 is less than the minimum of 1"),
    "duplicate seed index": (lambda c: c.update(seeds=[0, 0]), "config key 'seeds': [0, 0] has non-unique elements"),
    "no seeds": (lambda c: c.update(seeds=[]), "config key 'seeds': [] should be non-empty"),
    "float tokens_per_round": (lambda c: c["generation"].update(tokens_per_round=1e5),
                               "config key 'generation.tokens_per_round': 100000.0 is not an integer (write 100000 if "
                               "that is meant)"),
    "zero generation batch": (lambda c: c["generation"].update(batch_size=0),
                              "config key 'generation.batch_size': 0 is less than the minimum of 1"),
    "misspelled top-level backend": (lambda c: c["evaluation"].update(backend="VLLM"),
                                     "config key 'evaluation.backend': 'VLLM' is not one of ['auto', 'hf', 'vllm']"),
    "gpu share above one": (lambda c: c["evaluation"].update(gpu_memory_utilization=1.5),
                            "config key 'evaluation.gpu_memory_utilization': 1.5 is greater than the maximum of 1"),
    "per-model max_items": (lambda c: model(c).update(evaluation={"downstream": {"max_items": 5}}),
                            "config key 'models.tiny.evaluation.downstream.max_items': top level only (one value for "
                            "all models: set evaluation.downstream.max_items)"),
    "per-model tail_mass": (lambda c: model(c).update(evaluation={"diversity": {"tail_mass": 0.2}}),
                            "config key 'models.tiny.evaluation.diversity.tail_mass': top level only (one value for "
                            "all models: set evaluation.diversity.tail_mass)"),
    "per-model training float lr as text": (lambda c: model(c).update(training={"lr": "1e-3"}),
                                             "config key 'models.tiny.training.lr': '1e-3' is not of type 'number'"),
    "unknown per-model section": (lambda c: model(c).update(sampling={}),
                                  "config key 'models.tiny.sampling': unknown key (allowed: base, evaluation, "
                                  "generation, resources, training)"),
    "prefix_tokens on unconditional": (lambda c: cond(c, "unconditional")["prompt"].update(prefix_tokens=8),
                                       "config key 'conditions.unconditional.prompt.prefix_tokens': unknown key "
                                       "(allowed: strategy)"),
    "topics on real_prefix": (lambda c: cond(c)["prompt"].update(topics=["war"]),
                              "config key 'conditions.real_prefix.prompt.topics': unknown key (allowed: prefix_tokens, "
                              "strategy)"),
    "first_round self_prefix": (lambda c: cond(c)["prompt"].update(strategy="self_prefix", first_round="self_prefix"),
                                "config key 'conditions.real_prefix.prompt.first_round': 'self_prefix' is not one of "
                                "['unconditional', 'real_prefix']"),
    "float prefix_tokens": (lambda c: cond(c)["prompt"].update(prefix_tokens=16.0),
                            "config key 'conditions.real_prefix.prompt.prefix_tokens': 16.0 is not an integer (write "
                            "16 if that is meant)"),
    "real_fraction on replace": (lambda c: cond(c).update(data={"real_fraction": 0.2}),
                                 "config key 'conditions.real_prefix.data.real_fraction': unknown key (allowed: regime)"),
    "budget on mix": (lambda c: cond(c).update(data={"regime": "mix", "budget_tokens": 100}),
                      "config key 'conditions.real_prefix.data.budget_tokens': unknown key (allowed: real_fraction, "
                      "real_tokens, regime)"),
    "misspelled regime": (lambda c: cond(c).update(data={"regime": "acumulate"}),
                          "config key 'conditions.real_prefix.data.regime': 'acumulate' is not one of ['replace', "
                          "'accumulate', 'mix', 'accumulate_subsample', 'real']"),
    "misspelled filter": (lambda c: cond(c).update(filters=[{"name": "dedupe"}]),
                          "config key 'conditions.real_prefix.filters.0.name': 'dedupe' is not one of ['none', "
                          "'min_length', 'perplexity', 'quality', 'gopher', 'dedup', 'detector']"),
    "zero perplexity batch": (lambda c: cond(c).update(filters=[{"name": "perplexity", "batch_size": 0}]),
                              "config key 'conditions.real_prefix.filters.0.batch_size': 0 is less than the minimum of 1"),
    "quality n-gram key not a number": (
        lambda c: cond(c).update(filters=[{"name": "quality", "max_top_ngram_fraction": {"two": 0.2}}]),
        "config key 'conditions.real_prefix.filters.0.max_top_ngram_fraction': name 'two' must match ^[1-9][0-9]*$"),
    "filter key in condition_defaults": (
        lambda c: c["condition_defaults"].update(filters=[{"name": "none", "keep_fraction": 0.5}]),
        "config key 'condition_defaults.filters.0.keep_fraction': unknown key (allowed: name)"),
    "grid filter with another filter's key": (
        lambda c: c.update(grid={"filter": {"d": [{"name": "dedup", "scorer": "base"}]}}),
        "config key 'grid.filter.d.0.scorer': unknown key (allowed: name, num_perm, shingle_words, threshold)"),
    "grid point name too long": (
        lambda c: c.update(grid={"prompt": {"p" * 130: {"strategy": "unconditional"}}}),
        "config key 'conditions (grid point)': name 'prompt-ppppppppppppppppppppppppppppppppp'... is 137 characters "
        "(at most 128: it is a path component)"),
    "model named like a results folder": (
        lambda c: c["models"].update(logs=copy.deepcopy(model(c))),
        "config key 'models': name 'logs' is reserved (the pipeline's own entries: data, figures, logs, benchmarks, "
        "archive, summary.csv, summary_ci.csv, manifest.json, current, base)"),
    "condition name with a slash": (
        lambda c: c["conditions"].update({"a/b": {"prompt": {"strategy": "unconditional"}}}),
        "config key 'conditions': name 'a/b' must match ^[A-Za-z0-9][A-Za-z0-9_.+=-]*$"),
    "generation longer than the context": (
        lambda c: c["condition_defaults"]["sampling"].update(max_new_tokens=600),
        "config key 'conditions.real_prefix.sampling.max_new_tokens': BOS + prompt + 600 new tokens = 617 positions "
        "exceed models.tiny.base.architecture.max_position_embeddings 512"),
    "float temperature as text": (lambda c: c["condition_defaults"]["sampling"].update(temperature="hot"),
                                  "config key 'condition_defaults.sampling.temperature': 'hot' is not of type 'number'"),
    "teacher that is no model": (lambda c: cond(c).update(generator={"model": "olmo"}),
                                 "config key 'conditions.real_prefix.generator.model': 'olmo' is not a name of models "
                                 "(teacher, tiny)"),
    "teacher given as a name alone": (lambda c: cond(c).update(generator="tiny"),
                                      "config key 'conditions.real_prefix.generator': 'tiny' is not of type 'object', "
                                      "'null'"),
    "student that is no model": (lambda c: cond(c).update(students=["tiny", "huge"]),
                                 "config key 'conditions.real_prefix.students.1': 'huge' is not a name of models (teacher, tiny)"),
    "scorer that is no model": (lambda c: cond(c).update(filters=[{"name": "perplexity", "scorer": "judge"}]),
                                "config key 'conditions.real_prefix.filters.0.scorer': 'judge' is neither current, base "
                                "nor a name of models (teacher, tiny)"),
    "model named like a scorer role": (
        lambda c: c["models"].update(current=copy.deepcopy(model(c))),
        "config key 'models': name 'current' is reserved (the pipeline's own entries: data, figures, logs, benchmarks, "
        "archive, summary.csv, summary_ci.csv, manifest.json, current, base)"),
    # issue 27: lists naming a thing twice, empty paths, GPUs asked for twice
    "task named twice": (
        lambda c: c["evaluation"]["downstream"].update(tasks=[{"name": "last_word"}, {"name": "last_word"}]),
        "config key 'evaluation.downstream.tasks': task 'last_word' named twice (name each task once)"),
    "task named twice in a model's override": (
        lambda c: model(c).update(evaluation={"downstream": {"tasks": [{"name": "minimal_pairs"}] * 2}}),
        "config key 'models.tiny.evaluation.downstream.tasks': task 'minimal_pairs' named twice (name each task once)"),
    "student named twice": (lambda c: cond(c).update(students=["tiny", "tiny"]),
                            "config key 'conditions.real_prefix.students': ['tiny', 'tiny'] has non-unique elements"),
    "topic named twice": (lambda c: cond(c).update(prompt={"strategy": "topic", "topics": ["war", "war"]}),
                          "config key 'conditions.real_prefix.prompt.topics': ['war', 'war'] has non-unique elements"),
    "empty perplexity set path": (
        lambda c: c["evaluation"].update(perplexity_sets={"web": {"source": "jsonl", "path": ""}}),
        "config key 'evaluation.perplexity_sets.web.path': '' should be non-empty"),
    "empty local checkpoint path": (lambda c: model(c).update(base={"kind": "local", "path": ""}),
                                    "config key 'models.tiny.base.path': '' should be non-empty"),
    "gpus beside a gres": (
        lambda c: c["resources"].update(train={"gpus": 2, "gres": "gpu:a100:2"}),
        "config key 'resources.train.gpus': given beside resources.train.gres (ask for the GPUs once: gpus N, or a "
        "gres such as gpu:a100:N)"),
    "gpus beside a gres of a model": (
        lambda c: model(c).update(resources={"generate": {"gres": "gpu:1", "gpus": 1}}),
        "config key 'models.tiny.resources.generate.gpus': given beside models.tiny.resources.generate.gres (ask for "
        "the GPUs once: gpus N, or a gres such as gpu:a100:N)"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_line_naming_the_key(name):
    mutate, line = CASES[name]
    assert line in lines_of(mutate)


def test_case_count():
    # the cases (the first 16 above) and at least as many new ones
    assert len(CASES) >= 32


@pytest.mark.parametrize("text,message", [
    (b"rounds: 3\nseed: 1\nrounds: 2\n", "{path}:3:1: duplicate key 'rounds' (first at line 1)"),
    (b"conditions:\n  a: {prompt: {strategy: topic}}\n  a: {prompt: {strategy: unconditional}}\n",
     "{path}:3:3: duplicate key 'a' (first at line 2)"),
    (b"rounds: [3\nseed: 1\n", "{path}:2:5: expected ',' or ']', but got ':'"),
    (b"rounds: 3\n\tseed: 1\n", "{path}:2:1: found character '\\t' that cannot start any token"),
    (b"rounds: 3\nseed: \xff\n", "{path}:2: byte 0xff is not UTF-8 (config files are UTF-8 text)"),
    (b"- rounds\n", "{path}: a config file is a mapping of keys at the top level"),
])
def test_config_files_are_read_strictly(tmp_path, text, message):
    path = tmp_path / "preset.yaml"
    path.write_bytes(text)
    with pytest.raises(InputError) as e:
        read_config_file(path)
    assert str(e.value) == message.format(path=path)


def test_errors_name_the_file_that_sets_the_key():
    sources = [("config.yaml", DEFAULT), ("preset.yaml", {"training": {"lr": -1}, "seed": 1.0})]
    c = copy.deepcopy(DEFAULT)
    c["training"]["lr"], c["seed"] = -1, 1.0
    with pytest.raises(InputError) as e:
        validate_config(c)
    assert str(locate(e.value, sources)).splitlines()[1:] == [
        "  preset.yaml: config key 'seed': 1.0 is not an integer (write 1 if that is meant)",
        "  preset.yaml: config key 'training.lr': -1 is less than or equal to the minimum of 0"]
    c = copy.deepcopy(DEFAULT)
    c["conditions"]["real_prefix"]["prompt"]["prefix_tokens"] = 0
    with pytest.raises(InputError) as e:
        validate_config(c)
    assert str(locate(e.value, sources)).splitlines()[1] == (
        "  config.yaml: config key 'conditions.real_prefix.prompt.prefix_tokens': 0 is less than the minimum of 1")


def test_check_config_command_names_file_and_line(tmp_path):
    import subprocess
    import sys

    cmd = [sys.executable, "scripts/check_config.py"]
    ok = subprocess.run(cmd + ["config.yaml"], cwd=ROOT, capture_output=True, text=True)
    assert (ok.returncode, ok.stdout) == (0, "config.yaml: valid (2 models, 3 conditions)\n")
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"rounds: 3\nseed: \xff\n")
    proc = subprocess.run(cmd + ["config.yaml", str(bad)], cwd=ROOT, capture_output=True, text=True)
    assert (proc.returncode, proc.stderr) == (1, f"{bad}:2: byte 0xff is not UTF-8 (config files are UTF-8 text)\n")
    bad.write_text("training:\n  lr: 0\n")
    proc = subprocess.run(cmd + ["config.yaml", str(bad)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[1] == f"  {bad}: config key 'training.lr': 0 is less than or equal to the minimum of 0"


def test_max_length_beyond_a_local_checkpoints_context(tmp_path):
    import json

    from selftrain.config import check_paths

    (tmp_path / "base").mkdir()
    (tmp_path / "base/config.json").write_text(json.dumps({"max_position_embeddings": 256}))
    (tmp_path / "base/model.safetensors").write_bytes(b"")
    c = copy.deepcopy(DEFAULT)
    c["models"]["tiny"]["base"] = {"kind": "local", "path": "base"}
    c["evaluation"]["max_length"] = 512
    with pytest.raises(InputError) as e:
        check_paths(validate_config(c), tmp_path)
    assert str(e.value).splitlines()[1] == (
        "  config key 'evaluation.max_length': 512 exceeds max_position_embeddings 256 of base/config.json")


def path_problems(tmp_path, mutate) -> list[str]:
    """check_paths' lines for the default config changed by mutate, files under tmp_path."""
    from selftrain.config import check_paths

    c = copy.deepcopy(DEFAULT)
    mutate(c)
    with pytest.raises(InputError) as e:
        check_paths(validate_config(c), tmp_path)
    return [line.strip() for line in str(e.value).splitlines()[1:]]


def test_a_jsonl_corpus_is_parsed_whole_and_its_split_leaves_a_batch(tmp_path):
    """Every record, not the first only, as corpus.load_jsonl reads it; and a held-out fraction that leaves fewer
    training documents than one batch is refused, naming the key."""
    corpus = tmp_path / "corpus.jsonl"
    use = lambda c: c["corpus"].update(source="jsonl", path="corpus.jsonl")  # noqa: E731
    corpus.write_text("".join(f'{{"text": "document {i}"}}\n' for i in range(40)) + '{"txt": "late typo"}\n')
    assert path_problems(tmp_path, use) == ["config key 'corpus.text_key': corpus.jsonl:41: missing key 'text'"]
    corpus.write_text("".join(f'{{"text": "document {i}"}}\n' for i in range(40)) + "{not json}\n")
    assert path_problems(tmp_path, use)[0].startswith("config key 'corpus.path': corpus.jsonl:41: invalid JSON")
    corpus.write_text("".join(f'{{"text": "document {i}"}}\n' for i in range(40)))
    batch = validate_config(copy.deepcopy(DEFAULT))["training"]["batch_size"]
    assert batch < 40
    # 40 documents, a held-out fraction leaving batch - 1 for training
    fraction = (40 - batch + 1) / 40
    # (the largest batch of a training that reads them: the default's base pre-training and rounds both take 16)
    assert path_problems(tmp_path, lambda c: (use(c), c["corpus"].update(heldout_fraction=fraction))) == [
        f"config key 'corpus.heldout_fraction': {fraction} of 40 documents leaves {batch - 1} for training, fewer "
        f"than one batch (models.tiny.base.training.batch_size = {batch})"]
    # max_documents counts too, where the corpus holds more
    assert path_problems(tmp_path, lambda c: (use(c), c["corpus"].update(max_documents=batch))) == [
        f"config key 'corpus.heldout_fraction': {DEFAULT['corpus']['heldout_fraction']} of {batch} documents leaves "
        f"{batch - round(batch * DEFAULT['corpus']['heldout_fraction'])} for training, fewer than one batch "
        f"(models.tiny.base.training.batch_size = {batch})"]
