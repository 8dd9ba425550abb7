import math

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


# --- perplexity band ---------------------------------------------------------------------------------

from conftest import sample_docs  # noqa: E402
from selftrain.filters import (  # noqa: E402
    FILTERS, band_mask, document_perplexities, filter_needs,
)
from selftrain.regimes import REGIMES, composition  # noqa: E402


def test_registries():
    assert sorted(FILTERS) == ["dedup", "detector", "gopher", "min_length", "none", "perplexity", "quality"]
    assert sorted(REGIMES) == ["accumulate", "accumulate_subsample", "mix", "real", "replace"]


@pytest.mark.parametrize("band,kept", [("lowest", [1, 3]), ("highest", [0, 2]), ("middle", [3, 4])])
def test_band_mask_keeps_a_quantile_band(band, kept):
    mask, details = band_mask([5.0, 1.0, 4.0, 2.0, 3.0], 0.4, band)
    assert [i for i, m in enumerate(mask) if m] == kept
    assert details == {"lowest": {"kept_min": 1.0, "kept_max": 2.0}, "highest": {"kept_min": 4.0, "kept_max": 5.0},
                       "middle": {"kept_min": 2.0, "kept_max": 3.0}}[band]


def test_filter_needs_name_the_inputs():
    assert filter_needs([]) == set()
    assert filter_needs([{"name": "perplexity"}]) == {"model"}
    assert filter_needs([{"name": "perplexity", "scorer": "base"}, {"name": "dedup"}]) == {"base"}
    assert filter_needs([{"name": "detector"}, {"name": "quality"}]) == {"real", "reference"}
    # an external scorer (a name of models): its round-0 checkpoint, as its own entry
    assert filter_needs([{"name": "perplexity", "scorer": "judge"}, {"name": "perplexity"}]) == {"scorer:judge", "model"}


@pytest.fixture()
def checkpoint(tmp_path, tiny_model, tiny_tokenizer):
    from selftrain.modeling import save_checkpoint

    save_checkpoint(tiny_model, tiny_tokenizer, tmp_path / "ckpt")
    return tmp_path / "ckpt"


def test_perplexity_scores_do_not_depend_on_batching(tiny_model, tiny_tokenizer):
    texts = [d["text"] for d in sample_docs(6)] + ["short"]
    one = document_perplexities(tiny_model, tiny_tokenizer, texts, batch_size=1, max_tokens=64)
    three = document_perplexities(tiny_model, tiny_tokenizer, texts, batch_size=3, max_tokens=64)
    assert one == pytest.approx(three, rel=1e-4)
    assert all(p > 1 for p in one)
    # the same number by hand: exp of the mean NLL of the text's tokens after BOS
    import torch

    ids = [tiny_tokenizer.bos_token_id] + tiny_tokenizer(texts[0], add_special_tokens=False)["input_ids"][:64]
    with torch.no_grad():
        logp = torch.log_softmax(tiny_model(torch.tensor([ids])).logits[0, :-1].double(), -1)
    nll = -logp.gather(1, torch.tensor(ids[1:])[:, None]).mean().item()
    assert three[0] == pytest.approx(math.exp(nll), rel=1e-5)
    assert document_perplexities(tiny_model, tiny_tokenizer, ["", "short"], 2, 64)[0] == 1.0


@pytest.mark.parametrize("scorer,context_key", [("current", "model"), ("base", "base")])
def test_perplexity_filter_keeps_the_lowest_band_of_the_chosen_model(checkpoint, tiny_model, tiny_tokenizer,
                                                                    scorer, context_key):
    docs = [{"id": f"g{i}", "text": d["text"]} for i, d in enumerate(sample_docs(5))] + \
           [{"id": "g5", "text": "zz qq zz qq xx"}]
    scores = document_perplexities(tiny_model, tiny_tokenizer, [d["text"] for d in docs], 16, 512)
    expected = sorted(sorted(range(6), key=lambda i: (scores[i], i))[:3])
    spec = {"name": "perplexity", "scorer": scorer, "band": "lowest", "keep_fraction": 0.5}
    kept, stats = apply_filters(docs, [spec], tiny_tokenizer, "w", {context_key: str(checkpoint)})
    assert [d["id"] for d in kept] == [f"g{i}" for i in expected]
    step = stats["steps"][0]
    assert (step["input"], step["kept"], step["removed"]) == (6, 3, 3)
    assert step["details"]["kept_max"] == pytest.approx(sorted(scores)[2], rel=1e-5)


