import tarfile

from selftrain.archive import code_files, pip_freeze, write_archive


def test_archive_bytes_depend_only_on_contents(tmp_path):
    (tmp_path / "f.txt").write_text("hello")
    entries = {"results/f.txt": tmp_path / "f.txt", "config.yaml": b"seed: 1\n"}
    write_archive(tmp_path / "a.tar.gz", "run", entries)
    (tmp_path / "f.txt").touch()  # a new mtime changes nothing
    write_archive(tmp_path / "b.tar.gz", "run", dict(reversed(entries.items())))
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        assert tar.getnames() == ["run/config.yaml", "run/results/f.txt"]
        assert tar.extractfile("run/results/f.txt").read() == b"hello"


def test_environment_and_code_lists():
    freeze = pip_freeze().splitlines()
    names = [line.split("==")[0] for line in freeze]
    assert "torch" in names and "snakemake" in names and names == sorted(names)
    code = code_files()
    assert {"code/Snakefile", "code/rules/common.smk", "code/scripts/reproduce_archive.py"} <= set(code)
    assert not any("/results/" in name or name.startswith("code/.venv") for name in code)
