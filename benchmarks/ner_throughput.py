"""NER throughput: transformers' token-classification pipeline vs litmine's engine, same process.

Usage:
    python benchmarks/ner_throughput.py [--model DIR] [--pubtator FILE] [--limit N] [--device cpu]

Both read the same sentences (the bundled PubMed sample split by litmine's splitter, or the
documents of a PubTator file) with the same model (default: the shipped one), and we print
sentences/s and tokens/s for each, their ratio, and how many entity spans agree.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from litmine.settings import DATA_DIR, get_settings  # noqa: E402
from litmine.tasks.labels import canonical_type  # noqa: E402
from litmine.tasks.ner import load_tagger, resolve_device  # noqa: E402
from litmine.tasks.sentences import split_article  # noqa: E402
from litmine.tasks.sources import iter_file_items  # noqa: E402
from litmine.tasks.records import Article  # noqa: E402

SAMPLE = DATA_DIR / "sample" / "pubmedsample18n0001.xml.gz"


def load_sentences(path: Path, limit: int | None) -> list[str]:
    """Sentence texts of the documents in a PubMed XML or PubTator file."""
    sentences: list[str] = []
    for item in iter_file_items(path):
        if isinstance(item, Article):
            sentences.extend(s.text for s in split_article(item))
        if limit and len(sentences) >= limit:
            return sentences[:limit]
    return sentences


def run_pipeline(model: str, sentences: list[str], device: str, batch_size: int = 32):
    """What a researcher writes by hand: transformers.pipeline with simple aggregation."""
    from transformers import pipeline

    index = 0 if resolve_device(device).type == "cuda" else -1
    ner = pipeline("token-classification", model=model, aggregation_strategy="simple",
                   batch_size=batch_size, device=index)
    ner(sentences[:8])  # warm-up
    started = time.perf_counter()
    results = ner(sentences)
    seconds = time.perf_counter() - started
    spans = []
    for i, entities in enumerate(results):
        for e in entities:
            kind = canonical_type(e["entity_group"])
            if kind is None:
                continue
            spans.append((i, int(e["start"]), int(e["end"]), kind))
    return seconds, spans


def run_engine(model: str, sentences: list[str], device: str, max_batch_tokens: int):
    """litmine's engine: length-sorted, token-budget batches, windows instead of truncation."""
    tagger = load_tagger(model, device=device)
    tagger.tag_texts(sentences[:8])  # warm-up
    started = time.perf_counter()
    results = tagger.tag_texts(sentences, max_batch_tokens=max_batch_tokens)
    seconds = time.perf_counter() - started
    spans = [(i, s, e, t) for i, ents in enumerate(results) for s, e, t, _ in ents]
    return seconds, spans


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=get_settings().model)
    parser.add_argument("--pubtator", type=Path, help="PubTator file to read sentences from")
    parser.add_argument("--limit", type=int, default=None, help="Use at most N sentences")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--max-batch-tokens", type=int, default=8192)
    args = parser.parse_args(argv)

    sentences = load_sentences(args.pubtator or SAMPLE, args.limit)
    tokenizer = load_tagger(args.model, device=args.device).tokenizer
    n_tokens = sum(len(ids) for ids in tokenizer(sentences, add_special_tokens=True)["input_ids"])
    print(f"model: {args.model}\ndevice: {resolve_device(args.device)}\n"
          f"sentences: {len(sentences)}  tokens: {n_tokens}")

    pipe_s, pipe_spans = run_pipeline(args.model, sentences, args.device)
    eng_s, eng_spans = run_engine(args.model, sentences, args.device, args.max_batch_tokens)
    for name, seconds in (("pipeline", pipe_s), ("litmine", eng_s)):
        print(f"{name:9s} {seconds:8.2f} s  {len(sentences) / seconds:9.1f} sentences/s  "
              f"{n_tokens / seconds:10.0f} tokens/s")
    print(f"speed-up: {pipe_s / eng_s:.2f}x")

    a, b = set(pipe_spans), set(eng_spans)
    print(f"entities: pipeline {len(a)}, litmine {len(b)}, identical {len(a & b)} "
          f"({100 * len(a & b) / max(1, len(a | b)):.1f}% of the union)")
    explain(a - b, b - a, sentences)
    return 0


def explain(only_pipe: set, only_engine: set, sentences: list[str]) -> None:
    """Classify each disagreement (see the README's Performance section for the reasons)."""
    kinds: Counter = Counter()
    for i, s, e, t in only_pipe:
        overlapping = [x for x in only_engine if x[0] == i and x[1] < e and s < x[2]]
        if overlapping:
            kinds["boundary differs (pipeline cuts inside a word / merges differently)"] += 1
        else:
            kinds["only the pipeline found it"] += 1
    for i, s, e, t in only_engine:
        if not any(x[0] == i and x[1] < e and s < x[2] for x in only_pipe):
            kinds["only litmine found it (e.g. past the pipeline's truncation)"] += 1
    for kind, n in kinds.most_common():
        print(f"  {n:5d}  {kind}")


if __name__ == "__main__":
    sys.exit(main())