def test_an_external_scorer_is_the_model_that_scores(tmp_path, tiny_model, tiny_tokenizer, tiny_arch):
    """scorer: <a name of models> keeps the band of that model's perplexities, not the current model's, and says
    which checkpoint judged."""
    from selftrain.modeling import build_olmo2, save_checkpoint

    judge = build_olmo2(tiny_arch, tiny_tokenizer, seed=1).eval()
    save_checkpoint(tiny_model, tiny_tokenizer, tmp_path / "current")
    save_checkpoint(judge, tiny_tokenizer, tmp_path / "judge")
    docs = [{"id": f"g{i}", "text": d["text"]} for i, d in enumerate(sample_docs(12))]
    texts = [d["text"] for d in docs]

    def lowest(model):
        scores = document_perplexities(model, tiny_tokenizer, texts, 16, 512)
        return [f"g{i}" for i in sorted(sorted(range(12), key=lambda i: (scores[i], i))[:4])]

    assert lowest(judge) != lowest(tiny_model)  # the two models disagree on these documents: the test can tell
    spec = {"name": "perplexity", "scorer": "judge", "band": "lowest", "keep_fraction": 1 / 3}
    context = {"model": str(tmp_path / "current"), "scorer:judge": str(tmp_path / "judge")}
    kept, stats = apply_filters(docs, [spec], tiny_tokenizer, "w", context,
                                trust_remote_code={"model": False, "scorer:judge": False})
    assert [d["id"] for d in kept] == lowest(judge)
    assert stats["steps"][0]["details"]["scored_by"] == str(tmp_path / "judge")
    assert stats["steps"][0]["params"]["scorer"] == "judge"


# --- quality heuristics ---------------------------------------------------------------------------------

def test_quality_filter_names_the_rule_each_document_breaks(tiny_tokenizer):
    texts = {
        # long enough that its most frequent (here: first) 3-gram, counted even once by datatrove, is under 18%
        "good": ("Now fair Hippolyta, our nuptial hour draws on apace; four happy days bring in another moon: "
                 "but how slow this old moon wanes! She lingers my desires, like to a step-dame or a dowager"),
        "short": "a b",
        "hashes": "# word # word # word # word",
        "ellipsis": "so ... we ... wait ... here ... now",
        "digits": "12 34 56 78 word",
        "lines": "to be\nto be\nto be\nor not",
        "bigram": "the cat the cat the cat sat down",
    }
    docs = [{"id": k, "text": v} for k, v in texts.items()]
    kept, stats = apply_filters(docs, [{"name": "quality", "min_words": 3}], tiny_tokenizer, "w")
    assert [d["id"] for d in kept] == ["good"]
    # datatrove's reason names (selftrain.gopher measures every rule with datatrove's filters)
    assert stats["steps"][0]["details"] == {"removed_by": {
        "dup_line_frac": 1, "gopher_below_alpha_threshold": 1, "gopher_short_doc": 1, "gopher_too_many_ellipsis": 1,
        "gopher_too_many_hashes": 1, "top_2_gram": 1}}
    # thresholds are configurable: relaxing the line rule lets that document through
    kept, _ = apply_filters(docs, [{"name": "quality", "min_words": 3, "max_duplicate_line_fraction": 0.9,
                                    "max_top_ngram_fraction": {}, "max_duplicate_ngram_fraction": {}}],
                            tiny_tokenizer, "w")
    assert [d["id"] for d in kept] == ["good", "lines", "bigram"]
    # gopher at the paper's thresholds: 50 words at least, so all of these short texts go
    with pytest.raises(EmptyCorpusError):
        apply_filters(docs, [{"name": "gopher"}], tiny_tokenizer, "w")


# --- dedup ------------------------------------------------------------------------------------------------

def test_dedup_removes_exact_and_near_duplicates_keeping_the_first(tiny_tokenizer):
    words = ("now fair hippolyta our nuptial hour draws on apace four happy days bring in another moon "
             "but o methinks how slow this old moon wanes she lingers my desires like to a step dame").split()
    base = " ".join(words)
    docs = [{"id": "a", "text": base},
            {"id": "exact", "text": "  " + base.upper().replace(" ", "\n")},
            {"id": "near", "text": " ".join(words[:-1] + ["dowager"])},
            {"id": "other", "text": "four nights will quickly dream away the time and then the moon like a silver bow"}]
    kept, stats = apply_filters(docs, [{"name": "dedup"}], tiny_tokenizer, "w")
    assert [d["id"] for d in kept] == ["a", "other"]
    assert stats["steps"][0]["details"] == {"exact_duplicates": 1, "near_duplicates": 1}
    kept, _ = apply_filters(docs, [{"name": "dedup", "threshold": 0.95}], tiny_tokenizer, "w")
    assert [d["id"] for d in kept] == ["a", "near", "other"]


# --- detector ---------------------------------------------------------------------------------------------

