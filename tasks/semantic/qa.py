"""Answer questions from stored abstracts with an extractive (SQuAD-style) QA model.

`litmine ask` retrieves the abstracts nearest the question (semantic search), and a model with a
span head (...ForQuestionAnswering: e.g. deepset/roberta-base-squad2, or a BioASQ-tuned BioBERT)
picks the span of each abstract that best answers it. Abstracts longer than the model's limit
are read in overlapping windows (`stride` tokens shared), never truncated. A span's score is
p(start) x p(end), each a softmax over the window's context tokens, the scoring of the original
transformers question-answering pipeline (Wolf et al. 2020); the best window wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import torch

from litmine.errors import LitmineError
from litmine.tasks.loading import load_pretrained

NO_QA_MODEL = ("ask: no question-answering model was given, and none ships with litmine; pass "
               "--qa-model with a SQuAD-style model, e.g. deepset/roberta-base-squad2 (general) "
               "or a BioASQ-tuned one (hub ID, downloaded beforehand, or a local directory)")


@dataclass(frozen=True)
class Answer:
    """A span of a document's text (`title + " " + abstract`) answering the question."""

    pmid: str
    start: int
    end: int
    text: str
    score: float


class QAModel:
    """A loaded extractive QA model."""

    def __init__(self, model: str | None, *, device: str = "auto"):
        if not model:
            raise LitmineError(NO_QA_MODEL)
        loaded = load_pretrained(model, "question-answering", stage="ask", device=device)
        self.model_name, self.config = loaded.name, loaded.config
        self._model, self._tokenizer, self.device = loaded.model, loaded.tokenizer, loaded.device
        if not getattr(self._tokenizer, "is_fast", False):
            raise LitmineError(f"ask: model {model!r} has no fast tokenizer (tokenizer.json), "
                               "which answer offsets need; re-save it with a fast tokenizer.")
        limit = getattr(self.config, "max_position_embeddings", None) or 512
        if self.config.model_type in {"roberta", "xlm-roberta", "camembert", "longformer"}:
            limit -= (self.config.pad_token_id or 0) + 1
        tokenizer_limit = self._tokenizer.model_max_length
        self.max_length = min(limit, tokenizer_limit) if 0 < tokenizer_limit < 1_000_000 else limit
        self.windows = 0  # windows read in the last `answer` call

    def answer(self, question: str, documents: Sequence[tuple[str, str]], *,
               max_answer_tokens: int = 30, stride: int = 64, batch_size: int = 8) -> list[Answer]:
        """The best span of each (pmid, text) document, best first."""
        question = (question or "").strip()
        if not question:
            raise LitmineError('ask: the question is empty; e.g. `litmine ask "Which drug '
                               'causes hearing loss?" --qa-model deepset/roberta-base-squad2`')
        if not documents:
            return []
        n_question = len(self._tokenizer(question, add_special_tokens=False)["input_ids"])
        room = self.max_length - n_question - 4  # [CLS] q [SEP] [SEP] context [SEP] at most
        if room < 16:
            raise LitmineError(f"ask: the question is {n_question} tokens; model "
                               f"{self.model_name!r} reads {self.max_length} tokens in all, too "
                               "few left for the abstract. Ask a shorter question.")
        enc = self._tokenizer([question] * len(documents), [text for _, text in documents],
                              truncation="only_second", max_length=self.max_length,
                              stride=min(stride, room // 2), return_overflowing_tokens=True,
                              return_offsets_mapping=True, padding=True)
        self.windows = len(enc["input_ids"])
        best: dict[int, Answer] = {}
        names = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
        for b in range(0, self.windows, batch_size):
            rows = range(b, min(b + batch_size, self.windows))
            inputs = {k: torch.tensor([enc[k][r] for r in rows], device=self.device) for k in names}
            with torch.inference_mode():
                out = self._model(**inputs)
            starts = out.start_logits.float().cpu().numpy()
            ends = out.end_logits.float().cpu().numpy()
            for j, r in enumerate(rows):
                doc = enc["overflow_to_sample_mapping"][r]
                found = self._best_span(enc, r, starts[j], ends[j], max_answer_tokens,
                                        documents[doc])
                if found and (doc not in best or found.score > best[doc].score):
                    best[doc] = found
        return sorted(best.values(), key=lambda a: (-a.score, a.pmid))

    def _best_span(self, enc, row: int, start_logits: np.ndarray, end_logits: np.ndarray,
                   max_tokens: int, document: tuple[str, str]) -> Answer | None:
        """The highest p(start) x p(end) span of one window with start <= end < start + max_tokens."""
        context = np.array([s == 1 for s in enc.sequence_ids(row)])
        if not context.any():
            return None
        offsets = enc["offset_mapping"][row]
        p_start = _softmax_where(start_logits, context)
        p_end = _softmax_where(end_logits, context)
        scores = np.triu(np.outer(p_start, p_end))
        scores = np.tril(scores, max_tokens - 1)
        i, j = np.unravel_index(int(scores.argmax()), scores.shape)
        pmid, text = document
        start, end = offsets[i][0], offsets[j][1]
        return Answer(pmid=pmid, start=start, end=end, text=text[start:end],
                      score=float(scores[i, j]))


def _softmax_where(logits: np.ndarray, keep: np.ndarray) -> np.ndarray:
    out = np.where(keep, logits, -np.inf)
    out = np.exp(out - out[keep].max())
    return out / out.sum()


def sentence_of(con: duckdb.DuckDBPyConnection, pmid: str, offset: int) -> tuple[int | None, str]:
    """(sentence index, text) of the stored sentence holding a document offset; (None, "") if none."""
    row = con.execute(
        "SELECT sentence_index, text FROM sentences WHERE pmid = ? AND start_offset <= ? "
        "AND ? < end_offset ORDER BY sentence_index LIMIT 1", [pmid, offset, offset]).fetchone()
    return (row[0], row[1]) if row else (None, "")


def documents_for(con: duckdb.DuckDBPyConnection, pmids: Sequence[str]) -> list[tuple[str, str]]:
    """(pmid, title + " " + abstract) of stored articles, in the order given."""
    if not pmids:
        return []
    rows = dict(con.execute(
        "SELECT pmid, title || ' ' || coalesce(abstract, '') FROM articles WHERE pmid IN "
        f"({', '.join('?' * len(pmids))})", list(pmids)).fetchall())
    return [(p, rows[p]) for p in pmids if p in rows]
