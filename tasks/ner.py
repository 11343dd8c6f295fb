"""Tag entity mentions (Chemical, Disease, ...) in sentences with a transformer token classifier.

`load_tagger` loads a token-classification model once per process (cached by model, device and
dtype) and returns a `Tagger`; `Tagger.tag` turns sentences into `Mention`s with document offsets.
Sentences are tokenised once, sorted by length and batched by a token budget; a sentence longer
than the model's maximum length is tagged in overlapping windows, never truncated.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError

from litmine.errors import ModelError
from litmine.tasks.labels import canonical_type, decode_entities
from litmine.tasks.records import Mention, Sentence

logger = logging.getLogger(__name__)

_DTYPES = {"fp32": torch.float32, "float32": torch.float32, "fp16": torch.float16,
           "float16": torch.float16, "half": torch.float16, "bf16": torch.bfloat16,
           "bfloat16": torch.bfloat16}
#: Model types whose position ids start after padding_idx (fairseq convention), so that
#: max_position_embeddings (514) holds pad_token_id + 1 fewer tokens (512).
_OFFSET_POSITIONS = {"roberta", "xlm-roberta", "camembert", "longformer", "data2vec-text", "mpnet"}
_WEIGHT_SUFFIXES = {".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack"}

_LOCK = threading.Lock()
_MODELS: dict[tuple[str, str, str], dict[str, Any]] = {}
_TAGGERS: dict[tuple, Tagger] = {}


class TokenPredictions(NamedTuple):
    """One text's sub-word tokens: character offsets, word ids and label probabilities."""

    offsets: list[tuple[int, int]]
    word_ids: list[int | None]
    probs: np.ndarray  # float32 [n_tokens, n_labels]


def resolve_device(device: str = "auto") -> torch.device:
    """The torch device for "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N"."""
    name = (device or "auto").strip().lower()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ModelError(f"NER: device {device!r} was asked for, but torch {torch.__version__} "
                             "sees no CUDA GPU; use device='cpu' (or 'auto'), or install a CUDA "
                             "build of torch on a GPU machine.")
        index = torch.cuda.current_device() if name == "cuda" else name.partition(":")[2]
        if not str(index).isdigit() or int(index) >= torch.cuda.device_count():
            raise ModelError(f"NER: device {device!r} does not exist: "
                             f"{torch.cuda.device_count()} CUDA device(s) visible.")
        return torch.device(f"cuda:{int(index)}")
    raise ModelError(f"NER: unknown device {device!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N'.")


def resolve_dtype(dtype: str | None, device: torch.device) -> torch.dtype:
    """fp16 on CUDA and fp32 on CPU by default; "bf16"/"fp16"/"fp32" choose explicitly."""
    if dtype is None:
        return torch.float16 if device.type == "cuda" else torch.float32
    if str(dtype).lower() not in _DTYPES:
        raise ModelError(f"NER: unknown dtype {dtype!r}; use one of fp32, fp16, bf16.")
    result = _DTYPES[str(dtype).lower()]
    if result == torch.bfloat16 and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ModelError(f"NER: GPU {torch.cuda.get_device_name(device)} has no bfloat16; "
                         "use dtype='fp16'.")
    return result


