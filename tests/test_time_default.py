import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from time_default import rule_seconds  # noqa: E402


def test_rule_seconds_sums_snakemake_benchmark_files_per_step(tmp_path):
    header = "s\th:m:s\tmax_rss\n"
    for key, s in (("a/seed0/round1", 2.5), ("a/seed1/round1", 3.5)):
        d = tmp_path / "results/benchmarks" / key
        d.mkdir(parents=True)
        (d / "evaluate.tsv").write_text(header + f"{s}\t0:00:02\t100\n")
    (tmp_path / "results/benchmarks/plot.tsv").write_text(header + "1.25\t0:00:01\t50\n")
    # a job's log beside its benchmark: stamped lines from the step's start; the body is first to last stamp
    log = tmp_path / "results/logs/a/seed0/round1/evaluate.log"
    log.parent.mkdir(parents=True)
    log.write_text("[    1.5s] rule evaluate_round: threads=1\nlm-eval progress\n[    2.0s] backend\n[    2.25s] done\n")
    assert rule_seconds(tmp_path) == {"evaluate": [(2.5, 0.75), (3.5, None)], "plot": [(1.25, None)]}
