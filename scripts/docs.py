"""Regenerate or check the documentation's generated blocks. Usage, from the repository root:

    .venv/bin/python scripts/docs.py --write   # rewrite every block from its source
    .venv/bin/python scripts/docs.py --check   # exit 1 naming each block that differs from what its source gives now

A generated block sits between `<!-- BEGIN name (source) -->` and `<!-- END name -->` in README.md, docs/**/*.md,
config/README.md or configs/README.md; `name` picks its generator in BLOCKS below, the source in parentheses is
for the reader. A table or number a program can print is generated here, never pasted (STYLE.md rule 15).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import yaml  # noqa: E402

from selftrain.io import atomic_write_text  # noqa: E402
from selftrain.reading import verdict_table  # noqa: E402
from selftrain.verdict import read_verdict  # noqa: E402

BLOCK = re.compile(r"(<!-- BEGIN (?P<name>[a-z0-9-]+)(?: \([^)]*\))? -->\n)(?P<body>.*?)(<!-- END (?P=name) -->)", re.S)
# the paper preset's plans, as its docs page shows them (the cost plan on 64 GPUs, the README's wall time)
PAPER = "configs/paper.yaml"
PAPER_GPUS = 64


def doc_files() -> list[Path]:
    """Every Markdown file that may hold a generated block."""
    files = [ROOT / "README.md", ROOT / "config/README.md", ROOT / "configs/README.md"]
    return [f for f in files if f.exists()] + sorted((ROOT / "docs").rglob("*.md"))


def run_script(*args: str) -> str:
    """A repository script's stdout, run as the docs show it (from the root, with this interpreter)."""
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout


# --- the embedded default ---------------------------------------------------------------------------------------

def design_block() -> str:
    """config.yaml's experiment in one line: the models it trains, its conditions, seeds and rounds."""
    from selftrain.config import branches, validate_config

    config = validate_config(yaml.safe_load((ROOT / "config.yaml").read_text()))
    trained = sorted({m for m, _ in branches(config)})
    untrained = sorted(set(config["models"]) - set(trained))
    conditions = sorted(config["conditions"])
    line = (f"{len(conditions)} conditions ({', '.join(f'`{c}`' for c in conditions)}) x {len(config['seeds'])} seeds "
            f"x {config['rounds']} rounds, training model {', '.join(f'`{m}`' for m in trained)}")
    if untrained:
        line += f"; trained by no condition (a teacher or scorer): {', '.join(f'`{m}`' for m in untrained)}"
    return line + " (`config.yaml`).\n"


def my_condition_block() -> str:
    """What configs/examples/my-condition.yaml adds to the default: one branch per seed and student, round 0 shared."""
    from selftrain.config import branches, validate_config

    default = yaml.safe_load((ROOT / "config.yaml").read_text())
    config = validate_config(default)
    extra = yaml.safe_load((ROOT / "configs/examples/my-condition.yaml").read_text())
    merged = validate_config({**default, "conditions": {**default["conditions"], **extra["conditions"]}})
    added = (len(branches(merged)) - len(branches(config))) * len(config["seeds"]) * config["rounds"]
    per_round_job = make_run_time()["wall_s"] / (len(branches(config)) * len(config["seeds"]) * config["rounds"])
    return (f"{added} more rounds of generate, filter, train and evaluate ({len(config['seeds'])} seeds x "
            f"{config['rounds']} rounds): at most about {round(added * per_round_job / 60)} minutes more (`make run`'s wall "
            "time per round of a branch, its base pre-training included):\n")


# --- the recorded run of the default ---------------------------------------------------------------------------

def verdicts_block() -> str:
    return verdict_table(read_verdict(ROOT / "docs/verdict-default.csv"))


def reading_block() -> str:
    return (ROOT / "docs/reading-default.md").read_text()


def headline_block() -> str:
    """The reading's headline paragraph: the teacher's advantage at round 0, each condition's change, the recipe
    alone (the control), each condition against it, and the contrast the paper is about."""
    text = reading_block()
    start = text.index("**The headline")
    return text[start:text.index("**Exploratory", start)].strip() + "\n"


def make_run_time() -> dict:
    return json.loads((ROOT / "docs/measurements/make-run.json").read_text())


