"""Which organism a gene is of: the organism of its own sentence first, against the document's
alone, and with the hosts of xenografts ("nude mice") counted as the genes' organism, on a
BioRED-format file's gold mentions (their IDs removed and linked again, as `litmine evaluate
--relations` does in its "gold entities" setting).

For each way it prints Gene concept F1 (per document, BioCreative style) and how many gene
slots of the gold relations (a relation has two concepts; each gene among them is a slot) end
with the right ID, since a relation counts only when both of its IDs are right.

Usage:
    python benchmarks/gene_species.py ../shared/data/corpora/biored/Train.PubTator \\
        [--exclude-pmids ../shared/data/corpora/HOLDOUT_PMIDS.txt] [--lexicon LEXICON]
"""
import argparse
import re
from dataclasses import replace

from litmine.settings import DEFAULT_LEXICON
from litmine.tasks.linking import organisms
from litmine.tasks.linking.concept_scores import score_concepts
from litmine.tasks.linking.normalise import load_linker, normalise_document
from litmine.tasks.sources.pubtator import gold_to_mentions
from litmine.tasks.text.abbreviations import find_abbreviations
from litmine.tasks.text.sentences import split_sentences
from litmine.tasks.training.corpus import read_corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gold")
    parser.add_argument("--exclude-pmids", help="a file of PMIDs to leave out (the test sets)")
    parser.add_argument("--lexicon", default=DEFAULT_LEXICON)
    args = parser.parse_args()
    held_out = set()
    if args.exclude_pmids:
        with open(args.exclude_pmids) as handle:
            held_out = set(handle.read().split())
    docs = [d for d in read_corpus([args.gold]).documents if d.pmid not in held_out]
    linker = load_linker(args.lexicon)
    print(f"{args.gold}: {len(docs)} documents ({len(held_out)} PMIDs excluded)")
    shipped = organisms.XENOGRAFT_HOST
    for name, by_sentence, hosts in (("document's organisms alone", False, False),
                                     ("the sentence's first, hosts too", True, True),
                                     ("the sentence's first (shipped)", True, False)):
        organisms.XENOGRAFT_HOST = re.compile(r"(?!)") if hosts else shipped  # (?!) never matches
        predicted, right, slots = [], 0, 0
        for doc in docs:
            gold = gold_to_mentions(doc)
            sentences = (split_sentences(doc.text, len(doc.title)) if by_sentence
                         else [(0, len(doc.text))])
            linked, _ = normalise_document(doc.text, [replace(m, concept_id="") for m in gold],
                                           linker, find_abbreviations(doc.text, doc.pmid),
                                           sentences)
            predicted += linked
            ids = {i for m in linked if m.type == "Gene" for i in m.concept_id.split("|") if i}
            genes = {i for m in gold if m.type == "Gene" for i in m.concept_id.split(",")}
            for relation in doc.relations:
                for cid in relation[1:3]:
                    if cid in genes:
                        slots += 1
                        right += cid in ids
        gene = score_concepts(docs, predicted, types=("Gene",)).as_dict()["per_type"]["Gene"]
        print(f"{name:32s} Gene concept F1 {100 * gene['f1']:.2f} (P {100 * gene['precision']:.2f},"
              f" R {100 * gene['recall']:.2f}); gene relation slots right {right} of {slots}")


if __name__ == "__main__":
    main()
