"""Concept P/R/F1 of the lexicon linker on a corpus' gold mentions (no NER), per type.

    .venv/bin/python benchmarks/linking_concepts.py GOLD.PubTator LEXICON.tsv.gz [TYPE ...]

Gold mentions (types mapped by DEFAULT_TYPE_MAP) are linked document by document with
`normalise_document` (abbreviations and the document's organisms included) and scored with
`score_concepts`: the set of (PMID, type, ID) per document. Default types: Chemical Disease.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace

from litmine.tasks.linking.lexicon import Lexicon
from litmine.tasks.linking.normalise import Linker, normalise_document, score_concepts
from litmine.tasks.records import Mention
from litmine.tasks.sources.pubtator import build_type_map, iter_pubtator, map_type
from litmine.tasks.text.abbreviations import find_abbreviations


@dataclass
class GoldDocument:
    pmid: str
    mentions: list


def main(gold: str, lexicon: str, *types: str) -> None:
    types = types or ("Chemical", "Disease")
    type_map = build_type_map()
    linker = Linker(Lexicon.load(lexicon))
    docs, predicted = [], []
    for doc in iter_pubtator(gold):
        mentions = [Mention(doc.pmid, m.start, m.end, m.text, map_type(m.type, type_map),
                            concept_id=m.concept_id.strip())
                    for m in doc.mentions]
        docs.append(GoldDocument(doc.pmid, mentions))
        blank = [replace(m, concept_id="") for m in mentions]
        abbreviations = find_abbreviations(doc.text, doc.pmid)
        linked, _ = normalise_document(doc.text, blank, linker, abbreviations)
        predicted.extend(linked)
    scores = score_concepts(docs, predicted, types=types)
    for t in types:
        s = scores.per_type[t]
        print(f"{t:10s} P {100 * (s.precision or 0):6.2f}  R {100 * (s.recall or 0):6.2f}  F1 {100 * (s.f1 or 0):6.2f}"
              f"  (gold {s.n_gold}, predicted {s.n_predicted})")
    m = scores.micro
    print(f"{'micro':10s} P {100 * (m.precision or 0):6.2f}  R {100 * (m.recall or 0):6.2f}"
          f"  F1 {100 * (m.f1 or 0):6.2f}")


if __name__ == "__main__":
    main(*sys.argv[1:])