def make_run_block() -> str:
    t = make_run_time()
    return (f"about {round(t['wall_s'] / 60)} minutes on 2 cores ({t['wall_s']} s on {t['machine']}, {t['date']}; "
            f"[measurements](docs/measurements/README.md)).\n")


def reference_block() -> str:
    """docs/reference-default.json as a table: each headline number of the recorded run with its 95% half-width."""
    ref = json.loads((ROOT / "docs/reference-default.json").read_text())
    out = [f"Recorded: {ref['measured']}.", "",
           "| model | condition | round | measure | set | metric | mean over seeds | 95% half-width |",
           "| --- | --- | ---: | --- | --- | --- | ---: | ---: |"]
    for r in ref["rows"]:
        out.append(f"| {r['model']} | {r['condition']} | {r['round']} | {r['measure']} | {r['set']} | {r['metric']} "
                   f"| {r['mean']:.4g} | {r['halfwidth']:.3g} |")
    return "\n".join(out) + "\n"


def kernel_spread_block() -> str:
    """docs/kernel-spread-default.json: the largest difference between runs per headline metric, and tolerances."""
    spread = json.loads((ROOT / "docs/kernel-spread-default.json").read_text())
    out = [f"Measured: {spread['measured']}. Runs: " + "; ".join(spread["runs"]) + ".", "",
           f"| headline metric | first round | last round | interval bound | tolerance (x{spread['margin']:g}): "
           "first / last / bound |", "| --- | ---: | ---: | ---: | --- |"]
    for metric, o in sorted(spread["observed"].items()):
        t = spread["tolerances"][metric]
        out.append(f"| `{metric}` | {o['first_round']:.3g} | {o['last_round']:.3g} | {o['interval_bounds']:.3g} | "
                   f"{t['first_round']:.3g} / {t['last_round']:.3g} / {t['interval_bounds']:.3g} |")
    return "\n".join(out) + "\n"


# --- the paper preset's plans ------------------------------------------------------------------------------------

def cost_output() -> str:
    return run_script("scripts/cost_plan.py", "--configfile", PAPER, "--gpus", str(PAPER_GPUS))


def cost_block() -> str:
    """The plan's table and totals (what precedes its figures and estimates)."""
    return cost_output().split("\nfigures:\n")[0].rstrip("\n") + "\n"


def cost_estimates_block() -> str:
    """The plan's estimates as it prints them (its figures are the cost-figures block's)."""
    return "estimates:\n" + cost_output().split("\nestimates:\n")[1]


def cost_total_block() -> str:
    """One line for the README: the preset's GPU-hours and its wall time on PAPER_GPUS GPUs."""
    text = cost_output()
    hours = re.search(r"^total: ([\d,.]+) GPU-hours on (\S+)", text, re.M)
    wall = re.search(rf"^wall time on {PAPER_GPUS} GPUs: at least ([\d.]+ h)", text, re.M)
    return (f"{hours.group(1)} {hours.group(2).upper()} GPU-hours, at least {wall.group(1)} on {PAPER_GPUS} GPUs, "
            "as planned from published throughput figures, not yet measured on a GPU\n")


# subsets of the preset a budget may call for, printed with their totals
SUBSETS = (("--models", "olmo2-1b"), ("--models", "olmo2-1b", "--seeds", "1", "--axis", "filter=none,ppl_q50"),
           ("--rounds", "2", "--seeds", "1"), ("--gpu", "a100"))


def total_line(text: str) -> str:
    return re.search(r"^total: ([\d,.]+ GPU-hours on \S+)", text, re.M).group(1)


def cost_split_block() -> str:
    """The plan's GPU-hours summed by kind of job (a teacher's or scorer's jobs for others count with their kind)."""
    hours = {}
    for row in cost_output().splitlines():
        cells = [c.strip() for c in row.strip("|").split("|")]
        if len(cells) == 10 and cells[8] not in ("GPU-hours", "---:", "-"):
            kind = cells[1].split(" for ")[0]
            hours[kind] = hours.get(kind, 0.0) + float(cells[8].replace(",", ""))
    parts = [f"{kind} {h:,.1f}" for kind, h in sorted(hours.items(), key=lambda kh: -kh[1])]
    return "GPU-hours by kind of job: " + ", ".join(parts) + ".\n"


