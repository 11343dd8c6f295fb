"""NER time of an ensemble vs one model, same process (default: the six-type ensemble vs the
default model, its first member).

Usage:
    python benchmarks/ner_ensemble.py [--ensemble DIR] [--single DIR] [--repeat 3] [--device cpu]
        [--dtype auto]

Both tag the bundled PubMed sample (177 citations split by litmine's splitter) through
`Tagger.tag`, as `litmine mine` does; runs are interleaved `--repeat` times and the medians are
printed with the ensemble's time as a multiple of the single model's, and how many mentions
the two find.
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

from litmine.settings import DEFAULT_NER_MODEL, SIX_ENSEMBLE
from litmine.tasks.ner.engine import load_tagger

sys.path.insert(0, str(Path(__file__).parent))
from machine import choose_benchmark_dtype, print_machine
from ner_throughput import sample_documents


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ensemble", default=str(SIX_ENSEMBLE))
    parser.add_argument("--single", default=str(DEFAULT_NER_MODEL))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="auto", help="auto (as `litmine mine`), fp32, bf16")
    args = parser.parse_args(argv)

    choice = choose_benchmark_dtype(args.dtype, args.device)
    print_machine(choice)
    articles, sentences = sample_documents()
    taggers = {"single": load_tagger(args.single, device=args.device, dtype=choice.name),
               "ensemble": load_tagger(args.ensemble, device=args.device, dtype=choice.name)}
    for tagger in taggers.values():  # warm-up
        tagger.tag(sentences[:32])
    times: dict[str, list[float]] = {name: [] for name in taggers}
    found: dict[str, int] = {}
    for _ in range(args.repeat):
        for name, tagger in taggers.items():
            started = time.perf_counter()
            found[name] = len(tagger.tag(sentences))
            times[name].append(time.perf_counter() - started)
    single = statistics.median(times["single"])
    print(f"{len(articles)} articles, {len(sentences)} sentences, device {args.device}, "
          f"median of {args.repeat}")
    for name, ts in times.items():
        median = statistics.median(ts)
        print(f"{name:9s} {median:7.2f} s  {len(sentences) / median:7.1f} sentences/s  "
              f"{found[name]:5d} mentions  {median / single:5.2f}x the single model's time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
