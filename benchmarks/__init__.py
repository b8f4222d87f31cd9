"""Side-by-side speed and memory benchmarks: qwen3-rag vs the ways people assemble the same models.

Run ``python -m benchmarks.run --quick`` (small random-weight Qwen3 shape, a few minutes on a
laptop CPU) or ``python -m benchmarks.run --shape 0.6b`` (the real 0.6B shape, slower). The
report goes to ``docs/benchmarks.md`` with a chart beside it. Nothing here is a test: speed is
never asserted; ``tests/benchmarks/test_smoke.py`` only checks that the harness runs.
"""
