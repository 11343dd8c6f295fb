"""Tag gold documents through the pipeline's own path and score the mentions strictly.

Sentences come from `split_article`, mentions from `litmine.tasks.ner.engine.Tagger`, strict
scores from `litmine.tasks.scoring`: the F1 measured here (by `litmine evaluate`, and by
`litmine train` to pick its best epoch) is the F1 a user gets from `litmine mine`.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from litmine.tasks.ner.engine import clear_taggers, load_tagger
from litmine.tasks.scoring import Scores, score_documents
from litmine.tasks.sources.pubtator import PubTatorDocument
from litmine.tasks.text.sentences import split_article


def predict_documents(tagger, docs: Iterable[PubTatorDocument], *, max_batch_tokens: int = 8192,
                      stride: int = 32) -> list:
    """Mentions the tagger finds in each document's ``title + " " + abstract`` (pipeline path)."""
    sentences = [s for d in docs for s in split_article(d.to_article())]
    return tagger.tag(sentences, max_batch_tokens=max_batch_tokens, stride=stride)


def evaluate_model(model: str | Path, docs: Sequence[PubTatorDocument], *,
                   types: Collection[str] | None = None, device: str = "auto",
                   label_map: Mapping[str, str | None] | None = None, dtype: str | None = None,
                   max_batch_tokens: int = 8192, stride: int = 32,
                   forget: bool = False) -> tuple[Scores, list]:
    """Load a model with `load_tagger`, tag the documents and score them strictly.

    `forget` drops the loaded model from ner's process-wide cache afterwards (it caches by
    path, so a checkpoint rewritten at the same path would otherwise not be reloaded).
    """
    tagger = load_tagger(str(model), device=device, label_map=label_map, dtype=dtype)
    try:
        mentions = predict_documents(tagger, docs, max_batch_tokens=max_batch_tokens,
                                     stride=stride)
    finally:
        if forget:
            del tagger
            clear_taggers()
    return score_documents(docs, mentions, types=types), mentions


@task(name="tag-documents", cache_policy=NO_CACHE)
def tag_documents(docs: Sequence[PubTatorDocument], model: str, *, device: str = "auto",
                  label_map: Mapping[str, str | None] | None = None, dtype: str | None = None,
                  max_batch_tokens: int = 8192, stride: int = 32) -> tuple[list, tuple[str, ...]]:
    """Tag documents through the pipeline path (split, then Tagger): (mentions, model types)."""
    tagger = load_tagger(str(model), device=device, label_map=label_map, dtype=dtype)
    started = time.perf_counter()
    mentions = predict_documents(tagger, docs, max_batch_tokens=max_batch_tokens, stride=stride)
    get_run_logger().info("tagged %d mentions in %d documents with %s in %.1f s", len(mentions),
                          len(docs), tagger.model_id, time.perf_counter() - started)
    return mentions, tagger.types
