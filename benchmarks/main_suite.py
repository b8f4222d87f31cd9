"""The main suite: qwen3-rag against sentence-transformers, the official code and the frameworks'
adapters on the same weights, texts, dtype (float32) and CPU, one section per measurement
(``python -m benchmarks.main_suite --shape small --json OUT``; ``benchmarks.run`` runs it)."""

from __future__ import annotations

import traceback
from dataclasses import asdict

from .checkpoints import load_fast_tokenizer, suite_checkpoints
from .common import Data, Settings, SuiteRun, quiet_offline, suite_parser, unavailable
from .contenders import EMBED_BATCH, RERANK_BATCH, concurrency, embedding, reranking
from .corpus import build_corpus
from .hardware import hardware
from .host import describe_host, versions
from .memory import memory

MEASURE = {"embedding": embedding, "concurrency": concurrency, "reranking": reranking, "memory": memory,
           "hardware": hardware}  # fmt: skip
PACKAGES = ("qwen3-rag", "torch", "transformers", "tokenizers", "sentence-transformers", "qdrant-client")
SIZES = {  # documents, reranking (queries, documents per query), timed runs
    "micro": (24, ((1, 8), (2, 4)), 1),
    "quick": (64, ((1, 25), (4, 10)), 1),
    "full": (96, ((1, 50), (4, 25)), 2),
}


def main(argv: list[str] | None = None) -> int:
    parser = suite_parser("main_suite", __doc__, shape="small")
    parser.add_argument("--quick", action="store_true", help="smaller inputs, timed once")
    parser.add_argument("--documents", type=int, help="passages to embed")
    parser.add_argument("--concurrent", type=int, default=256, help="concurrent single-query requests")
    parser.add_argument("--only", nargs="+", choices=MEASURE, default=list(MEASURE), help="measurements")
    args = parser.parse_args(argv)
    quiet_offline()
    run = SuiteRun("main_suite", argv)
    shape, paths = suite_checkpoints(args.shape, args.cache_dir)
    size = "micro" if args.shape == "micro" else "quick" if args.quick else "full"
    documents, scenarios, repeat = SIZES[size]
    queries = max(64, min(args.concurrent, 256))
    corpus = build_corpus(load_fast_tokenizer(), documents=args.documents or documents, queries=queries)
    s = Settings(shape, paths, corpus, repeat, scenarios, args.concurrent)
    sections: list[Data] = []
    for name in args.only:
        run.log(f"{name} ...")
        try:
            sections += MEASURE[name](s, sections)
        except Exception as exc:  # one broken measurement must not lose the others
            traceback.print_exc()
            sections.append(unavailable(name, f"failed: {type(exc).__name__}: {exc}"))
    run.write(
        args.json, shape=asdict(shape), body_params=shape.body_params(), corpus=corpus.stats(),
        embed_batch_size=EMBED_BATCH, rerank_batch_size=RERANK_BATCH, repeat=repeat, host=describe_host(),
        versions=versions(*PACKAGES),
        sections=sections,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
