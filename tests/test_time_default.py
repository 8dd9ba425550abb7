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
    assert rule_seconds(tmp_path) == {"evaluate": [2.5, 3.5], "plot": [1.25]}
