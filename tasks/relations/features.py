"""Features of a CID candidate for the linear classifier: evidence words, positions, counts,
the MeSH hierarchy and training-set priors of its concepts."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from litmine.tasks.relations.candidates import Candidate


_CHEM_SPAN = re.compile(r"@ \* chemical \* (.*?) @")
_DIS_SPAN = re.compile(r"# \^ disease \^ (.*?) #")
_TOKEN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*|[();,:]")
#: Tokens of context taken on each side of an entity, and the longest "between" span whose
#: words become features (beyond it only the distance bucket is used). Common choices in
#: feature-based relation extraction (e.g. Jiang & Zhai 2007, NAACL, "A systematic exploration
#: of the feature space for relation extraction"); not tuned.
CONTEXT_TOKENS, MAX_BETWEEN = 3, 12


def evidence_tokens(marked: str) -> list[str]:
    """Lower-cased tokens of a marked evidence text, each marked entity as CHEMX or DISX."""
    s = _DIS_SPAN.sub(" disx ", _CHEM_SPAN.sub(" chemx ", marked)).lower()
    return [{"chemx": "CHEMX", "disx": "DISX"}.get(t, t) for t in _TOKEN.findall(s)]


def _bucket(n: int) -> str:
    return str(n) if n < 4 else "4-7" if n < 8 else "8-15" if n < 16 else "16+"


def evidence_features(marked: str, kind: str) -> dict[str, float]:
    """Features of one evidence text around its closest chemical-disease pair."""
    toks = evidence_tokens(marked)
    cs = [i for i, t in enumerate(toks) if t == "CHEMX"]
    ds = [i for i, t in enumerate(toks) if t == "DISX"]
    f: dict[str, float] = {f"kind={kind}": 1.0}
    if not cs or not ds:
        return f
    c, d = min(((c, d) for c in cs for d in ds), key=lambda p: abs(p[0] - p[1]))
    lo, hi = min(c, d), max(c, d)
    order = "CD" if c < d else "DC"
    between = [t for t in toks[lo + 1:hi] if t not in ("CHEMX", "DISX")]
    f[f"order={order}"] = 1.0
    f[f"dist={_bucket(hi - lo - 1)}"] = 1.0
    f[f"{kind}:order={order}:dist={_bucket(hi - lo - 1)}"] = 1.0
    if len(between) <= MAX_BETWEEN:
        for t in between:
            f[f"btw={t}"] = 1.0
            f[f"btw:{order}={t}"] = 1.0
        for a, b in zip(between, between[1:]):
            f[f"btw2={a}_{b}"] = 1.0
        if not between:
            f["adjacent-entities"] = 1.0
    f[f"others-between={sum(t in ('CHEMX', 'DISX') for t in toks[lo + 1:hi]) > 0}"] = 1.0
    for name, pos in (("c", c), ("d", d)):
        for k in range(1, CONTEXT_TOKENS + 1):
            if pos - k >= 0:
                f[f"{name}-l{k}={toks[pos - k]}"] = 1.0
                f[f"{name}-l={toks[pos - k]}"] = 1.0
            if pos + k < len(toks):
                f[f"{name}-r{k}={toks[pos + k]}"] = 1.0
                f[f"{name}-r={toks[pos + k]}"] = 1.0
    f["n-chem-mentions"] = min(len(cs), 4) / 4
    f["n-dis-mentions"] = min(len(ds), 4) / 4
    return f


def candidate_features(cand: Candidate, doc: dict[str, Any]) -> dict[str, float]:
    """Features of a candidate: its evidence (union, max) and where/how often it occurs.

    `doc` holds document-level counts from `document_context`.
    """
    f: dict[str, float] = {"bias-candidate": 1.0}
    tree = doc.get("tree")
    if tree is not None:
        f.update(tree_features(cand, tree, doc))
    for e in cand.evidence:
        kind = "same" if len(e.sentence_indexes) == 1 else "adjacent"
        for k, v in evidence_features(e.text, kind).items():
            f[k] = max(f.get(k, 0.0), v)
    f[f"n-evidence={_bucket(len(cand.evidence))}"] = 1.0
    f[f"has-evidence={bool(cand.evidence)}"] = 1.0
    f[f"chem-in-title={cand.chemical_in_title}"] = 1.0
    f[f"dis-in-title={cand.disease_in_title}"] = 1.0
    f[f"titles={cand.chemical_in_title}:{cand.disease_in_title}:{bool(cand.evidence)}"] = 1.0
    f[f"chem-count={_bucket(cand.chemical_count)}"] = 1.0
    f[f"dis-count={_bucket(cand.disease_count)}"] = 1.0
    f[f"chem-rank={min(doc['chem_rank'].get(cand.chemical_id, 9), 3)}"] = 1.0
    f[f"dis-rank={min(doc['dis_rank'].get(cand.disease_id, 9), 3)}"] = 1.0
    f[f"n-chemicals={_bucket(doc['n_chemicals'])}"] = 1.0
    f[f"n-diseases={_bucket(doc['n_diseases'])}"] = 1.0
    for trigger in doc.get("title_triggers", ()):
        f[f"title-{trigger}:{cand.chemical_in_title}:{cand.disease_in_title}"] = 1.0
    f["chem-share"] = cand.chemical_count / max(1, doc["chemical_mentions"])
    f["dis-share"] = cand.disease_count / max(1, doc["disease_mentions"])
    return f


#: Title words that announce an adverse effect study ("Lidocaine-induced cardiac asystole").
TITLE_TRIGGERS = re.compile(r"induc|toxic|associat|caus|adverse|side effect|risk|complicat|"
                            r"after|following|during|poison|overdose|abuse|exposure|treat|therap")
#: MeSH tree levels whose categories become features ("C10", "C10.228").
TREE_DEPTHS = (1, 2)


def tree_features(cand: Candidate, tree, doc: dict[str, Any]) -> dict[str, float]:
    """MeSH hierarchy features: each concept's top categories, and whether the document names
    a more specific concept below it (`litmine.tasks.linking.mesh_tree`)."""
    f = {f"chem-general={cand.chemical_id in doc['general']}": 1.0,
         f"dis-general={cand.disease_id in doc['general']}": 1.0}
    for depth in TREE_DEPTHS:
        for cat in tree.categories(cand.chemical_id, depth) or {"none"}:
            f[f"chem-cat{depth}={cat}"] = 1.0
        for cat in tree.categories(cand.disease_id, depth) or {"none"}:
            f[f"dis-cat{depth}={cat}"] = 1.0
    return f


def document_context(candidates: Sequence[Candidate], title: str = "", tree=None
                     ) -> dict[str, Any]:
    """Per-document counts the candidate features refer to (frequency ranks, totals) and,
    given a `MeshTree`, the concepts with a more specific concept in the document."""
    chem = {c.chemical_id: c.chemical_count for c in candidates}
    dis = {c.disease_id: c.disease_count for c in candidates}
    general = (tree.more_general(chem) | tree.more_general(dis)) if tree is not None else set()
    rank = lambda counts: {k: i for i, (k, _) in enumerate(  # noqa: E731
        sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))}
    return {"chem_rank": rank(chem), "dis_rank": rank(dis), "n_chemicals": len(chem),
            "n_diseases": len(dis), "chemical_mentions": sum(chem.values()),
            "disease_mentions": sum(dis.values()),
            "title_triggers": sorted({m.group(0) for m in TITLE_TRIGGERS.finditer(title.lower())}),
            "tree": tree, "general": general}


@dataclass
class ConceptPriors:
    """How often concepts (and pairs) were CID relations in training documents.

    Counts are per document: `chem[id] = [documents where it was in a CID relation, documents
    where it was a candidate]`, likewise `dis`, and `pair["C|D"]` for the pair. A
    knowledge-base-like signal learned from training data only (the best BioCreative V CDR
    systems used CTD for the same purpose: Xu et al. 2016, Database baw102, and
    Pons et al. 2016); training features are computed out-of-fold so a document never sees
    its own labels.
    """

    chem: dict[str, list[int]] = field(default_factory=dict)
    dis: dict[str, list[int]] = field(default_factory=dict)
    pair: dict[str, list[int]] = field(default_factory=dict)

    def add_document(self, candidates: Sequence[Candidate], gold: set[tuple[str, str]]) -> None:
        chems = {c.chemical_id for c in candidates}
        diss = {c.disease_id for c in candidates}
        for table, ids, pos in ((self.chem, chems, {a for a, _ in gold}),
                                (self.dis, diss, {b for _, b in gold})):
            for i in ids:
                entry = table.setdefault(i, [0, 0])
                entry[0] += i in pos
                entry[1] += 1
        for c in candidates:
            entry = self.pair.setdefault(f"{c.chemical_id}|{c.disease_id}", [0, 0])
            entry[0] += (c.chemical_id, c.disease_id) in gold
            entry[1] += 1

    def as_dict(self) -> dict[str, Any]:
        return {"chem": self.chem, "dis": self.dis, "pair": self.pair}


def _prior_bucket(entry: list[int] | None) -> str:
    if not entry:
        return "unseen"
    pos, n = entry
    rate = (pos + 0.5) / (n + 2)  # add-half smoothing towards the ~20% base rate
    return f"{n > 2}:{'0' if pos == 0 else 'low' if rate < 0.25 else 'mid' if rate < 0.5 else 'high'}"


def prior_features(cand: Candidate, priors: ConceptPriors | None) -> dict[str, float]:
    """Bucketed training-set CID rates of the candidate's chemical, disease and pair."""
    if priors is None:
        return {}
    pair = priors.pair.get(f"{cand.chemical_id}|{cand.disease_id}")
    return {f"chem-prior={_prior_bucket(priors.chem.get(cand.chemical_id))}": 1.0,
            f"dis-prior={_prior_bucket(priors.dis.get(cand.disease_id))}": 1.0,
            f"pair-prior={_prior_bucket(pair)}": 1.0}
