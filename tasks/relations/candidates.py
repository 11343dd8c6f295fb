"""Chemical-induced disease (CID) relations: candidates, evidence, the classifier, aggregation.

A candidate is a (chemical MeSH ID, disease MeSH ID) pair of one document (BioCreative V CDR's
unit, Wei et al. 2016, Database baw032). Its evidence is every sentence in which a mention of
each occurs; candidates with none get every pair of adjacent sentences that has one in each
(`WINDOW`). In the evidence text the chemical's mentions are wrapped as ``@ * chemical * ... @``
and the disease's as ``# ^ disease ^ ... #``: the "typed entity marker (punct)" of Zhou & Chen
2022 (AACL, "An Improved Baseline for Sentence-level Relation Extraction"), which needs no new
tokens. A fine-tuned encoder (`RelationModel`) scores each evidence text; a candidate's score is
the maximum over its evidence (`aggregate`). Candidates without evidence are scored by the
linear model's document features only (`LinearRelationModel`), or 0 by the encoder.

Measured on BC5CDR training documents (gold entities): 43% of candidates share a sentence (33%
of those are CID), 24% only an adjacent sentence pair (12% CID), 33% neither (6.5% CID; 11%
of all relations). A title rule (chemical and disease both in the title) never applies here:
the title is a sentence of its own, so such pairs always have evidence.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litmine.errors import ModelError
from litmine.tasks.linking.mesh_tree import TREE_FILE, MeshTree
from litmine.tasks.records import Mention, Sentence

CHEMICAL, DISEASE = "Chemical", "Disease"
#: Sentences apart that still make evidence for a candidate with no shared sentence (1:
#: adjacent sentences, the "nearby sentence pair" of issue 7).
WINDOW = 1
#: Typed entity markers (Zhou & Chen 2022, punctuation variant).
MARKERS = {CHEMICAL: ("@ * chemical * ", " @"), DISEASE: ("# ^ disease ^ ", " #")}
#: Evidence longer than this (characters) is cut around its markers before tokenising, so the
#: markers survive truncation at 128 tokens (about 4.5 characters per word-piece in abstracts).
MAX_EVIDENCE_CHARS = 560
#: Method names stored in the `pairs` table.
METHOD_CLASSIFIER = "cid-classifier"
METHOD_LINEAR = "cid-linear"
RELATION_FILE = "relation.json"


@dataclass(frozen=True, slots=True)
class Evidence:
    """One text that mentions both concepts of a candidate."""

    sentence_indexes: tuple[int, ...]
    text: str  # with entity markers: the classifier's input
    plain: str  # without markers: what a reader sees


@dataclass
class Candidate:
    """A (chemical, disease) concept pair of one document and what supports it."""

    pmid: str
    chemical_id: str
    disease_id: str
    chemical: str = ""  # most frequent surface form
    disease: str = ""
    evidence: list[Evidence] = field(default_factory=list)
    chemical_in_title: bool = False
    disease_in_title: bool = False
    chemical_count: int = 0
    disease_count: int = 0
    score: float = 0.0
    relation: str = ""  # "CID" when predicted, else ""
    method: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return self.pmid, self.chemical_id, self.disease_id


def concept_ids(mention: Mention) -> list[str]:
    """The MeSH IDs of a mention: composite "A|B" gives both; none for "", "-1"."""
    return [c for c in (mention.concept_id or "").split("|") if c and c not in ("-1", "-")]


def _sentence_of(sentences: Sequence[Sentence], m: Mention) -> int:
    if m.sentence_index >= 0:
        return m.sentence_index
    for s in sentences:
        if s.start <= m.start < s.end:
            return s.index
    return -1


def mark_text(text: str, start: int, end: int, spans: Iterable[tuple[int, int, str]]) -> str:
    """`text[start:end]` with each (s, e, type) span wrapped in its type's markers."""
    out, pos = [], start
    for s, e, type_ in sorted(spans):
        if s < pos or e > end:  # overlapping or outside the evidence: left unmarked
            continue
        left, right = MARKERS[type_]
        out += [text[pos:s], left, text[s:e], right]
        pos = e
    out.append(text[pos:end])
    return "".join(out)


