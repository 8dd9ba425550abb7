from base64 import urlsafe_b64encode

from selftrain.status import failed_outputs, incomplete_outputs, status_table, target_states

SUMMARY = "\n".join("\t".join(row) for row in [
    ("output_file", "date", "rule", "log-file(s)", "status", "plan"),
    ("results/summary.csv", "-", "aggregate", "-", "missing", "update pending"),
    ("results/data/train.jsonl", "d", "prepare_corpus", "l", "ok", "no update"),
    ("results/m/tokenizer", "d", "train_tokenizer", "l", "ok", "no update"),
    ("results/m/round0/checkpoint", "d", "base_model", "l", "ok", "no update"),
    ("results/m/round0/eval.json", "d", "evaluate_base", "l", "ok", "no update"),
    ("results/m/c/seed0/round1/generated.jsonl", "d", "generate", "l", "ok", "no update"),
    ("results/m/c/seed0/round1/eval.json", "d", "evaluate_round", "l", "ok", "no update"),
    ("results/m/c/seed0/round2/generated.jsonl", "-", "generate", "l", "missing", "update pending"),
    ("results/m/c/seed0/round2/eval.json", "-", "evaluate_round", "l", "missing", "update pending"),
    ("results/m/d/seed0/round1/generated.jsonl", "d", "generate", "l", "ok", "no update"),
    ("results/m/d/seed0/round1/checkpoint", "-", "train_round", "l", "missing", "update pending"),
    ("results/m/d/seed0/round2/eval.json", "-", "evaluate_round", "l", "missing", "update pending"),
]) + "\n"


def test_status_table_of_a_summary():
    states = target_states(SUMMARY, {"results/m/d/seed0/round1/checkpoint"})
    assert status_table(states) == (
        "model  condition  seed  round0  round1                round2\n"
        "m      c          0     done    done                  pending (generate)\n"
        "m      d          0     done    failed (train_round)  pending (evaluate_round)\n"
        "results/summary.csv: pending\n"
        "targets: 7 done, 4 pending, 1 failed\n"
    )


def test_unfinished_outputs_from_markers_and_run_logs(tmp_path):
    # Snakemake's own encoding of an incomplete marker (persistence/file.py: urlsafe base64 of the path)
    marker = tmp_path / ".snakemake/incomplete" / urlsafe_b64encode(b"results/m/c/seed0/round1/eval.json").decode()
    marker.parent.mkdir(parents=True)
    marker.write_text("")
    assert incomplete_outputs(tmp_path) == {"results/m/c/seed0/round1/eval.json"}
    log = tmp_path / ".snakemake/log/2026-01-01T000000.000000.snakemake.log"
    log.parent.mkdir(parents=True)
    log.write_text("Error in rule filter_corpus:\n    message: None\n    jobid: 4\n    input: a, b\n"
                   "    output: results/f.jsonl, results/s.json\n    log: x (check log file(s) for error details)\n")
    assert failed_outputs(tmp_path) == {"results/f.jsonl", "results/s.json"}
