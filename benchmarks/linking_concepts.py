"""Concept P/R/F1 of the lexicon linker on a corpus' gold mentions (no NER), per type.

    .venv/bin/python benchmarks/linking_concepts.py GOLD.PubTator LEXICON.tsv.gz [TYPE ...]
        [--dense ENCODER] [--thresholds 0.75,0.8,0.85]

Gold mentions (types mapped by DEFAULT_TYPE_MAP) are linked document by document with
`normalise_document` (abbreviations and the document's organisms included) and scored with
`score_concepts`: the set of (PMID, type, ID) per document. Default types: Chemical Disease.
Without `--dense` the linker has no dense level; with it, the level (an encoder: `all-MiniLM-L6-v2`,
a directory or a hub ID; its names cached in `Settings.cache_dir`) is scored at each threshold.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace

from litmine.settings import get_settings
from litmine.tasks.digests import sha256_file
from litmine.tasks.linking.concept_scores import score_concepts
from litmine.tasks.linking.dense import DENSE_THRESHOLD, DenseLevel
from litmine.tasks.linking.lexicon import Lexicon
from litmine.tasks.linking.normalise import Linker, normalise_document
from litmine.tasks.records import Mention
from litmine.tasks.sources.pubtator import build_type_map, iter_pubtator, map_type
from litmine.tasks.text.abbreviations import find_abbreviations


@dataclass
class GoldDocument:
    pmid: str
    mentions: list


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gold")
    parser.add_argument("lexicon")
    parser.add_argument("types", nargs="*", default=["Chemical", "Disease"])
    parser.add_argument("--dense", default=None, help="the dense level's encoder (default: none)")
    parser.add_argument("--dense-types", default="Disease")
    parser.add_argument("--thresholds", default=str(DENSE_THRESHOLD))
    args = parser.parse_args()
    types = tuple(args.types)
    type_map = build_type_map()
    linker = Linker(Lexicon.load(args.lexicon))
    docs = []
    for doc in iter_pubtator(args.gold):
        mentions = [Mention(doc.pmid, m.start, m.end, m.text, map_type(m.type, type_map),
                            concept_id=m.concept_id.strip())
                    for m in doc.mentions]
        docs.append((doc, GoldDocument(doc.pmid, mentions)))
    thresholds = [float(t) for t in args.thresholds.split(",")] if args.dense else [None]
    for threshold in thresholds:
        if threshold is not None:
            linker.attach_dense(DenseLevel(args.dense, threshold=threshold,
                                           types=args.dense_types.split(","),
                                           cache_dir=get_settings().cache_dir,
                                           cache_key=sha256_file(args.lexicon)))
            print(f"dense level {args.dense}, threshold {threshold}")
        predicted = []
        for doc, gold in docs:
            blank = [replace(m, concept_id="") for m in gold.mentions]
            abbreviations = find_abbreviations(doc.text, doc.pmid)
            linked, _ = normalise_document(doc.text, blank, linker, abbreviations)
            predicted.extend(linked)
        scores = score_concepts([gold for _, gold in docs], predicted, types=types)
        for t in types:
            s = scores.per_type[t]
            print(f"{t:10s} P {100 * (s.precision or 0):6.2f}  R {100 * (s.recall or 0):6.2f}  "
                  f"F1 {100 * (s.f1 or 0):6.2f}  (gold {s.n_gold}, predicted {s.n_predicted})")
        m = scores.micro
        print(f"{'micro':10s} P {100 * (m.precision or 0):6.2f}  R {100 * (m.recall or 0):6.2f}"
              f"  F1 {100 * (m.f1 or 0):6.2f}")


if __name__ == "__main__":
    main()
