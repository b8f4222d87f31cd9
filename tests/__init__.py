"""The core tests, one folder per source package (runtime, pipeline, cli, server, evaluation), plus
benchmarks/ and docs/ (README snippets, examples, the public API); shared helpers live in support/."""
