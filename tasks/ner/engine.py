"""Tag entity mentions (Chemical, Disease, ...) in sentences with a transformer token classifier.

`load_tagger` loads a token-classification model once per process (cached by model, device and
dtype) and returns a `Tagger`; `Tagger.tag` turns sentences into `Mention`s with document offsets.

Model loading (device, dtype, int8) lives in `litmine.tasks.ner.model`. The engine: a background
thread tokenises the texts (in chunks of `CHUNK_TEXTS`), sorts each
chunk's rows by length and builds padded batches under a token budget (padding only to the
batch's longest row), while the calling thread runs the model under `torch.inference_mode` (fp16
on CUDA, from pinned memory with non-blocking copies; bf16 on CPUs with AMX or AVX512-BF16, else
fp32: `litmine.tasks.loading.choose_dtype`) and decodes spans with numpy
(`litmine.tasks.ner.labels.decode_spans`). A sentence longer than the model's maximum length is tagged
in overlapping windows, never truncated. Results do not depend on the batch budget or the chunk
size (tested). dtype="int8" (CPU only, opt-in) quantises the Linear layers dynamically: faster,
but its labels differ slightly from fp32 (docs/performance.md has the measurements).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError

from litmine.errors import ModelError
from litmine.model_packages import locate_model
from litmine.tasks.ner.casing import case_types
from litmine.tasks.ner.ensemble import EnsembleTagger, is_ensemble, read_ensemble
from litmine.tasks.ner.labels import AGGREGATIONS, DEFAULT_AGGREGATION, compile_labels, decode_spans
from litmine.tasks.cpu_workers import DEFAULT_CPU_WORKERS, single_threaded_ops
from litmine.tasks.loading import DTYPE_NAMES, resolve_device, resolve_dtype, resolve_model_source
from litmine.tasks.ner.markers import join_marker, split_marker
from litmine.tasks.ner.model import load_model, with_marker
from litmine.tasks.ner.stats import NerStats
from litmine.tasks.ner.token_states import NerResult, states_by_document
from litmine.tasks.ner.units import text_units, units_to_mentions
from litmine.tasks.isolation import failed_pmids, isolated
from litmine.tasks.records import DocumentFailure, Mention, Sentence

logger = logging.getLogger(__name__)

#: Token budget per batch (rows x longest row) when none is given. CPU: 512-1024 were the
#: fastest of 512..8192 for all-MiniLM-L6-v2 on the bundled sample on an idle 2-core machine
#: (median wall 6.8 s at 1024, 7.3 s at 2048, 7.9 s at 4096; docs/performance.md); a batch's
#: activations then stay in cache. CUDA: large batches keep the GPU busy (not measured:
#: no GPU was lent to this work).
DEFAULT_BATCH_TOKENS = {"cpu": 1024, "cuda": 16384}
#: Texts tokenised and sorted together: a longer chunk pads less, a shorter one starts sooner.
CHUNK_TEXTS = 4096
#: Padded batches the tokenising thread may build ahead of the model.
PREFETCH_BATCHES = 4
_LOCK = threading.Lock()
_MODELS: dict[tuple[str, str, str], dict[str, Any]] = {}
_TAGGERS: dict[tuple, Tagger] = {}


class TokenPredictions(NamedTuple):
    """One text's sub-word tokens: character offsets, word ids and label probabilities."""

    offsets: np.ndarray   # int32 [n_tokens, 2], character offsets into the text
    word_ids: np.ndarray  # int64 [n_tokens], -1 for a token of no word
    probs: np.ndarray     # float32 [n_tokens, n_labels]
    #: [n_tokens, hidden] hidden states of one encoder layer (`states_layer`), in the model's
    #: dtype, when asked for: what a relation model reading this pass needs
    #: (`litmine.tasks.ner.token_states`).
    states: torch.Tensor | None = None


def plan_windows(n_tokens: int, width: int, stride: int) -> list[tuple[int, int]]:
    """Token windows [start, end) of at most `width` covering n tokens, overlapping by `stride`."""
    if n_tokens <= width:
        return [(0, n_tokens)] if n_tokens else []
    if not 0 <= stride < width:
        raise ValueError(f"stride must be in [0, {width}) for windows of {width} tokens: {stride}")
    windows, start = [], 0
    while start + width < n_tokens:
        windows.append((start, start + width))
        start += width - stride
    windows.append((n_tokens - width, n_tokens))  # the last window ends at the sentence end
    return windows


