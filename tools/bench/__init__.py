"""The benchmark harness: `python -m tools.bench` (or `make bench`).

It generates its own realistic corpus from a seed (`corpus`, text from
`prose`), a one-million-statement search database (`searchdb`), measures each
stage against a baseline on the same input in the same run (`stages`,
`adapters`, `runs`, timed by `measure`), and writes build/bench/results.json
and a Markdown table (`report`). Absolute times are reported, never asserted;
ratios are compared with the targets set in the issues.

Nothing here is imported by the pipeline itself, and nothing it generates is
committed: everything goes under build/bench/.
"""

BENCH_VERSION = "bench-1"
