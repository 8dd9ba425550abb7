"""Prompting strategies on tiny inputs: exact prompts, seeded order, round-1 fallback of self_prefix."""

import pytest

from selftrain.prompts import STRATEGIES, make_strategy, strategy_for_round, strategy_source


def decode(tok, ids):
    assert ids[0] == tok.bos_token_id
    return tok.decode(ids[1:])


def test_registry_names():
    assert sorted(STRATEGIES) == ["real_prefix", "self_prefix", "topic", "unconditional"]


def test_unconditional_is_bos_only(tiny_tokenizer):
    s = make_strategy({"strategy": "unconditional"}, tiny_tokenizer, [], 0)
    assert [s.prompt_ids(j) for j in range(3)] == [[tiny_tokenizer.bos_token_id]] * 3


def test_topic_fills_every_template_with_every_topic_in_a_seeded_cycle(tiny_tokenizer):
    spec = {"strategy": "topic", "templates": ["Of {topic}:", "{topic}"], "topics": ["love", "night"]}
    s = make_strategy(spec, tiny_tokenizer, [], seed=5)
    prompts = [decode(tiny_tokenizer, s.prompt_ids(j)) for j in range(6)]
    assert sorted(prompts[:4]) == ["Of love:", "Of night:", "love", "night"]
    assert prompts[4:] == prompts[:2]  # cycles
    assert prompts == [decode(tiny_tokenizer, make_strategy(spec, tiny_tokenizer, [], 5).prompt_ids(j)) for j in range(6)]
    other = [decode(tiny_tokenizer, make_strategy(spec, tiny_tokenizer, [], 6).prompt_ids(j)) for j in range(4)]
    assert sorted(other) == sorted(prompts[:4])


def test_topic_defaults_give_one_prompt_per_topic(tiny_tokenizer):
    s = make_strategy({"strategy": "topic"}, tiny_tokenizer, [], 0)
    assert len(s.order) == 8


def test_self_prefix_takes_the_first_k_tokens_of_previous_generations(tiny_tokenizer):
    previous = [{"id": "round1-000000", "text": "Now fair Hippolyta our nuptial hour"},
                {"id": "round1-000001", "text": "Four days will quickly steep themselves"}]
    s = make_strategy({"strategy": "self_prefix", "prefix_tokens": 3}, tiny_tokenizer, previous, 0)
    heads = {tuple(tiny_tokenizer(d["text"], add_special_tokens=False)["input_ids"][:3]) for d in previous}
    got = {tuple(s.prompt_ids(j)[1:]) for j in range(2)}
    assert got == heads and all(len(h) == 3 for h in heads)


def test_self_prefix_without_documents_is_an_error(tiny_tokenizer):
    with pytest.raises(ValueError, match="self_prefix needs documents"):
        make_strategy({"strategy": "self_prefix"}, tiny_tokenizer, [], 0)


def test_self_prefix_round_one_falls_back_and_later_rounds_read_the_previous_corpus():
    spec = {"strategy": "self_prefix", "prefix_tokens": 8}
    # only the keys the round-1 strategy declares: the round-1 spec equals an unconditional condition's
    assert strategy_for_round(spec, 1) == {"strategy": "unconditional"}
    assert strategy_for_round({**spec, "first_round": "real_prefix"}, 1) == {"strategy": "real_prefix", "prefix_tokens": 8}
    assert strategy_for_round(spec, 2) == spec
    assert strategy_source(spec, 1) is None and strategy_source(spec, 2) == "previous"
    real_first = {**spec, "first_round": "real_prefix"}
    assert strategy_source(real_first, 1) == "real" and strategy_source(real_first, 3) == "previous"
    assert strategy_source({"strategy": "real_prefix"}, 2) == "real"
    assert strategy_source({"strategy": "topic"}, 1) is None
    with pytest.raises(ValueError, match="config key 'prompt.strategy': 'typo' is not one of"):
        strategy_source({"strategy": "typo"}, 1)
