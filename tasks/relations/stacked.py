"""The stacked CID model: the linear classifier and the document encoder, combined.

Two views of a candidate (document, chemical MeSH ID, disease MeSH ID):

- `litmine.tasks.relations.linear.LinearRelationModel`: words around and between the two concepts'
  closest mentions, where and how often they occur, the MeSH hierarchy, training priors;
- `litmine.tasks.relations.document.DocumentRelationModel`: a fine-tuned encoder reading the whole
  abstract with every mention marked.

Their scores are combined by a logistic regression over the two log-odds (stacked
generalisation, Wolpert 1992, Neural Networks 5(2)), fitted on training documents that neither
member was fitted on; the threshold maximises F1 on those documents. Then the rule of
`drop_general_relations` applies. A directory holds ``relation.json`` (kind "stacked",
weights, threshold) and the members in ``linear/`` and ``document/``. Training is
`litmine.tasks.relations.training.stacked`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from litmine.errors import ModelError
from litmine.tasks.records import Mention
from litmine.tasks.relations.candidates import Candidate, drop_general_relations
from litmine.tasks.relations.document import DocumentRelationModel
from litmine.tasks.relations.shared import CID_TASKS, is_shared_model, load_shared_model
from litmine.tasks.relations.linear import METHOD_LINEAR, load_linear_model
from litmine.tasks.relations.model_config import (RELATION_FILE, document_member_path,
                                                  read_model_config)

METHOD_STACKED = "cid-stacked"
MEMBERS = ("linear", "document")


def logit(p: float) -> float:
    """log(p / (1 - p)), with p clipped to [1e-6, 1 - 1e-6]."""
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


class StackedRelationModel:
    """Linear + document encoder, combined by the weights in relation.json."""

    def __init__(self, path: str | Path, *, device: str = "cpu", linear=None, document=None,
                 config: dict[str, Any] | None = None, dtype: str | None = "fp32"):
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
        self.document = document if document is not None else document_member(
            document_member_path(self.path), device=device, dtype=dtype)
        self.device, self.dtype = self.document.device, self.document.dtype
        self.tree = self.linear.tree
        self.name = config.get("name", self.path.name)

    def member_scores(self, candidates: Sequence[Candidate], title: str, text: str,
                      mentions: Sequence[Mention], **context) -> list[tuple[float, float | None]]:
        """(linear P, document P) per candidate; document P is None for a concept the encoder
        did not read (past `litmine.tasks.relations.document.MAX_DOCUMENT_TOKENS`).
        `context` (states, sentences, pmid) goes to the document member."""
        if candidates and not text:
            raise ModelError("relations: the stacked CID model reads the whole document; pass "
                             "predict(..., text=article text, mentions=linked mentions)")
        linear = [self.linear.score(f) for f in self.linear.features(candidates, title)]
        document = self.document.score_document(
            text, mentions, [(c.chemical_id, c.disease_id) for c in candidates],
            title_length=len(title) if title else None, **context)
        return list(zip(linear, document))

    def combine(self, linear: float, document: float) -> float:
        z = (self.intercept + self.weights[0] * logit(linear)
             + self.weights[1] * logit(document))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def predict(self, candidates: Sequence[Candidate], title: str = "", *, text: str = "",
                mentions: Sequence[Mention] = (), **context) -> list[Candidate]:
        """Score one document's candidates in place (score, relation, method); return them.

        `text`: the document (title + " " + abstract); `mentions`: its mentions with concept
        IDs (those the candidates were built from); `context`: the NER pass's `states`, the
        `sentences` and `pmid`, for a shared document member.
        """
        for c, (lin, doc) in zip(candidates, self.member_scores(candidates, title, text,
                                                                mentions, **context)):
            if doc is None:  # the linear member alone, with its own threshold
                c.score, c.method = lin, METHOD_LINEAR
                c.relation = "CID" if lin >= self.linear.threshold else ""
                continue
            c.score = self.combine(lin, doc)
            c.method = METHOD_STACKED
            c.relation = "CID" if c.score >= self.threshold else ""
        return drop_general_relations(candidates, self.tree)


def document_member(path: Path, *, device: str = "cpu", dtype: str | None = "fp32"):
    """The document member in `path`: a whole encoder (`DocumentRelationModel`) or a shared
    head over the NER pass's states (`SharedRelationModel`, task CID or joint; a joint head
    is the same instance as the typed relation model of that path)."""
    if not Path(path).is_dir():
        raise ModelError(f"relations: the stacked CID model's document member {path} is "
                         "missing; reinstall the model or retrain it")
    if is_shared_model(path):
        member = load_shared_model(path, device=device, dtype=dtype)
        if member.task not in CID_TASKS:
            raise ModelError(f"relations: {path} scores {member.task} pairs; the stacked CID "
                             "model's document member must be a CID or joint model")
        return member
    return DocumentRelationModel(path, device=device, dtype=dtype)
