"""Check config files before a run: `python scripts/check_config.py config.yaml [configs/preset.yaml ...]`.

Snakemake parses --configfile files itself before the Snakefile runs, so a YAML syntax error or a non-UTF-8
byte there gets its generic message; this reads each file strictly (file, line and column; duplicate keys),
merges them in order the way Snakemake does (later files override key by key), validates the result and
prints one line per problem naming the file that sets the key. Exit status 1 on any problem."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from selftrain.config import check_paths, deep_merge, locate, read_config_files, validate_config  # noqa: E402
from selftrain.io import InputError  # noqa: E402


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    sources = []
    try:
        sources = read_config_files(paths)
        config = {}
        for _, data in sources:
            config = deep_merge(config, data)
        validate_config(config)
        check_paths(config)
    except InputError as e:
        print(locate(e, sources), file=sys.stderr)
        return 1
    print(f"{', '.join(paths)}: valid ({len(config['models'])} models, {len(config['conditions'])} conditions)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