def test_detector_keeps_the_most_human_like_half(tmp_path, tiny_tokenizer):
    from selftrain.io import write_jsonl

    machine = [{"id": f"round1-{i:06d}", "text": "zq xv " * (3 + i % 3) + "kk"} for i in range(20)]
    write_jsonl(tmp_path / "real.jsonl", sample_docs(20))
    write_jsonl(tmp_path / "ref.jsonl", machine)
    docs = [{"id": "m1", "text": "zq xv zq xv kk"}, {"id": "h1", "text": "Four nights will quickly dream away the time"},
            {"id": "m2", "text": "xv zq kk zq"}, {"id": "h2", "text": "And then the moon, like to a silver bow"}]
    context = {"real": str(tmp_path / "real.jsonl"), "reference": str(tmp_path / "ref.jsonl")}
    kept, stats = apply_filters(docs, [{"name": "detector", "keep_fraction": 0.5}], tiny_tokenizer, "w", context, seed=1)
    assert [d["id"] for d in kept] == ["h1", "h2"]
    d = stats["steps"][0]["details"]
    assert d["train_documents"] == {"human": 20, "machine": 20} and d["train_accuracy"] == 1.0
    assert (d["heldout_documents"], d["heldout_accuracy"]) == (8, 1.0)
    assert d["human_probability_kept_min"] > 0.5
    again, _ = apply_filters(docs, [{"name": "detector", "keep_fraction": 0.5}], tiny_tokenizer, "w", context, seed=1)
    assert again == kept


# --- data regimes -----------------------------------------------------------------------------------------

def words(doc_id, n):
    return {"id": doc_id, "text": " ".join(f"w{i}" for i in range(n))}


R1 = [words("round1-0", 4), words("round1-1", 6)]
R2 = [words("round2-0", 5), words("round2-1", 5)]
REAL = [words("real0", 10), words("real1", 10), words("real2", 10)]


def test_accumulate_trains_on_real_and_every_round():
    r = make_regime({"regime": "accumulate"}, 0)
    assert r.needs_rounds(2) == [1, 2] and r.needs_real
    docs = r.documents([R1, R2], REAL)
    assert [d["id"] for d in docs] == ["real0", "real1", "real2", "round1-0", "round1-1", "round2-0", "round2-1"]
    assert composition(docs, {1: R1, 2: R2}, REAL) == {"real": 3, "round1": 2, "round2": 2}


def test_mix_keeps_this_rounds_size_with_a_fixed_real_share():
    r = make_regime({"regime": "mix", "real_fraction": 0.3}, 0)
    assert r.needs_rounds(2) == [2] and r.needs_real
    docs = r.documents([R2], REAL)
    sizes = {d["id"]: len(d["text"].split()) for d in docs}
    assert sum(v for k, v in sizes.items() if k.startswith("real")) == 3  # 0.3 of 10 tokens, the last doc cut
    assert sum(v for k, v in sizes.items() if k.startswith("round")) == 7
    assert docs == r.documents([R2], REAL)  # seeded
    assert len([d for d in docs if d["id"].startswith("real")]) == 1


def test_accumulate_subsample_draws_a_fixed_budget_from_the_pool():
    r = make_regime({"regime": "accumulate_subsample", "budget_tokens": 25}, 3)
    assert r.needs_rounds(2) == [1, 2] and r.needs_real
    docs = r.documents([R1, R2], REAL)
    assert sum(len(d["text"].split()) for d in docs) == 25
    assert docs == r.documents([R1, R2], REAL)
    assert docs != make_regime({"regime": "accumulate_subsample", "budget_tokens": 25}, 4).documents([R1, R2], REAL)
    # without a budget: the size of this round's synthetic corpus
    default = make_regime({"regime": "accumulate_subsample"}, 3).documents([R1, R2], REAL)
    assert sum(len(d["text"].split()) for d in default) == 10


def test_a_budget_the_pool_cannot_fill_is_an_error():
    r = make_regime({"regime": "accumulate_subsample", "budget_tokens": 1000}, 0)
    with pytest.raises(ValueError, match="accumulate_subsample: 7 pool documents \\(50 tokens\\) cannot fill a budget of 1000"):
        r.documents([R1, R2], REAL)


def test_real_tokens_caps_the_real_pool_with_the_same_documents_every_round():
    r = make_regime({"regime": "accumulate", "real_tokens": 15}, 0)
    docs = r.documents([R1], REAL)
    real = [d for d in docs if d["id"].startswith("real")]
    assert sum(len(d["text"].split()) for d in real) == 15 and len(real) == 2
    assert real == [d for d in make_regime({"regime": "accumulate", "real_tokens": 15}, 9).documents([R1, R2], REAL)
                    if d["id"].startswith("real")]