def plan_batches(lengths: Sequence[int], max_batch_tokens: int) -> list[list[int]]:
    """Group row indexes, longest first, so that rows x longest row <= max_batch_tokens.

    A row longer than the budget gets a batch of its own.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for i in order:
        if batches and (len(batches[-1]) + 1) * lengths[batches[-1][0]] <= max_batch_tokens:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


class Tagger:
    """A loaded NER model: tags sentences or texts with canonical entity types."""

    def __init__(self, loaded: Mapping[str, Any], model_name: str, device: torch.device,
                 label_map: Mapping[str, str | None] | None = None,
                 dtype: torch.dtype | None = None):
        self.model_name = model_name
        self.model_id = f"{model_name}@{loaded['fingerprint']}"
        if dtype == torch.qint8:  # its labels differ from fp32's: say so wherever the id goes
            self.model_id += "+int8"
        self.device = device
        self.dtype = dtype
        #: The short name ("bf16") that `load_tagger(dtype=...)` takes back, e.g. on a worker.
        self.dtype_name: str = DTYPE_NAMES.get(dtype, "fp32")
        self.labels: tuple[str, ...] = loaded["labels"]
        self.label_map = dict(label_map or {})
        self.max_length: int = loaded["max_length"]
        #: (layers, fingerprint) pairs, fewest layers first: its states after that many layers
        #: are those of the model of that fingerprint (`states_fingerprint`).
        self.states_from: tuple[tuple[int, str], ...] = tuple(loaded.get("states_from", ()))
        #: The task marker it tags under (`litmine.tasks.ner.markers`); None: trained without.
        self.marker: str | None = loaded.get("marker")
        #: "sentence", or "document": `tag` runs each document's sentences as one text.
        self.unit: str = loaded["unit"]
        #: Whether the model reads each word's case class as its token type IDs
        #: (`litmine.tasks.ner.casing`; trained with --case-types).
        self.case_types: bool = bool(loaded.get("case_types"))
        self.max_batch_tokens = DEFAULT_BATCH_TOKENS["cuda" if device.type == "cuda" else "cpu"]
        #: Threads running the model on separate batches (CPU); one on a GPU (one stream).
        self.workers = DEFAULT_CPU_WORKERS if device.type == "cpu" else 1
        self.table = compile_labels(self.labels, self.label_map)
        self.types: tuple[str, ...] = self.table.types
        self.stats = NerStats()
        self._stats_lock = threading.Lock()
        self._model = loaded["model"]
        self._tokenizer = loaded["tokenizer"]
        self._prefix = np.asarray(loaded["prefix"], np.int64)
        self._suffix = np.asarray(loaded["suffix"], np.int64)
        self._pad_id = loaded["pad_id"]

    def __repr__(self) -> str:
        return f"Tagger({self.model_id!r}, device={str(self.device)!r}, types={self.types})"

    def _count(self, **amounts: float) -> None:
        with self._stats_lock:
            for name, amount in amounts.items():
                setattr(self.stats, name, getattr(self.stats, name) + amount)

    def predict_tokens(self, texts: Sequence[str], **kw: Any) -> list[TokenPredictions]:
        """Sub-word tokens of each text with their label probabilities, in input order."""
        return list(self.iter_predictions(texts, **kw))

    def iter_predictions(self, texts: Sequence[str], *, max_batch_tokens: int | None = None,
                         stride: int = 32, chunk_texts: int = CHUNK_TEXTS,
                         workers: int | None = None, states_layer: int | None = None
                         ) -> Iterator[TokenPredictions]:
        """`predict_tokens`, yielded text by text as each chunk of texts is done.

        `workers` > 1 (CPU only; default `self.workers`) runs that many batches at once, each
        on one torch thread (`single_threaded_ops`); 0 or 1 runs them one by one on torch's
        intra-op threads, as they are. `states_layer`: also keep each token's hidden state
        after that many encoder layers (0: the embeddings), from the same forward pass.
        """
        budget = max_batch_tokens or self.max_batch_tokens
        chunk_texts = max(1, chunk_texts)
        workers = self.workers if workers is None else workers
        workers = max(1, workers) if self.device.type == "cpu" else 1
        width = self.max_length - len(self._prefix) - len(self._suffix)
        if not 0 <= stride < width:
            raise ValueError(f"stride must be in [0, {width}) for this model: {stride}")
        depth = getattr(self._model.config, "num_hidden_layers", None)
        if states_layer is not None and depth is not None and not 0 <= states_layer <= depth:
            raise ValueError(f"states_layer must be in [0, {depth}] for {self.model_name} "
                             f"({depth} layers): {states_layer}")
        items: queue.Queue = queue.Queue(PREFETCH_BATCHES)
        stop = threading.Event()
        worker = threading.Thread(target=self._prepare, name="litmine-ner-tokenise", daemon=True,
                                  args=(list(texts), budget, stride, chunk_texts, items, stop))
        worker.start()
        pool = ThreadPoolExecutor(workers, "litmine-ner-model") if workers > 1 else None
        try:
            with single_threaded_ops() if pool else nullcontext():
                yield from self._run(items, pool, states_layer)
        finally:
            stop.set()
            if pool:
                pool.shutdown(wait=True, cancel_futures=True)
            worker.join()

    def token_probabilities(self, rows: Sequence[Sequence[int]], *,
                            types: Sequence[Sequence[int]] | None = None,
                            max_batch_tokens: int | None = None) -> list[np.ndarray]:
        """Label probabilities [len(row), labels] of rows of token IDs without special tokens,
        as this model reads them (its own prefix, task marker and suffix around each): a
        teacher's targets when training another model (`litmine.tasks.training.distill`).
        `types`: each row's case classes, which a model trained with case types reads.
        A ValueError for a row longer than the model reads in one window, or for a model
        reading case classes given none."""
        if self.case_types and types is None:
            raise ValueError(f"{self.model_name} reads each word's case (--case-types); "
                             "pass the rows' case classes")
        ids = [np.asarray(r, np.int64) for r in rows]
        cases = [np.asarray(t, np.int64) for t in types] if self.case_types else None
        p, n_special = len(self._prefix), len(self._prefix) + len(self._suffix)
        if ids and max(map(len, ids)) + n_special > self.max_length:
            raise ValueError(f"{self.model_name} reads {self.max_length - n_special} tokens at "
                             f"once; a row has {max(map(len, ids))}")
        spans = [(i, 0, len(x)) for i, x in enumerate(ids)]
        out: list = [None] * len(ids)  # every row is in one batch
        for batch in plan_batches([len(x) + n_special for x in ids],
                                  max_batch_tokens or self.max_batch_tokens):
            probs, _ = self._forward(self._pad(batch, spans, ids, cases))
            for j, r in enumerate(batch):
                out[r] = probs[j, p:p + len(ids[r])]
        return out

    def states_fingerprint(self, layer: int) -> str:
        """What this model's token states after `layer` encoder layers are: the fingerprint of
        the base model whose first layers it kept unchanged (`litmine train --freeze-layers`),
        so a relation head trained on that model's states reads these; else its own."""
        if self.dtype != torch.qint8:  # int8 weights change every layer
            for layers, fingerprint in self.states_from:
                if layer <= layers:
                    return fingerprint
        return self.model_id.rsplit("@", 1)[-1]

    def vocabulary(self) -> dict[str, int]:
        """The tokenizer's vocabulary (token -> ID)."""
        return self._tokenizer.get_vocab()

    def _prepare(self, texts: list[str], budget: int, stride: int, chunk_texts: int,
                 items: queue.Queue, stop: threading.Event) -> None:
        """Background thread: tokenise, window, sort and pad each chunk of texts into batches."""
        def put(item) -> bool:
            while not stop.is_set():
                try:
                    items.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        n_special = len(self._prefix) + len(self._suffix)
        width = self.max_length - n_special
        try:
            for first in range(0, len(texts), chunk_texts):
                started = time.perf_counter()
                encodings = self._tokenizer.encode_batch(texts[first:first + chunk_texts],
                                                         add_special_tokens=False)
                ids = [np.asarray(enc.ids, np.int64) for enc in encodings]
                offsets = [np.asarray(enc.offsets, np.int32).reshape(-1, 2) for enc in encodings]
                word_ids = [np.array([-1 if w is None else w for w in enc.word_ids], np.int64)
                            for enc in encodings]
                cases = ([case_types(text, o, w) for text, o, w in
                          zip(texts[first:first + chunk_texts], offsets, word_ids)]
                         if self.case_types else None)
                rows = [(i, s, e) for i, x in enumerate(ids)
                        for s, e in plan_windows(len(x), width, stride)]
                batches = plan_batches([e - s + n_special for _, s, e in rows], budget)
                self._count(texts=len(ids), tokens=sum(map(len, ids)), rows=len(rows),
                            tokenise_s=time.perf_counter() - started)
                if not put(("chunk", offsets, word_ids, rows, len(batches))):
                    return
                for batch in batches:
                    started = time.perf_counter()
                    tensors = self._pad(batch, rows, ids, cases)
                    self._count(tokenise_s=time.perf_counter() - started)
                    if not put(("batch", batch, tensors)):
                        return
        except BaseException as exc:  # noqa: BLE001  (handed to the calling thread, which raises it)
            put(("error", exc))
        finally:
            put(("done",))

    def _pad(self, batch: list[int], rows: list[tuple[int, int, int]], ids: list[np.ndarray],
             cases: list[np.ndarray] | None = None) -> tuple[torch.Tensor, ...]:
        """[CLS] window [SEP] rows padded to the batch's longest (to a multiple of 8 on CUDA):
        token IDs, attention mask and, with `cases`, token type IDs (case classes; 0 on the
        special tokens)."""
        p, q = len(self._prefix), len(self._suffix)
        longest = max(rows[r][2] - rows[r][1] for r in batch) + p + q
        cuda = self.device.type == "cuda"
        if cuda:  # tensor cores want dimensions in multiples of 8 (NVIDIA DL performance guide)
            longest = -(-longest // 8) * 8
        input_ids = np.full((len(batch), longest), self._pad_id, np.int64)
        mask = np.zeros((len(batch), longest), np.int64)
        types = np.zeros((len(batch), longest), np.int64) if cases is not None else None
        input_ids[:, :p] = self._prefix
        for j, r in enumerate(batch):
            i, s, e = rows[r]
            input_ids[j, p:p + e - s] = ids[i][s:e]
            input_ids[j, p + e - s:p + e - s + q] = self._suffix
            mask[j, :p + e - s + q] = 1
            if types is not None:
                types[j, p:p + e - s] = cases[i][s:e]
        tensors = (torch.from_numpy(input_ids), torch.from_numpy(mask),
                   *(() if types is None else (torch.from_numpy(types),)))
        if cuda:  # page-locked, so that the copy to the GPU can be asynchronous
            tensors = tuple(t.pin_memory() for t in tensors)
        return tensors

    def _forward(self, tensors: tuple[torch.Tensor, ...],
                 states_layer: int | None = None
                 ) -> tuple[np.ndarray, float] | tuple[np.ndarray, float, torch.Tensor]:
        """Label probabilities [rows, longest, labels] of one padded batch, and the seconds;
        with `states_layer`, also that layer's hidden states [rows, longest, hidden] (CPU)."""
        started = time.perf_counter()
        with torch.inference_mode():
            ids, mask, *types = (t.to(self.device, non_blocking=True) for t in tensors)
            extra = {"token_type_ids": types[0]} if types else {}
            result = self._model(input_ids=ids, attention_mask=mask, **extra,
                                 output_hidden_states=states_layer is not None)
            out = result.logits.float().softmax(-1).cpu().numpy()
            if states_layer is not None:
                states = result.hidden_states[states_layer].cpu()
                return out, time.perf_counter() - started, states
        return out, time.perf_counter() - started

    def _run(self, items: queue.Queue, pool: ThreadPoolExecutor | None,
             states_layer: int | None = None) -> Iterator[TokenPredictions]:
        """Calling thread: run (or hand to `pool`) each batch; hand out each chunk's results."""
        p = len(self._prefix)
        n_labels = len(self.labels)
        pending: list = []
        while True:
            item = items.get()
            if item[0] == "error":
                raise item[1]
            if item[0] == "done":
                return
            if item[0] == "chunk":
                _, offsets, word_ids, rows, remaining = item
                pending = []
            else:
                _, batch, tensors = item
                pending.append((batch, tensors[0].numel(),
                                pool.submit(self._forward, tensors, states_layer)
                                if pool else self._forward(tensors, states_layer)))
                remaining -= 1
            if remaining:
                continue
            lengths = [len(o) for o in offsets]
            windowed = {i for i, s, e in rows if e - s < lengths[i]}
            probs: list[np.ndarray | None] = [
                np.zeros((n, n_labels), np.float32) if (i in windowed or n == 0) else None
                for i, n in enumerate(lengths)]
            best = {i: np.full(lengths[i], -1, np.int64) for i in windowed}
            states: list[torch.Tensor | None] = [None] * len(lengths)
            for batch, cells, result in pending:
                out, seconds, *hidden = result.result() if pool else result
                started = time.perf_counter()
                for j, r in enumerate(batch):
                    i, s, e = rows[r]
                    if i in best:
                        better = _keep_best(s, e, lengths[i], out[j, p:p + e - s], probs[i],
                                            best[i])
                        if hidden:
                            if states[i] is None:
                                states[i] = hidden[0].new_zeros((lengths[i],
                                                                 hidden[0].shape[-1]))
                            window = states[i][s:e]
                            window[torch.from_numpy(better)] = hidden[0][j, p:p + e - s][
                                torch.from_numpy(better)]
                    else:
                        probs[i] = out[j, p:p + e - s]
                        if hidden:
                            states[i] = hidden[0][j, p:p + e - s].clone()
                self._count(batches=1, padded_tokens=cells, model_s=seconds,
                            decode_s=time.perf_counter() - started)
            pending = []
            for i, prob in enumerate(probs):
                if states_layer is not None and states[i] is None:  # a text of no token
                    states[i] = torch.zeros((0, self._model.config.hidden_size))
                yield TokenPredictions(offsets[i], word_ids[i], prob, states[i])

    def tag_texts(self, texts: Sequence[str], *, max_batch_tokens: int | None = None,
                  stride: int = 32, aggregation: str = DEFAULT_AGGREGATION,
                  chunk_texts: int = CHUNK_TEXTS,
                  workers: int | None = None,
                  on_error: Callable[[int, Exception], None] | None = None,
                  states_layer: int | None = None,
                  states: list[tuple[np.ndarray, torch.Tensor]] | None = None,
                  ) -> list[list[tuple[int, int, str, float]]]:
        """Entity spans ``(start, end, type, score)`` of each text; offsets index that text.

        aggregation "viterbi" (the default) labels whole words by their first sub-token, the
        sentence's labels the most probable sequence the scheme allows; "first" each word its
        own most probable label; "simple" reproduces transformers'
        pipeline(aggregation_strategy="simple") on the same token predictions (see
        `litmine.tasks.ner.labels.decode_spans`). `on_error(i, exc)`: a text whose decoding
        raises gets no spans and is reported, instead of raising.
        `states_layer` with a list `states`: each text's (token offsets, hidden states after
        that many layers) is appended to `states`, from the same pass.
        """
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
        results = []
        decode_s = 0.0
        for text, pred in zip(texts, self.iter_predictions(
                texts, max_batch_tokens=max_batch_tokens, stride=stride, chunk_texts=chunk_texts,
                workers=workers, states_layer=states_layer if states is not None else None)):
            started = time.perf_counter()
            if states is not None:
                states.append((pred.offsets, pred.states))
            try:
                found = decode_spans(text, pred.offsets, pred.word_ids, pred.probs, self.table,
                                     aggregation)
            except Exception as exc:
                if on_error is None:
                    raise
                on_error(len(results), exc)
                found = []
            results.append(found)
            decode_s += time.perf_counter() - started
        self._count(decode_s=decode_s)
        return results

    def tag(self, sentences: Sequence[Sentence], *, max_batch_tokens: int | None = None,
            stride: int = 32, aggregation: str = DEFAULT_AGGREGATION) -> list[Mention]:
        """Mentions in the sentences, with document offsets (sentence.start + local offset).

        A model trained on whole documents (`unit` "document") sees each run of one
        document's consecutive sentences as one text (`join_sentences`); a mention is cut at
        sentence ends, one piece per sentence it touches.
        """
        units = text_units(sentences, self.unit)
        spans = self.tag_texts([u.text for u in units], max_batch_tokens=max_batch_tokens,
                               stride=stride, aggregation=aggregation)
        return units_to_mentions(units, spans)

    def tag_documents(self, sentences: Sequence[Sentence], *, max_batch_tokens: int | None = None,
                      stride: int = 32, aggregation: str = DEFAULT_AGGREGATION,
                      states_layer: int | None = None) -> NerResult:
        """`tag`, document by document for what can fail on one document (decoding a text's
        spans, mapping them to sentences): such a document is a failure of stage "ner" and has
        no mentions; the model itself runs on the whole batch (its failure is the batch's).

        `states_layer`: also each document's token states after that many encoder layers
        (`DocumentStates`), from the same pass, for a relation model that reads them.
        """
        units = text_units(sentences, self.unit)
        failures: list[DocumentFailure] = []

        def decode_failed(i: int, exc: Exception) -> None:
            with isolated("ner", units[i].sentences[0].pmid, failures):
                raise exc

        kept: list | None = [] if states_layer is not None else None
        spans = self.tag_texts([u.text for u in units], max_batch_tokens=max_batch_tokens,
                               stride=stride, aggregation=aggregation, on_error=decode_failed,
                               states_layer=states_layer, states=kept)
        mentions: list[Mention] = []
        for unit, found in zip(units, spans):
            pmid = unit.sentences[0].pmid
            with isolated("ner", pmid, failures):
                mentions += units_to_mentions([unit], [found])
        failed = failed_pmids(failures)
        states = ({} if kept is None else
                  states_by_document(units, kept, states_layer, self.model_id,
                                     self.states_fingerprint(states_layer), failed))
        return NerResult([m for m in mentions if m.pmid not in failed], failures, states)


def _keep_best(s: int, e: int, n: int, out: np.ndarray, probs: np.ndarray,
               best: np.ndarray) -> np.ndarray:
    """Keep each token's prediction from the window where it is farthest from a cut edge;
    return which of the window's tokens were kept."""
    t = np.arange(s, e)
    left = t - s if s > 0 else np.full(e - s, n)
    right = e - 1 - t if e < n else np.full(e - s, n)
    dist = np.minimum(left, right)
    better = dist > best[s:e]
    best[s:e][better] = dist[better]
    probs[s:e][better] = out[better]
    return better


def load_tagger(model: str, *, device: str = "auto", label_map: dict[str, str | None] | None = None,
                dtype: str | None = None) -> Tagger:
    """The `Tagger` for a model directory or hub ID, loaded once per process and then reused.

    `dtype`: "auto" or None (bf16 on a CPU with AMX or AVX512-BF16, else fp32; fp16 on CUDA),
    "fp32", "fp16", "bf16" or "int8" (`litmine.tasks.loading.choose_dtype`).

    An ensemble directory (`litmine.tasks.ner.ensemble`) gives an `EnsembleTagger` over its
    members, each loaded (and cached) like a single model.

    ``MODEL#KEY`` tags under the task marker KEY of a model trained with markers
    (`litmine.tasks.ner.markers`): the same weights, another marker, another fingerprint. The
    tagger's name is the spec with KEY as `split_marker` writes it. ``ENSEMBLE#KEY`` gives KEY to
    the members trained with markers whose line in the ensemble file names no marker.
    """
    base, marker = split_marker(str(model))
    model_name = join_marker(base, marker)
    torch_device = resolve_device(device, "NER")
    torch_dtype = resolve_dtype(dtype, torch_device, "NER")
    local = locate_model(base, "NER", "NER model")  # a litmine model's name -> its folder
    if is_ensemble(local):
        members, weights = read_ensemble(local)
        taggers = [load_tagger(m, device=device, label_map=label_map, dtype=dtype)
                   for m in members]
        if marker:  # the members with markers and none of their own in the file take it
            taggers = [load_tagger(join_marker(m, marker), device=device, label_map=label_map,
                                   dtype=dtype) if t.marker and not split_marker(m)[1] else t
                       for m, t in zip(members, taggers)]
            if not any(t.marker == marker for t in taggers):
                raise ModelError(f"NER: {model_name!r}: no member of the ensemble takes the "
                                 f"task marker {marker!r} (members: {', '.join(members)}); "
                                 f"drop '#{marker}'")
        key = ("ensemble", str(Path(local).expanduser().resolve()), str(torch_device),
               str(torch_dtype), tuple(sorted((label_map or {}).items())), tuple(weights),
               tuple(t.model_id for t in taggers))
        with _LOCK:
            if key not in _TAGGERS:
                _TAGGERS[key] = EnsembleTagger(taggers, weights, model_name)
            return _TAGGERS[key]
    source = resolve_model_source(base, "NER")[1]
    key = (source, str(torch_device), str(torch_dtype))
    # One Tagger per way of naming the model (rows record `model_name`: a shipped model's name
    # and its folder's path stay apart), sharing the loaded weights; spellings of one path, one.
    named = Path(base).expanduser()
    named_key = str(named.resolve()) if named.exists() else base
    tagger_key = (*key, named_key, marker, tuple(sorted((label_map or {}).items())))
    with _LOCK:
        if tagger_key in _TAGGERS:
            return _TAGGERS[tagger_key]
        if key not in _MODELS:
            started = time.perf_counter()
            _MODELS[key] = load_model(base, torch_device, torch_dtype)
            logger.info("NER: loaded %s on %s (%s) in %.1f s", base, torch_device,
                        torch_dtype, time.perf_counter() - started)
        loaded = with_marker(_MODELS[key], marker, base)
        if not label_map and all(lbl.startswith("LABEL_") for lbl in loaded["labels"]):
            raise ModelError(f"NER: model {model_name!r} has no label names (config id2label is "
                             f"{list(loaded['labels'])}); pass label_map={{'LABEL_1': "
                             "'Chemical', ...}} or use a NER model with named labels.")
        tagger = _TAGGERS[tagger_key] = Tagger(loaded, model_name, torch_device, label_map,
                                                torch_dtype)
        return tagger


def clear_taggers() -> None:
    """Forget every loaded model (frees memory; the next `load_tagger` loads again)."""
    with _LOCK:
        _TAGGERS.clear()
        _MODELS.clear()


@task(name="tag-documents", cache_policy=NO_CACHE)
def tag_documents(sentences: Sequence[Sentence], model: str, device: str = "auto", *,
                  dtype: str | None = None, states_layer: int | None = None) -> NerResult:
    """Prefect task of `mine`/`refresh`: `Tagger.tag_documents` (a document whose spans cannot
    be decoded is a failure, not the batch's error), the model loaded once per worker process;
    `states_layer`: keep the pass's token states for the relation step."""
    tagger = load_tagger(model, device=device, dtype=dtype)
    started = time.perf_counter()
    result = tagger.tag_documents(sentences, states_layer=states_layer)
    mentions, failures = result.mentions, result.failures
    try:
        run_logger = get_run_logger()
    except MissingContextError:  # called as tag_documents.fn(...) outside a flow
        run_logger = logger
    run_logger.info("Tagged %d mentions in %d sentences with %s on %s in %.1f s (%d documents "
                    "failed)", len(mentions), len(sentences), tagger.model_id, tagger.device,
                    time.perf_counter() - started, len({f.pmid for f in failures}))
    return result


@task(name="tag-entities", cache_policy=NO_CACHE)
def tag_entities(sentences: Sequence[Sentence], model: str, device: str = "auto", *,
                 label_map: dict[str, str | None] | None = None, dtype: str | None = None,
                 max_batch_tokens: int | None = None, stride: int = 32,
                 aggregation: str = DEFAULT_AGGREGATION) -> list[Mention]:
    """Tag entity mentions in sentences with a NER model (loaded once per worker process)."""
    tagger = load_tagger(model, device=device, label_map=label_map, dtype=dtype)
    started = time.perf_counter()
    mentions = tagger.tag(sentences, max_batch_tokens=max_batch_tokens, stride=stride,
                          aggregation=aggregation)
    try:
        run_logger = get_run_logger()
    except MissingContextError:  # called as tag_entities.fn(...) outside a flow
        run_logger = logger
    run_logger.info("Tagged %d mentions in %d sentences with %s on %s in %.1f s", len(mentions),
                    len(sentences), tagger.model_id, tagger.device, time.perf_counter() - started)
    return mentions
