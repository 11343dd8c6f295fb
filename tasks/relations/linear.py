"""The linear CID method: logistic regression over candidate features, weights as readable JSON.

Features are `litmine.tasks.relations.features`; training is
`litmine.tasks.relations.training.linear`. A directory holds ``relation.json`` (kind "linear",
threshold), ``weights.json.gz`` (weights, intercept, concept priors) and, when trained with the
MeSH hierarchy, ``mesh_tree.tsv.gz``.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litmine.tasks.linking.mesh_tree import TREE_FILE, MeshTree
from litmine.tasks.records import Mention
from litmine.tasks.relations.candidates import Candidate, drop_general_relations
from litmine.tasks.relations.features import (ConceptPriors, candidate_features,
                                              document_context, prior_features)
from litmine.tasks.relations.model_config import RELATION_FILE, read_model_config

#: Method name stored in the `pairs` table.
METHOD_LINEAR = "cid-linear"


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
                mentions: Sequence[Mention] = (), **context) -> list[Candidate]:
        """Score one document's candidates in place (score, relation, method); return them.
        With a MeSH tree, `drop_general_relations` applies. (`text`, `mentions` and the NER
        pass's `context` are not needed: the candidates carry their evidence.)"""
        for c, f in zip(candidates, self.features(candidates, title)):
            c.score = self.score(f)
            c.method = METHOD_LINEAR
            c.relation = "CID" if c.score >= self.threshold else ""
        return drop_general_relations(candidates, self.tree)


LINEAR_WEIGHTS_FILE = "weights.json.gz"


def save_linear_model(path: str | Path, model: LinearRelationModel, priors: ConceptPriors,
                      config: dict[str, Any]) -> Path:
    """Write relation.json (kind "linear", threshold, provenance) and the gzipped weights."""
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
