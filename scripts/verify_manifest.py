"""Check results/manifest.json against the files: `--verify` exits 1 naming every file that differs.

    .venv/bin/python scripts/verify_manifest.py --verify            # in the workflow's working directory
    python code/scripts/verify_manifest.py --verify --archive        # in an unpacked archive
"""

import argparse
import json
import sys
from pathlib import Path

from selftrain.provenance import manifest_files, verify_manifest

ARCHIVE_INFO = "archive.json"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=".", help="directory the manifest's paths are relative to")
    ap.add_argument("--manifest", default="results/manifest.json", help="manifest path, relative to --root")
    ap.add_argument("--verify", action="store_true", help="hash every file and exit 1 on any mismatch")
    ap.add_argument("--archive", action="store_true",
                    help=f"root is an unpacked archive: files its {ARCHIVE_INFO} lists as left out may be missing")
    args = ap.parse_args(argv)
    root = Path(args.root)
    manifest = json.loads((root / args.manifest).read_text())
    files = manifest_files(manifest)
    left_out = json.loads((root / ARCHIVE_INFO).read_text())["left_out"] if args.archive else []
    print(f"{args.manifest}: {len(manifest['jobs'])} jobs, {len(files)} files, "
          f"{sum(d['bytes'] for d in files.values()):,} bytes")
    if not args.verify:
        return 0
    problems = verify_manifest(manifest, root, allow_missing=tuple(left_out))
    for problem in problems:
        print(f"MISMATCH {problem}")
    print(f"verified {len(files) - len(left_out)} files: " + (f"{len(problems)} problems" if problems else "all match"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
