"""Relation-step time of the shipped stacked CID model vs its linear member, same process.

Usage:
    python benchmarks/relations.py [--model DIR] [--repeat 3] [--device cpu] [--dtype auto]

The bundled PubMed sample (177 citations) is tagged once with the default NER model; then
`relate_articles` (abbreviations, MeSH linking, candidates, CID scoring), as `litmine mine` runs
it per batch, is timed with the linear member alone (`DIR/linear`) and with the stacked model
(`DIR`: linear + document encoder), interleaved `--repeat` times. Medians are printed with the
stacked model's time as a multiple of the linear one's and as a share of the NER time of the
same sample (the default NER model, timed once after a warm-up). The linker's fuzzy index is built before timing (once per process in `mine`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from litmine.settings import DEFAULT_LEXICON, DEFAULT_NER_MODEL, DEFAULT_RELATION_MODEL
from litmine.tasks.linking.normalise import load_linker
from litmine.tasks.loading import relation_dtype
from litmine.tasks.ner.engine import load_tagger
from litmine.tasks.relations.registry import load_relation_model
from litmine.tasks.relations.relate import relate_articles

sys.path.insert(0, str(Path(__file__).parent))
from machine import choose_benchmark_dtype, print_machine
from ner_throughput import sample_documents


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_RELATION_MODEL))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="auto",
                        help="NER dtype; the encoder of the stacked model follows it as in mine")
    args = parser.parse_args(argv)
    choice = choose_benchmark_dtype(args.dtype, args.device)
    print_machine(choice)
    dtype = relation_dtype(choice).name

    articles, sentences = sample_documents()
    tagger = load_tagger(str(DEFAULT_NER_MODEL), device=args.device, dtype=choice.name)
    tagger.tag(sentences[:32])  # warm-up
    started = time.perf_counter()
    mentions = tagger.tag(sentences)
    ner_seconds = time.perf_counter() - started
    linker = load_linker(DEFAULT_LEXICON)
    models = {"linear": load_relation_model(Path(args.model) / "linear", device=args.device),
              "stacked": load_relation_model(args.model, device=args.device, dtype=dtype)}
    for model in models.values():  # warm-up: fuzzy index, first encoder pass
        relate_articles(articles[:5], sentences, mentions, linker=linker, relation_model=model)
    times: dict[str, list[float]] = {name: [] for name in models}
    found: dict[str, tuple[int, int]] = {}
    for _ in range(args.repeat):
        for name, model in models.items():
            started = time.perf_counter()
            batch = relate_articles(articles, sentences, mentions, linker=linker,
                                    relation_model=model)
            times[name].append(time.perf_counter() - started)
            found[name] = (len(batch.candidates), len(batch.relations))
    linear = statistics.median(times["linear"])
    print(f"{len(articles)} articles, {len(sentences)} sentences, {len(mentions)} mentions, "
          f"device {args.device}, median of {args.repeat}; NER (default model) took "
          f"{ner_seconds:.2f} s")
    for name, ts in times.items():
        median = statistics.median(ts)
        candidates, relations = found[name]
        print(f"{name:8s} {median:7.2f} s  {len(articles) / median:7.1f} articles/s  "
              f"{candidates:5d} candidates  {relations:4d} CID  "
              f"{median / linear:7.2f}x the linear model's time  "
              f"{100 * median / ner_seconds:5.1f}% of the NER time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