def cost_subsets_block() -> str:
    rows = ["| `scripts/cost_plan.py --configfile configs/paper.yaml` plus | total |", "| --- | --- |"]
    for args in SUBSETS:
        rows.append(f"| `{' '.join(args)}` | {total_line(run_script('scripts/cost_plan.py', '--configfile', PAPER, *args))} |")
    return "\n".join(rows) + "\n"


def figures_block() -> str:
    """The cost plan's built-in throughput figures (selftrain.cost_plan.THROUGHPUT), each with its source."""
    from selftrain.cost_plan import THROUGHPUT

    rows = ["| GPU | job | figure | source |", "| --- | --- | --- | --- |"]
    for gpu, figures in THROUGHPUT.items():
        rows.append(f"| {gpu} | peak | {figures['peak_tflops']:g} TFLOP/s dense BF16 | {cell(figures['source'])} |")
        for kind in ("train", "generate", "filter", "evaluate"):
            for f in figures[kind]:
                if "mfu" in f:
                    figure = f"MFU {f['mfu']:.3g}" + (f" ({f['parameters'] / 1e9:.2f}B parameters)" if "parameters" in f else "")
                else:
                    a = f["architecture"]
                    figure = (f"{f['tokens_per_second']:,.0f} tokens/s (hidden {a['hidden']}, {a['layers']} layers, "
                              f"context {f['context']:g})")
                rows.append(f"| {gpu} | {kind} | {figure} | {cell(f['source'])} |")
    return "\n".join(rows) + "\n"


def memory_block() -> str:
    return run_script("scripts/memory_plan.py", "--configfile", PAPER)


# --- the configuration reference ---------------------------------------------------------------------------------

SCHEMA = ROOT / "schemas/config.schema.yaml"
# the families whose members are chosen by a discriminator key; their keys get a table of their own
PLUGINS = {"prompts": "strategy", "filters": "name", "regimes": "regime"}


def resolve(schema: dict, node: dict) -> dict:
    """Follow $ref and single-element allOf wrappers, keeping the outer description and default."""
    outer = {k: v for k, v in node.items() if k in ("description", "default")}
    while True:
        if "$ref" in node:
            target = schema
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        elif list(node.get("allOf", [])) and len(node["allOf"]) == 1 and "$ref" in node["allOf"][0]:
            node = node["allOf"][0]
        else:
            return {**node, **outer}


def type_of(node: dict) -> str:
    if "enum" in node:
        return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    kinds = node.get("type", "object" if "properties" in node else "")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    words = []
    for kind in kinds:
        if kind == "array" and "items" in node:
            item = node["items"]
            words.append("list of " + (type_of(item) if "type" in item or "enum" in item else "objects"))
        elif kind == "object" and isinstance(node.get("additionalProperties"), dict):
            words.append("map of name to " + (type_of(node["additionalProperties"]) or "object"))
        else:
            words.append(kind)
    return " or ".join(w for w in words if w)


def cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ").strip()


def default_of(node: dict) -> str:
    if "default" not in node:
        return ""
    return "`" + cell(json.dumps(node["default"], separators=(", ", ": "))) + "`"


def walk(schema: dict, node: dict, path: str, seen: dict, rows: list) -> None:
    """Rows of every key under node: path, type, default, description. A shared definition is expanded the first
    time it is met; later it points at that place."""
    for ref in [node.get("$ref")] + [a.get("$ref") for a in node.get("allOf", []) if len(node["allOf"]) == 1]:
        if ref and ref in seen and seen[ref] != path:
            rows[-1][3] = rows[-1][3].rstrip(".") + ("; " if rows[-1][3] else "") + f"keys as `{seen[ref]}`"
            return
        if ref:
            seen[ref] = path
    node = resolve(schema, node)
    if "allOf" in node and any("if" in a for a in node["allOf"]):
        family = node["allOf"][0]["then"]["$ref"].split("/")[2]
        rows[-1][3] = rows[-1][3].rstrip(".") + ("; " if rows[-1][3] else "") + f"each choice's keys: *Plugins* below (`$defs.{family}`)"
    for key, child in node.get("properties", {}).items():
        child_resolved = resolve(schema, child)
        if "const" in child_resolved:
            continue
        rows.append([f"{path}.{key}" if path else key, type_of(child_resolved), default_of(child_resolved),
                     cell(child_resolved.get("description", ""))])
        walk(schema, child, rows[-1][0], seen, rows)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        walk(schema, extra, f"{path}.<name>", seen, rows)
    items = node.get("items")
    if isinstance(items, dict) and ("properties" in resolve(schema, items) or "$ref" in items):
        walk(schema, items, f"{path}[]", seen, rows)