def crop(marked: str, max_chars: int = MAX_EVIDENCE_CHARS) -> str:
    """Cut a long evidence text to `max_chars` around its first and last markers."""
    if len(marked) <= max_chars:
        return marked
    positions = [i for tag in ("@ * chemical *", "# ^ disease ^") for i in
                 [marked.find(tag), marked.rfind(tag)] if i >= 0]
    lo, hi = min(positions), max(positions) + 40
    spare = max(0, max_chars - (hi - lo))
    a = max(0, lo - spare // 2)
    b = min(len(marked), max(hi, a + max_chars))
    a = max(0, min(a, b - max_chars))
    piece = marked[a:b]
    if a > 0 and " " in piece[:30]:
        piece = piece[piece.index(" ") + 1:]
    return piece


def build_candidates(pmid: str, text: str, sentences: Sequence[Sentence],
                     mentions: Sequence[Mention], *, title_end: int | None = None,
                     window: int = WINDOW) -> list[Candidate]:
    """Every (chemical ID, disease ID) pair of a document with its evidence texts.

    `title_end`: offset where the title ends (default: the end of the first sentence).
    """
    if title_end is None:
        title_end = sentences[0].end if sentences else 0
    by_concept: dict[tuple[str, str], list[tuple[Mention, int]]] = defaultdict(list)
    for m in mentions:
        if m.type in (CHEMICAL, DISEASE):
            for cid in concept_ids(m):
                by_concept[(m.type, cid)].append((m, _sentence_of(sentences, m)))
    chemicals = sorted(c for t, c in by_concept if t == CHEMICAL)
    diseases = sorted(c for t, c in by_concept if t == DISEASE)
    sentence_by_index = {s.index: s for s in sentences}
    out = []
    for c in chemicals:
        cms = by_concept[(CHEMICAL, c)]
        c_sents = {i for _, i in cms if i >= 0}
        for d in diseases:
            dms = by_concept[(DISEASE, d)]
            d_sents = {i for _, i in dms if i >= 0}
            groups = [(i,) for i in sorted(c_sents & d_sents)]
            if not groups and window > 0:
                groups = sorted({(min(i, j), max(i, j)) for i in c_sents for j in d_sents
                                 if 0 < abs(i - j) <= window})
            cand = Candidate(
                pmid, c, d, chemical=_surface(cms), disease=_surface(dms),
                chemical_in_title=any(m.start < title_end for m, _ in cms),
                disease_in_title=any(m.start < title_end for m, _ in dms),
                chemical_count=len(cms), disease_count=len(dms))
            for g in groups:
                first, last = sentence_by_index.get(g[0]), sentence_by_index.get(g[-1])
                if first is None or last is None:
                    continue
                start, end = first.start, last.end
                spans = [(m.start, m.end, CHEMICAL) for m, i in cms if i in g]
                spans += [(m.start, m.end, DISEASE) for m, i in dms if i in g]
                marked = crop(mark_text(text, start, end, spans))
                cand.evidence.append(Evidence(tuple(range(g[0], g[-1] + 1)), marked,
                                              text[start:end]))
            out.append(cand)
    return out


def _surface(items: list[tuple[Mention, int]]) -> str:
    counts = Counter(" ".join(m.text.split()) for m, _ in items)
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0] if counts else ""


def aggregate(scores: Sequence[float], how: str = "max") -> float:
    """A candidate's score from its evidence scores: "max" or "noisy-or" (1 - prod(1 - p))."""
    if not scores:
        return 0.0
    if how == "noisy-or":
        return 1.0 - math.prod(1.0 - s for s in scores)
    return max(scores)


# -- the classifier ------------------------------------------------------------------------------
def read_model_config(path: Path, name: str) -> dict[str, Any]:
    """The JSON file `name` of a relation model directory; ModelError naming the fix."""
    config_file = path / name
    if not config_file.is_file():
        raise ModelError(f"relations: {path} has no {name}; is it a relation model from "
                         "`litmine train-relations`?")
    return json.loads(config_file.read_text(encoding="utf-8"))


