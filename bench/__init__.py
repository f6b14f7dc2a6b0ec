"""Benchmarks of the case engine: `python -m bench [--quick|--smoke] [--backend ...] [--only ...]`.

Measures actions over HTTP, the same actions on the application directly and on a plain CRUD
table, loading cases with and without snapshots, projection rebuilds and queue queries, on
SQLite and PostgreSQL; writes `bench/results.md`, `bench/results.json` and `bench/plots/*.png`.
"""
