"""Side-by-side speed and memory benchmarks of qwen3-rag against the ways people assemble the same
models: ``python -m benchmarks.run`` writes each suite's JSON and renders ``docs/benchmarks.md``.
Nothing here is a test: speed is never asserted (``tests/benchmarks/`` only checks the harness runs)."""
