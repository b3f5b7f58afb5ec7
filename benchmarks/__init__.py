"""Benchmark glue for tunewise: adapters that let the ``bench`` harness drive tunewise studies.

Not part of the installed package; run the harness with ``PYTHONPATH`` set to the repository
root (see ``docs/benchmarks.md``).
"""
