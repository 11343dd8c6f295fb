"""The dense level of entity linking: a mention that no lexicon name matched takes the ID of the
lexicon name nearest it in a sentence encoder's space.

The idea is SapBERT's (Liu et al. 2021, "Self-alignment pretraining for biomedical entity
representations", NAACL): names of one concept sit close together in an encoder's space even
when they share few characters ("GI bleeding" and "Gastrointestinal Hemorrhage"), which the
character-trigram level cannot see. The encoder is a sentence encoder that
`Settings.dense_linker` names (`LITMINE_DENSE_LINKER`; the bundled all-MiniLM-L6-v2,
`DEFAULT_DENSE_ENCODER`, was measured); each type's lexicon names (one per normalised form, the
fuzzy level's list) are embedded once, mean-pooled (as all-MiniLM-L6-v2 was trained) and
L2-normalised, and a mention takes its nearest name's ID when their cosine is at least
`DENSE_THRESHOLD`.

Off by default, by measurement (docs/relations.md, "The dense level"): on gold Disease mentions
it raises concept F1 (BioRED dev 85.76 -> 86.70, BC5CDR dev 89.26 -> 89.93, NCBI-disease dev
81.00 -> 81.52), but on the NER model's mentions it links spans that are no gold disease
("pancreas", "sarcomere", "gain of body weight") and end to end it loses (BioRED dev Disease
concepts 80.25 -> 79.23, BC5CDR CID 51.11 -> 50.35). Fine-tuning MiniLM on the lexicon's
synonyms (SapBERT's recipe, 1,000 steps) was no better than the encoder as it ships.

Embedding the names takes 60-90 s on two CPU cores (47,525 Disease names), so the
matrix is built at the first mention that needs it and cached as float16 in `Settings.cache_dir`,
keyed by the lexicon's sha256 and the encoder's files; later processes load it in a second.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: The encoder the dense level was measured with: the bundled all-MiniLM-L6-v2
#: (`litmine.tasks.model_names`).
DEFAULT_DENSE_ENCODER = "all-MiniLM-L6-v2"
#: Types the dense level serves (where it was measured).
DENSE_TYPES = ("Disease",)
#: Cosine accepted, chosen on BioRED dev's gold Disease mentions (the selection set): concept F1
#: 85.67 at 0.78, 86.70 at 0.8, 86.71 at 0.82, 86.28 at 0.85, 86.02 at 0.9, 85.94 at 0.95;
#: 85.76 without the level.
DENSE_THRESHOLD = 0.8
#: Bump when the cached matrices' layout changes.
DENSE_CACHE_VERSION = 2
#: Names embedded per forward pass, and the word pieces a name is cut to.
BATCH, MAX_WORD_PIECES = 64, 64

def dense_encoder(setting: str | None) -> str | None:
    """The encoder a `Settings.dense_linker` value names, None for "none" or empty (off)."""
    value = (setting or "").strip()
    return None if value.lower() in ("", "none") else value


class DenseLevel:
    """Nearest lexicon names of mention texts, per type; the index is built at first use."""

    def __init__(self, encoder: str = DEFAULT_DENSE_ENCODER, *,
                 threshold: float = DENSE_THRESHOLD, types: Sequence[str] = DENSE_TYPES,
                 cache_dir: Path | None = None, cache_key: str = ""):
        self.encoder = encoder
        self.threshold = threshold
        self.types = tuple(types)
        self._cache_dir, self._cache_key = cache_dir, cache_key
        self._embedder = None
        self._index: dict[str, tuple[np.ndarray, list[str], list[str]]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DenseLevel({self.encoder!r}, threshold={self.threshold}, types={self.types})"

    def __getstate__(self) -> dict:
        """Pickled (to a Dask worker) without the encoder, the index or the lock: the
        receiving process loads them from the cache at its first use."""
        state = dict(self.__dict__)
        state.update(_embedder=None, _index={}, _lock=None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def nearest(self, texts: Sequence[str], type_: str,
                names: Callable[[], tuple[list[str], list[str]]]) -> list[tuple[str, float, str]]:
        """(concept ID, cosine, name) of the nearest lexicon name of each text; `names` gives
        the type's (names, IDs) when the index must be built."""
        if not texts or type_ not in self.types:
            return [("", 0.0, "")] * len(texts)
        with self._lock:
            matrix, ids, labels = self._type_index(type_, names)
            if not ids:
                return [("", 0.0, "")] * len(texts)
            queries = self._embed(list(texts))
        sims = queries @ matrix.T.astype(np.float32)
        best = sims.argmax(axis=1)
        return [(ids[k], float(sims[i, k]), labels[k]) for i, k in enumerate(best)]

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self._embedder is None:
            from litmine.tasks.loading import load_pretrained

            started = time.perf_counter()
            self._embedder = load_pretrained(self.encoder, "encoder", stage="linking",
                                             device="cpu")
            log.info("linking: loaded %s for the dense level in %.1f s", self.encoder,
                     time.perf_counter() - started)
        return embed_names(self._embedder.tokenizer, self._embedder.model, texts)

    def _type_index(self, type_: str, names: Callable[[], tuple[list[str], list[str]]]
                    ) -> tuple[np.ndarray, list[str], list[str]]:
        if type_ in self._index:
            return self._index[type_]
        labels, ids = names()
        cache = self._cache_path(type_)
        matrix = _read(cache, len(labels)) if cache else None
        if matrix is None:
            started = time.perf_counter()
            matrix = self._embed(labels).astype(np.float16)
            log.info("linking: embedded %d %s names with %s for the dense level in %.0f s",
                     len(labels), type_, self.encoder, time.perf_counter() - started)
            if cache:
                _write(cache, matrix)
        self._index[type_] = (matrix, ids, labels)
        return self._index[type_]

    def _cache_path(self, type_: str) -> Path | None:
        if self._cache_dir is None or not self._cache_key:
            return None
        encoder = hashlib.sha256(encoder_fingerprint(self.encoder).encode()).hexdigest()[:16]
        return (self._cache_dir /
                f"dense-{self._cache_key[:24]}-{encoder}-{type_}-v{DENSE_CACHE_VERSION}.npy")


