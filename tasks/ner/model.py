"""Load a token-classification model for the NER engine: device, dtype, weights, tokenizer.

`load_model` returns what `litmine.tasks.ner.engine.Tagger` needs (model, a private fast tokenizer, the
special tokens around a sentence, the maximum length, a fingerprint); `litmine.tasks.ner.engine`
caches it per process. Errors are `ModelError`s that name the model and the fix.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from litmine.errors import ModelError

_DTYPES = {"fp32": torch.float32, "float32": torch.float32, "fp16": torch.float16,
           "float16": torch.float16, "half": torch.float16, "bf16": torch.bfloat16,
           "bfloat16": torch.bfloat16, "int8": torch.qint8, "qint8": torch.qint8}
#: Model types whose position ids start after padding_idx (fairseq convention), so that
#: max_position_embeddings (514) holds pad_token_id + 1 fewer tokens (512).
_OFFSET_POSITIONS = {"roberta", "xlm-roberta", "camembert", "longformer", "data2vec-text", "mpnet"}
_WEIGHT_SUFFIXES = {".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack"}

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
    """fp16 on CUDA and fp32 on CPU by default; "bf16"/"fp16"/"fp32"/"int8" choose explicitly.

    "int8" (torch.qint8) is dynamic quantisation of the Linear layers, on CPU only.
    """
    if dtype is None:
        return torch.float16 if device.type == "cuda" else torch.float32
    if str(dtype).lower() not in _DTYPES:
        raise ModelError(f"NER: unknown dtype {dtype!r}; use one of fp32, fp16, bf16, int8.")
    result = _DTYPES[str(dtype).lower()]
    if result == torch.qint8 and device.type != "cpu":
        raise ModelError(f"NER: dtype int8 (dynamic quantisation) runs on CPU only, not on "
                         f"{device}; use dtype='fp16' or 'bf16' on a GPU.")
    if result == torch.bfloat16 and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ModelError(f"NER: GPU {torch.cuda.get_device_name(device)} has no bfloat16; "
                         "use dtype='fp16'.")
    return result


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of a CPU model whose Linear layers run in int8 (dynamic quantisation).

    Weights are quantised once, activations per batch (torch.ao.quantization.quantize_dynamic,
    the recipe of PyTorch's "Dynamic Quantization on BERT" tutorial); fbgemm needs AVX2.
    """
    try:
        from torch.ao.quantization import quantize_dynamic
    except ImportError as exc:  # deprecated in favour of torchao; gone in some future torch
        raise ModelError(f"NER: torch {torch.__version__} has no torch.ao.quantization; use "
                         "dtype='fp32'.") from exc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def fast_tokenizer(tokenizer, model: str, stage: str):
    """A private Rust tokenizer without truncation or padding (windows are cut by the caller)."""
    from tokenizers import Tokenizer

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ModelError(f"{stage}: model {model!r} has no fast tokenizer (tokenizer.json); convert "
                         "it with AutoTokenizer.from_pretrained(...).save_pretrained(...).")
    rust = Tokenizer.from_str(backend.to_str())
    rust.no_truncation()
    rust.no_padding()
    return rust


def fingerprint_model(source: str, config: Any = None) -> str:
    """A short hash of a local model's contents (config, weights, tokenizer), or of a hub
    model's resolved commit: the same model gives the same ID in every checkout or copy."""
    digest = hashlib.sha256()
    path = Path(source)
    if path.is_dir():
        for file in sorted(path.iterdir()):
            if file.name == "config.json":
                digest.update(file.read_bytes())
            elif file.suffix in _WEIGHT_SUFFIXES or file.name.startswith("tokenizer"):
                digest.update(f"{file.name}:{file_digest(file)}".encode())
    else:  # hub ID: the resolved commit when the hub says it, else the config itself
        commit = getattr(config, "_commit_hash", None)
        digest.update((commit or (config.to_json_string() if config is not None else source))
                      .encode())
    return digest.hexdigest()[:12]


_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(file: Path) -> str:
    """sha256 of a file's bytes, cached per process by (path, size, mtime)."""
    stat = file.stat()
    key = (str(file.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        digest = hashlib.sha256()
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _DIGESTS[key] = digest.hexdigest()
    return _DIGESTS[key]


def resolve_source(model: str) -> str:
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


def load_model(model: str, device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
    """Load config, fast tokenizer and weights, checking that the model is a token classifier."""
    from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

    source = resolve_source(model)
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
            source, dtype=torch.float32 if dtype == torch.qint8 else dtype,
            output_loading_info=True)
    except (OSError, ValueError) as exc:
        raise ModelError(f"NER: cannot load model {model!r} as a token classifier: "
                         f"{str(exc).strip().splitlines()[0]}") from exc
    head = {k for k in hf_model.state_dict() if not k.startswith(hf_model.base_model_prefix + ".")}
    if head & set(info.get("missing_keys", ())):
        raise ModelError(f"NER: model {model!r} has no trained token-classification head "
                         f"(missing {sorted(head & set(info['missing_keys']))}); pass a "
                         "fine-tuned NER model.")
    # A private copy without the truncation/padding a saved tokenizer.json may carry: windows
    # are cut here, and nothing mutates the copy, so threads may share it.
    rust = fast_tokenizer(tokenizer, model, "NER")
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
    if dtype == torch.qint8:
        hf_model = quantize_int8(hf_model)
    return {
        "model": hf_model, "tokenizer": rust, "config": config,
        "labels": tuple(config.id2label[i] for i in range(config.num_labels)),
        "prefix": prefix, "suffix": suffix,
        "pad_id": tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
        "max_length": min(x for x in limits if x) if any(limits) else 512,
        "fingerprint": fingerprint_model(source, config),
        # "document": trained on whole documents (litmine train --unit document)
        "unit": getattr(config, "litmine_unit", None) or "sentence",
    }
