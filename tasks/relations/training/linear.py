"""Train the linear CID method (`litmine.tasks.relations.linear`): fit, pick the threshold by
cross-validation, score dev, save with a card. Trains in seconds on a CPU."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litmine.errors import LitmineError
from litmine.tasks.digests import sha256_file
from litmine.tasks.relations.candidates import document_candidates, gold_pairs
from litmine.tasks.relations.features import (ConceptPriors, candidate_features,
                                              document_context, prior_features)
from litmine.tasks.relations.linear import LinearRelationModel, save_linear_model
from litmine.tasks.relations.training.cards import write_linear_card
from litmine.tasks.relations.training.documents import load_tree, read_train_dev
from litmine.tasks.relations.training.thresholds import best_threshold, dev_scores
from litmine.tasks.sources.pubtator import PubTatorDocument
from litmine.tasks.training.loop import publish_model_dir


#: Folds for out-of-fold concept priors and for the cross-validated threshold.
FOLDS = 5
#: Inverse L2 strength of the logistic regression: the best of 0.1/0.3/1.0 by dev F1 in the
#: experiment of docs/relations.md (0.3; the three are within 0.4 points).
LINEAR_C = 0.3


def _linear_rows(docs, cands, priors_for, tree=None) -> tuple[list[dict], list[bool], int]:
    rows, labels, n_gold = [], [], 0
    for i, (d, cs) in enumerate(zip(docs, cands)):
        context = document_context(cs, d.title, tree)
        gold = gold_pairs(d)
        n_gold += len(gold)
        for c in cs:
            rows.append(candidate_features(c, context) | prior_features(c, priors_for(i)))
            labels.append((c.chemical_id, c.disease_id) in gold)
    return rows, labels, n_gold


@dataclass
class LinearFit:
    """A fitted linear CID model with its cross-validation record."""

    model: LinearRelationModel
    cv: dict[str, float]  # threshold, f1, precision, recall of out-of-fold predictions
    candidates: int
    positive: int
    relations: int


def fit_linear_model(train_docs: Sequence[PubTatorDocument], *, c: float = LINEAR_C,
                     folds: int = FOLDS, tree=None, name: str = "linear") -> LinearFit:
    """Fit the feature-based CID classifier on gold documents; its threshold maximises the F1
    of `folds`-fold out-of-fold predictions (concept priors out-of-fold too)."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    if len(train_docs) < folds:
        raise LitmineError(f"train-relations: need at least {folds} training documents "
                           f"(got {len(train_docs)})")
    train_cands = [document_candidates(d) for d in train_docs]
    fold_priors = [ConceptPriors() for _ in range(folds)]
    full = ConceptPriors()
    for i, (d, cs) in enumerate(zip(train_docs, train_cands)):
        full.add_document(cs, gold_pairs(d))
        for k in range(folds):
            if i % folds != k:
                fold_priors[k].add_document(cs, gold_pairs(d))
    x_rows, y, n_train_gold = _linear_rows(train_docs, train_cands,
                                           lambda i: fold_priors[i % folds], tree)
    doc_fold = [i % folds for i, cs in enumerate(train_cands) for _ in cs]
    vec = DictVectorizer()
    x = vec.fit_transform(x_rows)
    # Out-of-fold scores on train pick the threshold.
    oof = [0.0] * len(y)
    for k in range(folds):
        fit = [j for j, f in enumerate(doc_fold) if f != k]
        test = [j for j, f in enumerate(doc_fold) if f == k]
        lr = LogisticRegression(C=c, max_iter=5000).fit(x[fit], [y[j] for j in fit])
        for j, p in zip(test, lr.predict_proba(x[test])[:, 1]):
            oof[j] = float(p)
    threshold, cv_f1, cv_p, cv_r = best_threshold(list(zip(oof, y)), n_train_gold)
    lr = LogisticRegression(C=c, max_iter=5000).fit(x, y)
    weights = {name: float(w) for name, w in zip(vec.get_feature_names_out(), lr.coef_[0])
               if abs(w) > 1e-6}
    model = LinearRelationModel(weights, float(lr.intercept_[0]), float(threshold), name,
                                priors=full, tree=tree)
    return LinearFit(model, {"threshold": threshold, "f1": cv_f1, "precision": cv_p,
                             "recall": cv_r}, len(y), int(sum(y)), n_train_gold)


def train_linear_relations(train_files: Sequence[str | Path], dev_files: Sequence[str | Path],
                           out_dir: str | Path, *, c: float = LINEAR_C, folds: int = FOLDS,
                           max_train_docs: int | None = None, max_dev_docs: int | None = None,
                           exclude: Sequence[str | Path] = (),
                           mesh_tree: Sequence[str | Path] = (),
                           command_line: str | None = None) -> dict[str, Any]:
    """Fit the feature-based CID classifier (`fit_linear_model`), score dev, save with a card.

    `mesh_tree`: MeSH descriptor (and supplementary) files for the hierarchy features
    (`litmine.tasks.linking.mesh_tree`); the tree is saved with the model. Concept priors for a
    training document come from the other folds; the shipped priors from all training
    documents. Dev is only scored (also at its own best threshold, for reference).
    """
    started = time.time()
    train_docs, dev_docs = read_train_dev(train_files, dev_files, exclude, max_train_docs,
                                          max_dev_docs)
    fitted = fit_linear_model(train_docs, c=c, folds=folds, tree=load_tree(mesh_tree),
                              name=Path(out_dir).name)
    model = fitted.model
    dev = dev_scores(model, dev_docs)
    result = {
        "kind": "linear", "params": {"c": c, "folds": folds, "train": [str(p) for p in train_files],
                                     "dev": [str(p) for p in dev_files],
                                     "max_train_docs": max_train_docs, "max_dev_docs": max_dev_docs,
                                     "exclude": [str(p) for p in exclude],
                                     "mesh_tree": [str(p) for p in mesh_tree]},
        "data": {"train_documents": len(train_docs), "dev_documents": len(dev_docs),
                 "train_candidates": fitted.candidates, "train_positive": fitted.positive,
                 "train_relations": fitted.relations,
                 "dev_relations": dev["at_threshold"]["tp"] + dev["at_threshold"]["fn"],
                 "features": len(model.weights),
                 "mesh_tree_concepts": len(model.tree) if model.tree is not None else 0,
                 "files": [{"path": str(p), "sha256": sha256_file(p)}
                           for p in [*train_files, *dev_files, *mesh_tree]]},
        "cv": fitted.cv, "dev_gold_entities": dev, "threshold": model.threshold}
    result["seconds"] = round(time.time() - started, 1)
    out_dir = Path(out_dir)
    staging = out_dir.with_name(out_dir.name + ".training")
    shutil.rmtree(staging, ignore_errors=True)
    save_linear_model(staging, model, model.priors,
                      {"dev_gold_entities": dev, "cv": result["cv"]})
    (staging / "training.json").write_text(json.dumps(result, indent=2))
    write_linear_card(staging, result, command_line)
    publish_model_dir(staging, out_dir)
    result["out_dir"] = str(out_dir)
    return result
