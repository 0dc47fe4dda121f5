"""`make bench`: every performance figure of the project in one run, each against an in-run baseline.

`python -m bench` writes out/bench.json and prints the table; see README.md § Benchmarks.
"""
