"""``python -m benchmarks``: the benchmark harness (see ``benchmarks/harness.py`` and README.md)."""

from benchmarks.harness import main

main()
