"""The detector trains on equally many human and machine texts and reports its held-out accuracy."""

from selftrain.detector import MachineTextDetector
from selftrain.filters import apply_filters
from selftrain.io import write_jsonl


def test_classes_are_balanced_on_both_sides_and_capped(tmp_path, tiny_tokenizer):
    real = [{"id": f"r{i}", "text": f"four nights will quickly dream away the time number {i} " * 3} for i in range(30)]
    machine = [{"id": f"m{i}", "text": f"zq xv kk {i} " * 3} for i in range(90)]
    write_jsonl(tmp_path / "real.jsonl", real)
    write_jsonl(tmp_path / "ref.jsonl", machine)
    context = {"real": str(tmp_path / "real.jsonl"), "reference": str(tmp_path / "ref.jsonl")}
    docs = [{"id": "m", "text": "zq xv kk zq"}, {"id": "h", "text": "will quickly dream away the time"}]
    _, stats = apply_filters(docs, [{"name": "detector"}], tiny_tokenizer, "w", context, seed=0)
    d = stats["steps"][0]["details"]
    # the machine side (90) is cut to the human side (30), not trained on in full
    assert d["train_documents"] == {"human": 30, "machine": 30}
    assert (d["heldout_documents"], d["heldout_accuracy"]) == (12, 1.0)
    _, stats = apply_filters(docs, [{"name": "detector", "max_train_documents": 10}], tiny_tokenizer, "w", context)
    assert stats["steps"][0]["details"]["train_documents"] == {"human": 10, "machine": 10}


def test_heldout_accuracy_is_measured_on_texts_it_never_saw():
    # labels that no feature predicts: training accuracy can be high, held-out accuracy is near chance
    human = [f"w{i} w{i + 1}" for i in range(0, 400, 2)]
    machine = [f"w{i} w{i + 1}" for i in range(400, 800, 2)]
    fit = MachineTextDetector(2**18, 100.0, seed=0).fit(human, machine)
    assert fit["train_accuracy"] == 1.0 and fit["heldout_documents"] == 80
    assert fit["heldout_accuracy"] < 0.75


def test_too_few_texts_train_on_all_and_report_no_heldout_accuracy():
    fit = MachineTextDetector(1024, 1.0, seed=0).fit(["ab cd ef"], ["xy zw uv"])
    assert fit == {"train_accuracy": 1.0, "heldout_accuracy": None, "heldout_documents": 0}
