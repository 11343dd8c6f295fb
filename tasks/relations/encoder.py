"""The sentence-level CID method: a fine-tuned sequence classifier scores each marked evidence
text; a candidate's score aggregates its evidence (`litmine.tasks.relations.candidates.aggregate`).

Training is `litmine.tasks.relations.training.encoder`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from litmine.tasks.records import Mention
from litmine.tasks.relations.candidates import Candidate, aggregate
from litmine.tasks.relations.document import TOKENIZER_LOCK
from litmine.tasks.relations.model_config import RELATION_FILE, read_model_config

#: Method name stored in the `pairs` table.
METHOD_CLASSIFIER = "cid-classifier"


class RelationModel:
    """A fine-tuned sequence classifier over marked evidence, with its threshold."""

    def __init__(self, path: str | Path, *, device: str = "cpu", batch_size: int = 32,
                 dtype: str | None = "fp32"):
        # torch and transformers load with a model, not with the module
        from litmine.tasks.loading import choose_dtype, encoder_dtype, load_pretrained, resolve_device

        self.path = Path(path)
        self.config = read_model_config(self.path, RELATION_FILE)
        self.threshold = float(self.config.get("threshold", 0.5))
        self.aggregation = self.config.get("aggregation", "max")
        self.max_length = int(self.config.get("max_length", 128))
        choice = choose_dtype(encoder_dtype(dtype), resolve_device(device, "relations"),
                              "relations")
        loaded = load_pretrained(str(self.path), "sequence-classification", stage="relations",
                                 device=device, dtype=choice.dtype)
        self.device, self.tokenizer, self.model = loaded.device, loaded.tokenizer, loaded.model
        self.dtype = choice.name
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
                with TOKENIZER_LOCK:
                    enc = self.tokenizer([texts[i] for i in idx], truncation=True, padding=True,
                                         max_length=self.max_length, return_tensors="pt")
                logits = self.model(**{n: v.to(self.device) for n, v in enc.items()}).logits
                probs = torch.softmax(logits.float(), dim=-1)[:, 1].tolist()
                for i, p in zip(idx, probs):
                    out[i] = float(p)
        return out

    def predict(self, candidates: Sequence[Candidate], title: str = "", *, text: str = "",
                mentions: Sequence[Mention] = (), **context) -> list[Candidate]:
        """Score one document's candidates in place (score, relation, method); return them.
        (`text`, `mentions` and the NER pass's `context` are not needed: the evidence texts
        carry the markers.)"""
        texts = [e.text for c in candidates for e in c.evidence]
        scores = iter(self.score_texts(texts))
        for c in candidates:
            c.method = METHOD_CLASSIFIER
            c.score = aggregate([next(scores) for _ in c.evidence], self.aggregation)
            c.relation = "CID" if c.evidence and c.score >= self.threshold else ""
        return list(candidates)
