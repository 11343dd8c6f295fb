"""Where gene linking goes wrong: gold gene mentions of a BioRED-format file linked by the
shipped lexicon (as `litmine evaluate --relations` does in its "gold entities" setting), each
mention sorted into right / no ID / wrong ID (by the linking level that chose it), and whether
the gold NCBI Gene ID is in the lexicon at all.

Usage:
    python benchmarks/gene_linking_errors.py ../shared/data/corpora/biored/Dev.PubTator [LEXICON]

LEXICON: a lexicon file to use instead of the shipped one.
"""
import collections
import sys
from dataclasses import replace

from litmine.tasks.linking.concept_scores import score_concepts
from litmine.tasks.linking.normalise import load_linker
from litmine.tasks.relations.relate import relate_articles
from litmine.tasks.sources.pubtator import gold_to_mentions
from litmine.tasks.text.sentences import split_article
from litmine.tasks.training.corpus import read_corpus

path = sys.argv[1]
corpus = read_corpus([path])
docs = corpus.documents
from litmine.settings import DEFAULT_LEXICON

LEXICON = sys.argv[2] if len(sys.argv) > 2 else DEFAULT_LEXICON
linker = load_linker(LEXICON)
articles = [d.to_article() for d in docs]
sentences = [s for a in articles for s in split_article(a)]
stripped = [replace(m, concept_id="") for d in docs for m in gold_to_mentions(d)]
batch = relate_articles(articles, sentences, stripped, linker=linker, fix_mentions=False)
s = score_concepts(docs, batch.mentions, types=("Gene", "Species", "CellLine", "Variant", "Chemical", "Disease"))
for t, c in sorted(s.as_dict()["per_type"].items()):
    print(t, c["n_gold"], c["n_predicted"], round(100 * (c["f1"] or 0), 2))
# mention-level gene categories
gold = {(m.pmid, m.start, m.end): m for d in docs for m in gold_to_mentions(d) if m.type == "Gene"}
cats = collections.Counter(); ex = collections.defaultdict(list)
for m, l in zip(batch.mentions, batch.links):
    if m.type != "Gene": continue
    g = gold.get((m.pmid, m.start, m.end))
    if g is None: continue
    gid = set(g.concept_id.replace(",", "|").split("|")); pid = set((m.concept_id or "").split("|")) - {""}
    if pid == gid: cats["ok"] += 1; continue
    if not pid: c = "nolink:" + l.reason.split(":")[0]
    elif pid & gid: c = "partial"
    else:
        tx = {linker.taxon(i) for i in pid}; gtx = {linker.taxon(i) for i in gid}
        alts = dict(l.alternatives)
        if any(a in gid for a in alts.values()): c = "wrong-taxon(alt-has-gold)"
        else: c = f"wrong:{l.method}"
    cats[c] += 1; ex[c].append((m.pmid, m.text, g.concept_id, m.concept_id, l.method, l.matched))
print(cats.most_common())
for c, xs in ex.items():
    print("==", c)
    for x in xs[:int(__import__("os").environ.get("SHOW","12"))]: print("  ", x)

# is the gold ID known to the lexicon at all (any name), and under the same symbol key?
from litmine.tasks.linking.lexicon import Lexicon
from litmine.tasks.linking.normalise import gene_symbol_key, normalise_name

lex = Lexicon.load(LEXICON)
known_ids = collections.defaultdict(set)
for (t, name), ids in lex.weights().items():
    if t == "Gene":
        for cid in ids:
            known_ids[cid].add(gene_symbol_key(normalise_name(name, False)))
stat = collections.Counter()
for c, xs in ex.items():
    for (pmid, text, gid, pid, meth, matched) in xs:
        gids = gid.replace(",", "|").split("|")
        key = gene_symbol_key(normalise_name(text, False))
        s = "gold-absent" if not any(g in known_ids for g in gids) else ("gold-same-key" if any(key in known_ids[g] for g in gids) else "gold-other-names")
        stat[(c.split(":")[0], s)] += 1
for k, v in sorted(stat.items()): print(k, v)
