import pytest

from selftrain.filters import EmptyCorpusError, apply_filters
from selftrain.regimes import make_regime

DOCS = [{"id": f"g{i}", "text": "x" * i, "meta": {"n_tokens": i}} for i in range(1, 6)]


def test_no_filter_keeps_all_and_reports(tiny_tokenizer):
    kept, stats = apply_filters(DOCS, [], tiny_tokenizer, "c round 1")
    assert kept == DOCS
    assert stats == {"input_documents": 5, "output_documents": 5,
                     "steps": [{"name": "none", "params": {}, "input": 5, "kept": 5, "removed": 0}]}


def test_min_length_chain(tiny_tokenizer):
    kept, stats = apply_filters(DOCS, [{"name": "min_length", "min_tokens": 3}, {"name": "none"}], tiny_tokenizer, "w")
    assert [d["id"] for d in kept] == ["g3", "g4", "g5"]
    assert stats["steps"][0] == {"name": "min_length", "params": {"min_tokens": 3}, "input": 5, "kept": 3, "removed": 2}


def test_filter_that_empties_the_corpus_names_condition_and_round(tiny_tokenizer):
    with pytest.raises(EmptyCorpusError, match="condition c seed 0 round 2: the filters \\['min_length'\\] removed every document"):
        apply_filters(DOCS, [{"name": "min_length", "min_tokens": 99}], tiny_tokenizer, "condition c seed 0 round 2")


def test_replace_regime_trains_on_this_round_only():
    r = make_regime({"regime": "replace"}, 0)
    assert r.needs_rounds(3) == [3] and not r.needs_real
    assert r.documents([[{"id": "a"}], [{"id": "b"}]], [{"id": "real"}]) == [{"id": "b"}]
    with pytest.raises(ValueError, match="data.regime"):
        make_regime({"regime": "hoard"}, 0)