class RelationModel:
    """A fine-tuned sequence classifier over marked evidence, with its threshold."""

    def __init__(self, path: str | Path, *, device: str = "cpu", batch_size: int = 32):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from litmine.tasks.ner.model import resolve_device

        self.path = Path(path)
        self.config = read_model_config(self.path, RELATION_FILE)
        self.threshold = float(self.config.get("threshold", 0.5))
        self.aggregation = self.config.get("aggregation", "max")
        self.max_length = int(self.config.get("max_length", 128))
        self.device = resolve_device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.path))
        self.model = AutoModelForSequenceClassification.from_pretrained(
            str(self.path), dtype=torch.float32).to(self.device).eval()
        self.batch_size = batch_size
        self.name = self.config.get("name", self.path.name)

    def score_texts(self, texts: Sequence[str]) -> list[float]:
        """P(CID) for each marked evidence text (batched by length)."""
        import torch

        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = [0.0] * len(texts)
        with torch.inference_mode():
            for k in range(0, len(order), self.batch_size):
                idx = order[k:k + self.batch_size]
                enc = self.tokenizer([texts[i] for i in idx], truncation=True, padding=True,
                                     max_length=self.max_length, return_tensors="pt")
                logits = self.model(**{n: v.to(self.device) for n, v in enc.items()}).logits
                probs = torch.softmax(logits.float(), dim=-1)[:, 1].tolist()
                for i, p in zip(idx, probs):
                    out[i] = float(p)
        return out

    def predict(self, candidates: Sequence[Candidate], title: str = "", *, text: str = "",
                mentions: Sequence[Mention] = ()) -> list[Candidate]:
        """Score one document's candidates in place (score, relation, method); return them.
        (`text` and `mentions` are not needed: the evidence texts carry the markers.)"""
        texts = [e.text for c in candidates for e in c.evidence]
        scores = iter(self.score_texts(texts))
        for c in candidates:
            c.method = METHOD_CLASSIFIER
            c.score = aggregate([next(scores) for _ in c.evidence], self.aggregation)
            c.relation = "CID" if c.evidence and c.score >= self.threshold else ""
        return list(candidates)


def drop_general_relations(candidates: Sequence[Candidate], tree) -> list[Candidate]:
    """Unset predicted relations whose disease (chemical) is a MeSH ancestor of another
    predicted relation's disease (chemical) with the same chemical (disease).

    BioCreative V CDR annotates the most specific disease of a relation (Li et al. 2016,
    Database baw068; the "hypernym filtering" of Gu et al. 2016, Database baw042). `tree` None:
    the candidates are returned unchanged.
    """
    if tree is None:
        return list(candidates)
    predicted = [c for c in candidates if c.relation == "CID"]
    general = [c for c in predicted if any(
        (o.chemical_id == c.chemical_id and tree.is_ancestor(c.disease_id, o.disease_id))
        or (o.disease_id == c.disease_id and tree.is_ancestor(c.chemical_id, o.chemical_id))
        for o in predicted)]
    for c in general:
        c.relation = ""
    return list(candidates)


_MODELS: dict[tuple[str, str], Any] = {}


def load_relation_model(path: str | Path, *, device: str = "cpu"):
    """The CID model in `path` (linear or encoder, from relation.json), cached per process."""
    key = (str(Path(path).resolve()), device)
    if key not in _MODELS:
        config_file = Path(path) / RELATION_FILE
        if not config_file.is_file():
            raise ModelError(f"relations: {path} is not a relation model (no {RELATION_FILE}); "
                             "train one with `litmine train-relations` or pass --relation-model")
        config = json.loads(config_file.read_text(encoding="utf-8"))
        kind = config.get("kind", "encoder")
        if kind == "linear":
            _MODELS[key] = load_linear_model(path)[0]
        elif kind == "stacked":
            from litmine.tasks.relations.stacked import StackedRelationModel

            _MODELS[key] = StackedRelationModel(path, device=device, config=config)
        elif kind == "encoder":
            _MODELS[key] = RelationModel(path, device=device)
        else:
            raise ModelError(f"relations: {config_file} names an unknown kind {kind!r}; "
                             "expected linear, encoder or stacked")
    return _MODELS[key]


# -- evaluation ----------------------------------------------------------------------------------
def relation_spans(pmid: str, pairs: Iterable[tuple[str, str]]) -> list:
    """Scoring spans for (chemical ID, disease ID) pairs of a document (type "CID")."""
    from litmine.tasks.scoring import Span

    return [Span(pmid, -1, -1, "CID", f"{c} -> {d}", f"{c}|{d}") for c, d in pairs]