def fingerprint_model(source: str, config: Any = None) -> str:
    """A short hash that changes when a local model's files change (config, weight sizes/mtimes)."""
    digest = hashlib.sha256()
    path = Path(source)
    if path.is_dir():
        for file in sorted(path.iterdir()):
            if file.name == "config.json":
                digest.update(file.read_bytes())
            elif file.suffix in _WEIGHT_SUFFIXES or file.name.startswith("tokenizer"):
                stat = file.stat()
                digest.update(f"{file.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    else:  # hub ID: the resolved commit when the hub says it, else the config itself
        commit = getattr(config, "_commit_hash", None)
        digest.update((commit or (config.to_json_string() if config is not None else source))
                      .encode())
    return digest.hexdigest()[:12]


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


def _resolve_source(model: str) -> str:
    """A local model directory (absolute) or a hub ID; ModelError for a missing local path."""
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelError(f"NER: {model!r} is not a model directory (no config.json); pass the "
                             "directory a model was saved to with save_pretrained().")
        return str(path.resolve())
    looks_like_path = (os.path.isabs(model) or model.startswith((".", "~")) or "\\" in model
                       or model.count("/") > 1)
    if looks_like_path:
        raise ModelError(f"NER: model directory {model!r} does not exist. Pass --model with a "
                         "directory holding config.json, weights and tokenizer files, or a "
                         "Hugging Face hub ID such as 'org/name'.")
    return model


def _load_model(model: str, device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
    """Load config, fast tokenizer and weights, checking that the model is a token classifier."""
    from tokenizers import Tokenizer
    from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

    source = _resolve_source(model)
    try:
        config = AutoConfig.from_pretrained(source)
    except (OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if Path(source).is_dir():
            raise ModelError(f"NER: cannot read the config of model directory {model!r}: "
                             f"{reason}. Re-save the model with save_pretrained().") from exc
        raise ModelError(f"NER: cannot load model {model!r} ({reason}). Pass a local model "
                         "directory, or, for a hub ID, download it first on a connected machine "
                         f"(`hf download {model}`) and unset HF_HUB_OFFLINE.") from exc
    architectures = list(getattr(config, "architectures", None) or [])
    if architectures and not any(a.endswith("ForTokenClassification") for a in architectures):
        raise ModelError(f"NER: model {model!r} is a {', '.join(architectures)}, not a token "
                         "classifier; pass a NER model (architecture ...ForTokenClassification).")
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        hf_model, info = AutoModelForTokenClassification.from_pretrained(
            source, dtype=dtype, output_loading_info=True)
    except (OSError, ValueError) as exc:
        raise ModelError(f"NER: cannot load model {model!r} as a token classifier: "
                         f"{str(exc).strip().splitlines()[0]}") from exc
    head = {k for k in hf_model.state_dict() if not k.startswith(hf_model.base_model_prefix + ".")}
    if head & set(info.get("missing_keys", ())):
        raise ModelError(f"NER: model {model!r} has no trained token-classification head "
                         f"(missing {sorted(head & set(info['missing_keys']))}); pass a "
                         "fine-tuned NER model.")
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ModelError(f"NER: model {model!r} has no fast tokenizer (tokenizer.json); convert "
                         "it with AutoTokenizer.from_pretrained(...).save_pretrained(...).")
    # A private copy without the truncation/padding a saved tokenizer.json may carry: windows
    # are cut here, and nothing mutates the copy, so threads may share it.
    rust = Tokenizer.from_str(backend.to_str())
    rust.no_truncation()
    rust.no_padding()
    probe = rust.encode("a", add_special_tokens=True)
    content = [i for i, special in enumerate(probe.special_tokens_mask) if not special]
    # The special tokens the model expects around a sentence: [CLS] ... [SEP], <s> ... </s>.
    prefix, suffix = ((probe.ids[:content[0]], probe.ids[content[-1] + 1:]) if content
                      else (probe.ids, []))
    limits = [getattr(config, "max_position_embeddings", None)]
    if limits[0] and config.model_type in _OFFSET_POSITIONS:
        limits[0] -= (config.pad_token_id or 0) + 1
    if 0 < tokenizer.model_max_length < 1_000_000:  # unset = a huge sentinel (int(1e30))
        limits.append(tokenizer.model_max_length)
    hf_model.to(device).eval()
    return {
        "model": hf_model, "tokenizer": rust, "config": config,
        "labels": tuple(config.id2label[i] for i in range(config.num_labels)),
        "prefix": prefix, "suffix": suffix,
        "pad_id": tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
        "max_length": min(x for x in limits if x) if any(limits) else 512,
        "fingerprint": fingerprint_model(source, config),
    }


class Tagger:
    """A loaded NER model: tags sentences or texts with canonical entity types."""

    def __init__(self, loaded: Mapping[str, Any], model_name: str, device: torch.device,
                 label_map: Mapping[str, str | None] | None = None):
        self.model_name = model_name
        self.model_id = f"{model_name}@{loaded['fingerprint']}"
        self.device = device
        self.labels: tuple[str, ...] = loaded["labels"]
        self.label_map = dict(label_map or {})
        self.max_length: int = loaded["max_length"]
        self._model = loaded["model"]
        self._tokenizer = loaded["tokenizer"]
        self._prefix, self._suffix = list(loaded["prefix"]), list(loaded["suffix"])
        self._pad_id = loaded["pad_id"]
        canon = [canonical_type(label, self.label_map) for label in self.labels]
        self.types: tuple[str, ...] = tuple(dict.fromkeys(t for t in canon if t))
        self._type_columns = {t: [i for i, c in enumerate(canon) if c == t] for t in self.types}

    def __repr__(self) -> str:
        return f"Tagger({self.model_id!r}, device={str(self.device)!r}, types={self.types})"

    def predict_tokens(self, texts: Sequence[str], *, max_batch_tokens: int = 8192,
                       stride: int = 32) -> list[TokenPredictions]:
        """Sub-word tokens of each text with their label probabilities, in input order."""
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        n_special = len(self._prefix) + len(self._suffix)
        width = self.max_length - n_special
        rows = [(i, s, e) for i, enc in enumerate(encodings)
                for s, e in plan_windows(len(enc.ids), width, stride)]
        probs = [np.zeros((len(enc.ids), len(self.labels)), np.float32) for enc in encodings]
        best = [np.full(len(enc.ids), -1, np.int64) for enc in encodings]
        batches = plan_batches([e - s + n_special for _, s, e in rows], max_batch_tokens)
        cuda = self.device.type == "cuda"

        def prepare(batch: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
            longest = max(rows[r][2] - rows[r][1] for r in batch) + n_special
            if cuda:  # tensor cores want dimensions in multiples of 8 (NVIDIA DL performance guide)
                longest = -(-longest // 8) * 8
            ids = np.full((len(batch), longest), self._pad_id, np.int64)
            mask = np.zeros((len(batch), longest), np.int64)
            for j, r in enumerate(batch):
                i, s, e = rows[r]
                row = self._prefix + encodings[i].ids[s:e] + self._suffix
                ids[j, :len(row)] = row
                mask[j, :len(row)] = 1
            ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)
            if cuda:
                ids_t, mask_t = ids_t.pin_memory(), mask_t.pin_memory()
            return ids_t, mask_t

        with torch.inference_mode():
            ready = prepare(batches[0]) if batches else None
            for b, batch in enumerate(batches):
                ids, mask = (t.to(self.device, non_blocking=True) for t in ready)
                out = self._model(input_ids=ids, attention_mask=mask).logits.float().softmax(-1)
                if b + 1 < len(batches):  # build the next batch while the GPU works on this one
                    ready = prepare(batches[b + 1])
                out = out.cpu().numpy()
                for j, r in enumerate(batch):
                    self._keep_best(rows[r], out[j], probs, best, encodings)
        return [TokenPredictions(list(enc.offsets), list(enc.word_ids), p)
                for enc, p in zip(encodings, probs)]

    def _keep_best(self, row, out, probs, best, encodings) -> None:
        """Keep each token's prediction from the window where it is farthest from a cut edge."""
        i, s, e = row
        n = len(encodings[i].ids)
        t = np.arange(s, e)
        left = t - s if s > 0 else np.full(e - s, n)
        right = e - 1 - t if e < n else np.full(e - s, n)
        dist = np.minimum(left, right)
        better = dist > best[i][s:e]
        best[i][s:e][better] = dist[better]
        probs[i][s:e][better] = out[len(self._prefix):len(self._prefix) + e - s][better]

    def tag_texts(self, texts: Sequence[str], **kw: Any) -> list[list[tuple[int, int, str, float]]]:
        """Entity spans ``(start, end, type, score)`` of each text; offsets index that text."""
        results = []
        for text, pred in zip(texts, self.predict_tokens(texts, **kw)):
            if not len(pred.offsets):
                results.append([])
                continue
            labels = [self.labels[j] for j in pred.probs.argmax(1)]
            type_probs = {t: pred.probs[:, cols].sum(1) for t, cols in self._type_columns.items()}
            results.append(decode_entities(text, pred.offsets, pred.word_ids, labels,
                                           type_probs, self.label_map))
        return results

    def tag(self, sentences: Sequence[Sentence], *, max_batch_tokens: int = 8192,
            stride: int = 32) -> list[Mention]:
        """Mentions in the sentences, with document offsets (sentence.start + local offset)."""
        spans = self.tag_texts([s.text for s in sentences], max_batch_tokens=max_batch_tokens,
                               stride=stride)
        return [Mention(pmid=s.pmid, start=s.start + a, end=s.start + b, text=s.text[a:b],
                        type=etype, score=score, sentence_index=s.index)
                for s, found in zip(sentences, spans) for a, b, etype, score in found]


def load_tagger(model: str, *, device: str = "auto", label_map: dict[str, str | None] | None = None,
                dtype: str | None = None) -> Tagger:
    """The `Tagger` for a model directory or hub ID, loaded once per process and then reused."""
    model_name = str(model)
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    source = _resolve_source(model_name)
    key = (source, str(torch_device), str(torch_dtype))
    tagger_key = (*key, tuple(sorted((label_map or {}).items())))
    with _LOCK:
        if tagger_key in _TAGGERS:
            return _TAGGERS[tagger_key]
        if key not in _MODELS:
            started = time.perf_counter()
            _MODELS[key] = _load_model(model_name, torch_device, torch_dtype)
            logger.info("NER: loaded %s on %s (%s) in %.1f s", model_name, torch_device,
                        torch_dtype, time.perf_counter() - started)
        loaded = _MODELS[key]
        if not label_map and all(lbl.startswith("LABEL_") for lbl in loaded["labels"]):
            raise ModelError(f"NER: model {model_name!r} has no label names (config id2label is "
                             f"{list(loaded['labels'])}); pass label_map={{'LABEL_1': "
                             "'Chemical', ...}} or use a NER model with named labels.")
        tagger = _TAGGERS[tagger_key] = Tagger(loaded, model_name, torch_device, label_map)
        return tagger


def clear_taggers() -> None:
    """Forget every loaded model (frees memory; the next `load_tagger` loads again)."""
    with _LOCK:
        _TAGGERS.clear()
        _MODELS.clear()


@task(name="tag-entities", cache_policy=NO_CACHE)
def tag_entities(sentences: Sequence[Sentence], model: str, device: str = "auto", *,
                 label_map: dict[str, str | None] | None = None, dtype: str | None = None,
                 max_batch_tokens: int = 8192, stride: int = 32) -> list[Mention]:
    """Tag entity mentions in sentences with a NER model (loaded once per worker process)."""
    tagger = load_tagger(model, device=device, label_map=label_map, dtype=dtype)
    started = time.perf_counter()
    mentions = tagger.tag(sentences, max_batch_tokens=max_batch_tokens, stride=stride)
    try:
        run_logger = get_run_logger()
    except MissingContextError:  # called as tag_entities.fn(...) outside a flow
        run_logger = logger
    run_logger.info("Tagged %d mentions in %d sentences with %s on %s in %.1f s", len(mentions),
                    len(sentences), tagger.model_id, tagger.device, time.perf_counter() - started)
    return mentions
