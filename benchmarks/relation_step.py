"""Where the relation step of `litmine mine` spends its time, and what its dtype and workers save.

Usage:
    python benchmarks/relation_step.py [--repeat 3] [--device cpu]

The bundled PubMed sample (177 citations) is tagged once with the default NER model (in the
dtype `mine` picks); then `relate_articles` with the shipped linker, stacked CID model and
BioRED typed model, as `mine` runs it per batch, is timed in four ways, interleaved, `--repeat`
times: encoders in fp32 or in `mine`'s relation dtype (bf16 on a CPU with AMX or AVX512-BF16),
documents one at a time on torch's intra-op threads (`workers=1`, the previous behaviour) or on
one single-threaded worker per core (the default). Printed: median wall and CPU seconds and
whether the decisions equal fp32's. Then one profiled pass (one worker on one torch thread, so
cProfile sees all of it) splits the step into linking, abbreviations, candidates and the linear
member, tokenising, the CID encoder and the typed encoder (and the sentence encoder of a pair
typer that reads evidence, `litmine.tasks.relations.evidence`). The linker and its fuzzy indexes
and both models are loaded before timing (`mine` loads them once per process, in the
background; benchmarks/mine_runs.py times that).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from litmine.settings import DEFAULT_LEXICON, get_settings
from litmine.tasks.cpu_workers import DEFAULT_CPU_WORKERS, single_threaded_ops
from litmine.tasks.linking.normalise import load_linker
from litmine.tasks.loading import relation_dtype
from litmine.tasks.ner.engine import load_tagger
from litmine.tasks.relations.registry import load_relation_model, load_typed_model
from litmine.tasks.relations.relate import relate_articles
from litmine.tasks.relations.shared import states_layer_of

sys.path.insert(0, str(Path(__file__).parent))
from machine import choose_benchmark_dtype, print_machine
from ner_throughput import sample_documents


def decisions(batch) -> tuple:
    """What a run stores as decisions: CID pairs and typed relations with type and novelty."""
    return (sorted((c.pmid, c.chemical_id, c.disease_id) for c in batch.relations),
            sorted((r.pmid, r.id1, r.id2, r.relation, r.novel) for r in batch.typed_relations))


def profile_parts(run) -> dict[str, float]:
    """Seconds per part of one profiled `run()` (cumulative times, each counted once)."""
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.runcall(run)
    total = time.perf_counter() - started
    stats = pstats.Stats(profiler).stats

    def seconds(module: str, name: str, caller: str | None = None) -> float:
        """Cumulative seconds of `module.name` (only its calls from function `caller`)."""
        out = 0.0
        for (file, _, fn), (_, _, _, ct, callers) in stats.items():
            if fn == name and Path(file).stem == module:
                out += ct if caller is None else sum(c[3] for (_, _, cn), c in callers.items()
                                                     if cn == caller)
        return out

    parts = {
        "linking": seconds("normalise", "link_many", "relate_articles")
        + seconds("normalise", "normalise_document"),
        "abbreviations": seconds("abbreviations", "find_and_apply_abbreviations"),
        "candidates + linear member": seconds("candidates", "build_candidates")
        + seconds("linear", "features") + seconds("linear", "score"),
        "tokenise + markers": seconds("document", "encode_document"),
        "CID encoder + head": seconds("document", "score_document")
        - seconds("document", "encode_document", "score_document"),
        "typed encoder + head": seconds("typed", "probabilities")
        - seconds("document", "encode_document", "probabilities"),
        # shared models: heads over the NER pass's states (no encoder, no tokenising)
        "CID head on NER states": seconds("shared", "score_document"),
        "typed head on NER states": seconds("shared", "predict_document")
        - seconds("evidence", "evidence_features"),
        # a pair typer that reads evidence: its sentence encoder's pass over the kept pairs
        "typer's evidence encoder": seconds("evidence", "evidence_features"),
    }
    parts["rest (loops, records)"] = total - sum(parts.values())
    return {"total": total, **parts}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    choice = choose_benchmark_dtype("auto", args.device)
    print_machine(choice)
    fast = relation_dtype(choice).name
    articles, sentences = sample_documents()
    settings = get_settings()
    tagger = load_tagger(str(settings.model), device=args.device, dtype=choice.name)
    # As `mine` runs it: the NER pass keeps the token states that shared relation models read.
    layer = states_layer_of(settings.relation_model, settings.typed_relation_model)
    tagged = tagger.tag_documents(sentences, states_layer=layer)
    mentions, states = tagged.mentions, tagged.states
    linker = load_linker(DEFAULT_LEXICON)
    models = {d: (load_relation_model(settings.relation_model, device=args.device, dtype=d),
                  load_typed_model(settings.typed_relation_model, device=args.device, dtype=d))
              for d in dict.fromkeys(("fp32", fast))}

    def run(dtype: str, workers: int):
        cid, typed = models[dtype]
        return relate_articles(articles, sentences, mentions, linker=linker, relation_model=cid,
                               typed_model=typed, workers=workers, states=states)

    run(fast, DEFAULT_CPU_WORKERS)  # warm-up: linker cache, first passes
    configs = [(d, w) for d in dict.fromkeys(("fp32", fast)) for w in (1, DEFAULT_CPU_WORKERS)]
    times: dict[tuple, list[tuple[float, float]]] = {c: [] for c in configs}
    found: dict[tuple, tuple] = {}
    for _ in range(args.repeat):
        for config in configs:
            wall, cpu = time.perf_counter(), time.process_time()
            found[config] = decisions(run(*config))
            times[config].append((time.perf_counter() - wall, time.process_time() - cpu))
    print(f"{len(articles)} articles, {len(sentences)} sentences, {len(mentions)} mentions; "
          f"median of {args.repeat}, load average {os.getloadavg()[0]:.1f}")
    reference = found[("fp32", 1)]
    for (dtype, workers), ts in times.items():
        mine = found[(dtype, workers)]
        same = ("same decisions as fp32" if mine == reference else
                "decisions differ from fp32's: "
                f"{len(set(mine[0]) ^ set(reference[0]))} CID pairs, "
                f"{len(set(mine[1]) ^ set(reference[1]))} typed relations in one but not both")
        print(f"  {dtype} workers={workers}: wall {statistics.median(t[0] for t in ts):6.2f} s, "
              f"CPU {statistics.median(t[1] for t in ts):6.2f} s; "
              f"{len(reference[0])} CID pairs, {len(reference[1])} typed relations: {same}")
    for dtype in dict.fromkeys(("fp32", fast)):
        with single_threaded_ops():
            parts = profile_parts(lambda: run(dtype, 1))
        print(f"profile, {dtype}, one worker on one torch thread (cProfile, seconds): "
              + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
