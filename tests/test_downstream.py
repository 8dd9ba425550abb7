import pytest

from selftrain.downstream import build_task_items, last_word_items, minimal_pair_items, sentences, with_distractors

PASSAGE = " ".join(f"w{i}" for i in range(48)) + " the old moon wanes. She lingers in the night."


def test_sentences_split_after_end_marks_and_collapse_whitespace():
    assert sentences("One  two.\nThree?  Four!\n\nfive") == ["One two.", "Three?", "Four!", "five"]


def test_last_word_items_end_on_a_content_word_of_a_whole_passage():
    # 52 words end at "wanes." (>= 50 words, content word): one item; the next sentence alone is too short
    items = last_word_items({"id": "d", "text": PASSAGE}, min_words=50, max_words=120)
    assert items == [{"id": "d#0", "context": " ".join(f"w{i}" for i in range(48)) + " the old moon", "target": "wanes"}]
    # a stopword, a capitalised name and a two-letter word never end an item
    for end in ("of them.", "Hamlet.", "go."):
        assert last_word_items({"id": "d", "text": " ".join(["x"] * 50) + " " + end}) == []
    # a passage over the maximum restarts at the current sentence
    long = " ".join(["x"] * 130) + ". " + " ".join(["y"] * 49) + " night."
    assert [it["target"] for it in last_word_items({"id": "d", "text": long})] == ["night"]


def test_minimal_pairs_flip_the_single_agreement_verb():
    text = "The moon is bright tonight. They were here and were there. Short is. The stars have set now."
    items = minimal_pair_items({"id": "d", "text": text})
    assert items == [
        {"id": "d#0", "sentence_good": "The moon is bright tonight.", "sentence_bad": "The moon are bright tonight."},
        {"id": "d#1", "sentence_good": "The stars have set now.", "sentence_bad": "The stars has set now."},
    ]


def test_build_task_items_takes_a_fixed_seeded_sample():
    docs = [{"id": f"d{i}", "text": f"The moon is bright number {i}."} for i in range(10)]
    a = build_task_items("minimal_pairs", docs, 4, seed=3)
    assert len(a) == 4 and a == build_task_items("minimal_pairs", docs, 4, seed=3)
    assert a != build_task_items("minimal_pairs", docs, 4, seed=4)
    assert [it["id"] for it in a] == sorted(it["id"] for it in a)  # file order kept
    with pytest.raises(ValueError, match="no item"):
        build_task_items("last_word", docs, 4, seed=3)


def test_last_word_choice_puts_the_true_word_first_among_other_passages_words():
    items = [{"id": f"d#{i}", "context": "c", "target": w} for i, w in enumerate(["moon", "night", "hour", "days", "bow"])]
    a = with_distractors(items, seed=5)
    assert [it["choices"][0] for it in a] == ["moon", "night", "hour", "days", "bow"]
    for it in a:
        assert len(it["choices"]) == 4 == len(set(it["choices"]))
        assert set(it["choices"]) <= {"moon", "night", "hour", "days", "bow"}
    assert a == with_distractors(items, seed=5) and a != with_distractors(items, seed=6)
    # built from held-out documents like last_word, then sampled
    passage = " ".join(f"w{i}" for i in range(48))
    docs = [{"id": f"p{i}", "text": f"{passage} the old moon {w}."} for i, w in enumerate(["wanes", "rises", "sets", "glows"])]
    built = build_task_items("last_word_choice", docs, 3, seed=1)
    assert len(built) == 3 and all(it["choices"][0] == it["target"] and len(it["choices"]) == 4 for it in built)