def score_relations(gold_docs: Sequence, predicted: Iterable[tuple[str, str, str]]):
    """BioCreative V CDR CID scores: sets of (pmid, chemical MeSH, disease MeSH).

    `predicted`: (pmid, chemical_id, disease_id) triples. Returns
    `litmine.tasks.scoring.Scores` (level "relation", one type "CID").
    """
    from litmine.tasks.scoring import concept_key, score_spans

    gold = [s for d in gold_docs for s in
            relation_spans(d.pmid, [(a, b) for t, a, b in d.relations if t == "CID"])]
    by_doc: dict[str, list] = defaultdict(list)
    for pmid, c, d in predicted:
        by_doc[pmid].append((c, d))
    pred = [s for pmid, pairs in by_doc.items() for s in relation_spans(pmid, pairs)]
    return score_spans(gold, pred, types=["CID"], pmids=[d.pmid for d in gold_docs],
                       key=concept_key, level="relation")


# -- the linear (feature-based) classifier -------------------------------------------------------
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
class LinearRelationModel:
    """Logistic regression over `candidate_features`, stored as readable JSON weights."""

    weights: dict[str, float]
    intercept: float
    threshold: float = 0.5
    name: str = "linear"
    path: Path | None = None
    priors: ConceptPriors | None = None
    tree: Any = None  # a litmine.tasks.linking.mesh_tree.MeshTree, or None

    def score(self, features: dict[str, float]) -> float:
        z = self.intercept + sum(self.weights.get(k, 0.0) * v for k, v in features.items())
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def features(self, candidates: Sequence[Candidate], title: str = "") -> list[dict]:
        """Feature dicts of one document's candidates."""
        context = document_context(candidates, title, self.tree)
        return [candidate_features(c, context) | prior_features(c, self.priors)
                for c in candidates]

    def predict(self, candidates: Sequence[Candidate], title: str = "", *, text: str = "",
                mentions: Sequence[Mention] = ()) -> list[Candidate]:
        """Score one document's candidates in place (score, relation, method); return them.
        With a MeSH tree, `drop_general_relations` applies. (`text` and `mentions` are not
        needed: the candidates carry their evidence.)"""
        for c, f in zip(candidates, self.features(candidates, title)):
            c.score = self.score(f)
            c.method = METHOD_LINEAR
            c.relation = "CID" if c.score >= self.threshold else ""
        return drop_general_relations(candidates, self.tree)


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


LINEAR_WEIGHTS_FILE = "weights.json.gz"


def save_linear_model(path: str | Path, model: LinearRelationModel, priors: ConceptPriors,
                      config: dict[str, Any]) -> Path:
    """Write relation.json (kind "linear", threshold, provenance) and the gzipped weights."""
    import gzip

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / RELATION_FILE).write_text(json.dumps(
        {"kind": "linear", "task": "CID", "threshold": model.threshold, "name": model.name}
        | config, indent=2), encoding="utf-8")
    payload = {"intercept": model.intercept, "weights": dict(sorted(model.weights.items())),
               "priors": priors.as_dict()}
    with gzip.open(path / LINEAR_WEIGHTS_FILE, "wt", encoding="utf-8") as handle:
        json.dump(payload, handle, separators=(",", ":"), sort_keys=True)
    if model.tree is not None:
        model.tree.save(path / TREE_FILE)
    return path


def load_linear_model(path: str | Path) -> tuple[LinearRelationModel, ConceptPriors]:
    import gzip

    path = Path(path)
    config = read_model_config(path, RELATION_FILE)
    with gzip.open(path / LINEAR_WEIGHTS_FILE, "rt", encoding="utf-8") as handle:
        payload = json.load(handle)
    priors = ConceptPriors(**payload.get("priors", {}))
    model = LinearRelationModel(payload["weights"], float(payload["intercept"]),
                                float(config.get("threshold", 0.5)),
                                config.get("name", path.name), path)
    model.priors = priors
    if (path / TREE_FILE).is_file():
        model.tree = MeshTree.load(path / TREE_FILE)
    return model, priors
