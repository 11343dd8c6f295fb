"""All of PubMed on one machine, projected from `make bench-gpu`'s figures (issue 18, item 5).

Usage:
    python benchmarks/pubmed_projection.py DIR

DIR holds the JSON files `make bench-gpu` writes: `e2e.json` (benchmarks/e2e.py, two sizes of
`mine`) and `ner-*.json` (benchmarks/ner_throughput.py, one per dtype). Two projections:
- end to end: the marginal seconds per abstract between e2e's two sizes (so that start-up, paid
  once, is left out) times PubMed's abstracts;
- NER alone: PubMed's sentences over the engine's sentences/s in each dtype.
Both assume PubMed abstracts as long as the benchmark's (the bundled sample's) and one process
on the machine the figures came from (a GPU per process: `--device cuda`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

#: PubMed's size as the README quotes it: citations with an abstract, and sentences.
PUBMED_ABSTRACTS = 36_000_000
PUBMED_SENTENCES = 300_000_000


def _abstracts(run: dict) -> int:
    """The citations of an e2e run that have an abstract (all of the file's, for older JSON)."""
    return run.get("articles_with_abstract", run["abstracts_in_file"])


def marginal_seconds_per_abstract(results: list[dict]) -> float:
    """Seconds per extra abstract between the smallest and the largest e2e run."""
    small, large = min(results, key=_abstracts), max(results, key=_abstracts)
    extra = _abstracts(large) - _abstracts(small)
    if extra <= 0:
        raise ValueError("e2e.json needs two runs of different sizes (benchmarks/e2e.py --scale > 1)")
    return max(large["flow"]["wall"] - small["flow"]["wall"], 0.0) / extra


def project(e2e: dict | None, ner: dict[str, dict]) -> list[str]:
    """Lines of the projection: end to end from `e2e` (e2e.json's content), NER alone per dtype
    from `ner` (dtype name -> ner_throughput's JSON)."""
    lines = []
    if e2e:
        per = marginal_seconds_per_abstract(e2e["results"])
        machine = e2e.get("machine", {})
        lines.append(f"end to end ({e2e.get('device')}, {machine.get('dtype', '?')}): "
                     f"{per * 1000:.2f} ms per abstract ({1 / per if per else float('inf'):.1f} "
                     f"abstracts/s) -> all of PubMed ({PUBMED_ABSTRACTS:,} abstracts) in "
                     f"{per * PUBMED_ABSTRACTS / 3600:.1f} hours")
    for dtype, figures in sorted(ner.items()):
        rate = figures["figures"]["engine"]["sentences_per_s"]
        lines.append(f"NER alone ({figures.get('device')}, {dtype}): {rate:,.0f} sentences/s -> "
                     f"{PUBMED_SENTENCES:,} sentences in {PUBMED_SENTENCES / rate / 3600:.1f} hours")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not Path(args[0]).is_dir():
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    folder = Path(args[0])
    e2e_path = folder / "e2e.json"
    e2e = json.loads(e2e_path.read_text(encoding="utf-8")) if e2e_path.is_file() else None
    ner = {p.stem.removeprefix("ner-"): json.loads(p.read_text(encoding="utf-8"))
           for p in sorted(folder.glob("ner-*.json"))}
    if e2e is None and not ner:
        print(f"{folder}: no e2e.json or ner-*.json; run `make bench-gpu` first", file=sys.stderr)
        return 1
    print("\n".join(project(e2e, ner)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
