# The network audit's positive control: one Slurm job opens a TCP connection to a listener the test runs on
# loopback. With the audit hook loaded (tests/slurm/hub_cache.network_audit) the connection is refused and
# logged; without it, it would succeed and the job would write "connected".


rule all:
    input:
        "connect.txt",


rule connect:
    output:
        "connect.txt",
    log:
        "logs/connect.log",
    threads: 1
    resources:
        mem_mb=100,
        runtime=2,
    params:
        port=config["port"],
    script:
        "connect.py"
