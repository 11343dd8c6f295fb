"""Does the typed relation model read a relation's type, or only its entity types? Every gold
pair of a BioRED-format file (gold entities, gold IDs) is scored at threshold 0, so each gets the
model's type; its accuracy is set against the majority type of the pair's entity types in a
training file (the prior a model gets for free), with the confusion between types and the
novelty accuracy.

Usage:
    python benchmarks/relation_types.py ../shared/data/corpora/biored/Dev.PubTator \
        [MODEL] [TRAIN]

MODEL: a typed or shared relation model (default: the shipped one); TRAIN: the file the prior
comes from (default: ../shared/data/corpora/biored/Train.PubTator).
"""
import sys
from collections import Counter, defaultdict

from litmine.settings import DEFAULT_RELATION_MODEL, DEFAULT_TYPED_RELATION_MODEL
from litmine.tasks.relations.registry import load_relation_model, load_typed_model
from litmine.tasks.relations.shared import pass_states
from litmine.tasks.relations.typed import typed_spans
from litmine.tasks.relations.typed_gold import canonical_mentions, gold_relations
from litmine.tasks.sources.pubtator import read_pubtator
from litmine.tasks.text.sentences import split_article

gold_file = sys.argv[1]
model_dir = sys.argv[2] if len(sys.argv) > 2 else DEFAULT_TYPED_RELATION_MODEL
train_file = sys.argv[3] if len(sys.argv) > 3 else "../shared/data/corpora/biored/Train.PubTator"
docs = read_pubtator(gold_file)[0]
typed = load_typed_model(model_dir, device="cpu", dtype="auto")
states_model = load_relation_model(DEFAULT_RELATION_MODEL, device="cpu", dtype="auto")
articles = [d.to_article() for d in docs]
sentences = [s for a in articles for s in split_article(a)]
states = pass_states(sentences, states_model, typed)
by_pmid = defaultdict(list)
for s in sentences:
    by_pmid[s.pmid].append(s)


def entity_types(doc):
    return {cid: type_ for type_, cid in typed_spans(canonical_mentions(doc))}


prior = defaultdict(Counter)
for d in read_pubtator(train_file)[0]:
    types = entity_types(d)
    for (a, b), (relation, _) in gold_relations(d).items():
        prior[tuple(sorted((types.get(a, "?"), types.get(b, "?"))))][relation] += 1

confusion, n, right, right_prior, novel_right, novel_all = Counter(), 0, 0, 0, 0, 0
for d in docs:
    types = entity_types(d)
    predicted = {frozenset((r.first[1], r.second[1])): r for r in typed.predict_document(
        d.text, canonical_mentions(d), threshold=0.0, states=states.get(d.pmid),
        sentences=by_pmid[d.pmid], pmid=d.pmid)}
    for (a, b), (relation, novel) in gold_relations(d).items():
        r = predicted.get(frozenset((a, b)))
        if r is None:  # a concept past the encoder's limit, or a pair type never scored
            continue
        n += 1
        right += r.relation == relation
        confusion[(relation, r.relation)] += 1
        seen = prior.get(tuple(sorted((types.get(a, "?"), types.get(b, "?")))))
        right_prior += bool(seen) and seen.most_common(1)[0][0] == relation
        if novel:
            novel_all += 1
            novel_right += r.novel == novel
print(f"{model_dir} on {gold_file}: {n} gold pairs scored; type right {100 * right / n:.1f}%, "
      f"majority type of the entity-type pair {100 * right_prior / n:.1f}%; novelty right "
      f"{100 * novel_right / max(1, novel_all):.1f}% of {novel_all}")
for (g, p), k in confusion.most_common(12):
    print(f"{k:5d}  {g} -> {p}")
