"""In an unpacked archive: verify the manifest, re-create summary.csv and the figure from the archived
eval JSONs into reproduced/ (with verdict.csv), and compare them with the archived ones; exits 1 on any difference.

    cd <name> && python code/scripts/reproduce_archive.py     # needs pyyaml, matplotlib and scipy
"""

import argparse
import importlib.metadata
import json
import sys
from pathlib import Path

from selftrain.provenance import verify_manifest
from selftrain.report import load_eval, plot_collapse, read_summary, summary_rows, write_csv, write_summary
from selftrain.verdict import CONTRAST_COLUMNS, VERDICT_COLUMNS, answer, read_verdict


def job(manifest: dict, rule: str) -> dict:
    return next(r for r in manifest["jobs"] if r["rule"] == rule)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=".", help="the unpacked archive")
    root = Path(ap.parse_args(argv).root)
    manifest = json.loads((root / "results/manifest.json").read_text())
    left_out = json.loads((root / "archive.json").read_text())["left_out"]
    problems = verify_manifest(manifest, root, allow_missing=tuple(left_out))
    # the aggregate and plot jobs run again from their records: same inputs, same parameters
    agg, plot = job(manifest, "aggregate"), job(manifest, "plot")
    inputs, p = agg["input"]["named"], agg["params"]
    base = {m: load_eval(root / f) for m, f in zip(p["models"], inputs["base"])}
    rows = summary_rows(base, [load_eval(root / f) for f in inputs["rounds"]], [tuple(b) for b in p["branches"]],
                        p["seeds"])
    out = root / "reproduced"
    write_summary(out / "summary.csv", rows)
    summary = agg["output"]["named"]["summary"]
    if (out / "summary.csv").read_bytes() != (root / summary).read_bytes():
        problems.append(f"{summary}: re-created from the eval JSONs, it differs (reproduced/summary.csv)")
    # the figure carries the verdicts and contrasts: re-computed from the same rows and parameters, and read back as
    # the plot job does
    verdicts, contrasts = answer(rows, base, p["generators"], p["max_flip_probability"])
    write_csv(out / "verdict.csv", VERDICT_COLUMNS, verdicts)
    write_csv(out / "contrasts.csv", CONTRAST_COLUMNS, contrasts)
    for name in ("verdict", "contrasts"):
        path = agg["output"]["named"][name]
        if (out / f"{name}.csv").read_bytes() != (root / path).read_bytes():
            problems.append(f"{path}: re-created from the eval JSONs, it differs (reproduced/{name}.csv)")
    pdf, png = plot["output"]["named"]["pdf"], plot["output"]["named"]["png"]
    plot_collapse(read_summary(out / "summary.csv"), out / Path(pdf).name, out / Path(png).name,
                  read_verdict(out / "verdict.csv"), read_verdict(out / "contrasts.csv"))
    same_pdf = (out / Path(pdf).name).read_bytes() == (root / pdf).read_bytes()
    recorded = plot["packages"]["matplotlib"]
    if not same_pdf and recorded == importlib.metadata.version("matplotlib"):
        problems.append(f"{pdf}: re-drawn with the same matplotlib {recorded}, it differs")
    for problem in problems:
        print(f"MISMATCH {problem}")
    print(f"reproduced/: summary.csv and {Path(pdf).name} re-created from {len(inputs['rounds']) + len(base)} eval "
          f"JSONs; figure {'byte-identical' if same_pdf else 'redrawn (matplotlib ' + recorded + ' recorded)'}; "
          + (f"{len(problems)} problems" if problems else "manifest verified, all match"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