def table(rows: list) -> str:
    out = ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    out += [f"| `{r[0]}` | {r[1]} | {r[2]} | {r[3]} |" for r in rows]
    return "\n".join(out) + "\n"


def config_block() -> str:
    schema = yaml.safe_load(SCHEMA.read_text())
    rows, seen = [], {}
    # models last, so that the shared sections are expanded at the top level, where a reader looks first
    order = sorted(schema["properties"], key=lambda k: k == "models")
    for key in order:
        child = schema["properties"][key]
        resolved = resolve(schema, child)
        rows.append([key, type_of(resolved), default_of(resolved), cell(resolved.get("description", ""))])
        walk(schema, child, key, seen, rows)
    return table(rows)


def plugins_block() -> str:
    schema = yaml.safe_load(SCHEMA.read_text())
    out = []
    for family, key in PLUGINS.items():
        out += [f"**`$defs.{family}`** (chosen by `{key}`)", ""]
        rows = []
        for name, spec in schema["$defs"][family].items():
            before = len(rows)
            rows.append([f"{key}: {name}", "", "", ""])
            walk(schema, spec, "", {}, rows)
            if len(rows) == before + 1:
                rows[-1][3] = "no keys of its own"
            else:
                rows.pop(before)
                for r in rows[before:]:
                    r[0] = f"{name}.{r[0]}"
        out.append(table(rows))
    return "\n".join(out)


# --- the outputs tree --------------------------------------------------------------------------------------------

def outputs_block() -> str:
    """Every target path constant of rules/common.smk (one place spells each path: STYLE.md rule 2), sorted."""
    text = (ROOT / "rules/common.smk").read_text()
    paths = re.findall(r'^([A-Z_]+) = \(?\s*"(results/[^"]+)"', text, re.M)
    width = max(len(p) for _, p in paths)
    lines = [f"{p:<{width}}  # {name}" for name, p in sorted(paths, key=lambda np: np[1])]
    return "```\n" + "\n".join(lines) + "\n```\n"


BLOCKS = {
    "default-design": design_block,
    "my-condition-cost": my_condition_block,
    "verdict-table": verdicts_block,
    "reading": reading_block,
    "headline": headline_block,
    "make-run-time": make_run_block,
    "reference-numbers": reference_block,
    "kernel-spread": kernel_spread_block,
    "cost-paper": cost_block,
    "cost-paper-estimates": cost_estimates_block,
    "cost-total": cost_total_block,
    "cost-paper-split": cost_split_block,
    "cost-paper-subsets": cost_subsets_block,
    "memory-paper": memory_block,
    "cost-figures": figures_block,
    "config-reference": config_block,
    "config-plugins": plugins_block,
    "outputs-tree": outputs_block,
}


def blocks(text: str):
    """(name, body) of every generated block of a page."""
    return [(m.group("name"), m.group("body")) for m in BLOCK.finditer(text)]


def render(text: str, cache: dict) -> str:
    """The page with every block replaced by what its generator gives now; an unknown name is an error."""
    def body(m):
        name = m.group("name")
        if name not in BLOCKS:
            raise SystemExit(f"unknown generated block {name!r}; known: {', '.join(BLOCKS)}")
        if name not in cache:
            cache[name] = BLOCKS[name]()
        return m.group(1) + cache[name] + m.group(4)
    return BLOCK.sub(body, text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite every generated block")
    mode.add_argument("--check", action="store_true", help="exit 1 naming each block that is not current")
    args = parser.parse_args(argv)
    cache, stale = {}, []
    for page in doc_files():
        text = page.read_text()
        new = render(text, cache)
        if new == text:
            continue
        if args.write:
            atomic_write_text(page, new)
        stale += [f"{page.relative_to(ROOT)}: block {name}" for (name, old), (_, cur) in zip(blocks(text), blocks(new))
                  if old != cur]
    for line in stale:
        print(("rewrote " if args.write else "not current: ") + line)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
