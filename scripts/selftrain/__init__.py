"""selftrain: the importable code behind the recursive self-training workflow's steps."""

__version__ = "0.1.0"
