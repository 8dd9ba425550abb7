"""Step of tests/slurm/network.smk: try to connect to the test's loopback listener and write what happened."""

import socket

try:
    socket.create_connection(("127.0.0.1", snakemake.params.port), timeout=10).close()
    result = "connected"
except OSError as e:  # ConnectionRefusedError from the audit hook, or any socket error
    result = f"{type(e).__name__}: {e}"
with open(snakemake.output[0], "w") as f:
    f.write(result + "\n")