def embed_names(tokenizer, model, texts: Sequence[str]) -> np.ndarray:
    """One L2-normalised mean-pooled vector per name (float32), names sorted by length into
    batches of `BATCH` so that little is padding; at most `MAX_WORD_PIECES` word pieces each (a
    name is short: the longest of the shipped lexicon's 47,525 Disease names has 61 with [CLS]
    and [SEP])."""
    import torch

    out = np.zeros((len(texts), model.config.hidden_size), np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    with torch.inference_mode():
        for start in range(0, len(order), BATCH):
            rows = order[start:start + BATCH]
            batch = tokenizer([texts[i] or "" for i in rows], padding=True, truncation=True,
                              max_length=MAX_WORD_PIECES, return_tensors="pt")
            mask = batch["attention_mask"].unsqueeze(-1).float()
            hidden = model(**batch).last_hidden_state.float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            out[rows] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    return out


def encoder_fingerprint(encoder: str) -> str:
    """The encoder's name with its weights file's size and modification time (a local model
    retrained in place gets a new index), or the name alone where no file is found."""
    from litmine.errors import ModelError
    from litmine.tasks.model_names import resolve_model_source

    try:
        _, source = resolve_model_source(encoder, "linking")
    except ModelError:  # the encoder's own load names what is wrong
        return encoder
    for name in ("model.safetensors", "pytorch_model.bin"):
        path = Path(source) / name
        if path.is_file():
            stat = path.stat()
            return f"{encoder}|{stat.st_size}|{int(stat.st_mtime)}"
    return encoder


def _read(path: Path, rows: int) -> np.ndarray | None:
    try:
        matrix = np.load(path)
    except (OSError, ValueError):
        return None
    return matrix if matrix.ndim == 2 and matrix.shape[0] == rows else None


def _write(path: Path, matrix: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp.npy")
        np.save(partial, matrix)
        os.replace(partial, path)  # atomic: a concurrent reader sees all of it or nothing
    except OSError as exc:
        log.warning("dense linking index %s not written (%s); the next process builds it "
                    "again", path, exc)
