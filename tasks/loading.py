"""Load a Hugging Face model of the kind a caller needs: source, device, dtype, head, tokenizer.

The one door to transformers' `from_pretrained` for inference: NER (token classification),
embeddings (a plain encoder), the study-type classifier and NLI (sequence classification), QA
(question answering) and summaries (seq2seq or causal LM) all load through `load_pretrained`.
A model is a local directory (written by `save_pretrained`), a hub ID, or an alias of the
bundled all-MiniLM-L6-v2. Every failure is a `ModelError` that names the stage, the model, the
kind expected and what to do next.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from litmine.errors import ModelError
from litmine.tasks.cpu_features import CpuFeatures, read_cpu_features
from litmine.tasks.digests import sha256_file
from litmine.tasks.model_names import BUNDLED_ALIASES, BUNDLED_MODEL, resolve_model_source  # noqa: F401 (re-exported)

#: Model types whose position ids start after padding_idx (fairseq convention), so that
#: max_position_embeddings (514) holds pad_token_id + 1 fewer tokens (512).
OFFSET_POSITIONS = frozenset({"roberta", "xlm-roberta", "camembert", "longformer",
                              "data2vec-text", "mpnet"})
#: Architecture suffixes of generative language models (causal or encoder-decoder).
GENERATIVE = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration", "ForSeq2SeqLM")
_DTYPES = {"fp32": torch.float32, "float32": torch.float32, "fp16": torch.float16,
           "float16": torch.float16, "half": torch.float16, "bf16": torch.bfloat16,
           "bfloat16": torch.bfloat16, "int8": torch.qint8, "qint8": torch.qint8}
_WEIGHT_SUFFIXES = {".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack"}


@dataclass(frozen=True)
class Head:
    """A kind of model: the transformers Auto class that loads it and the architectures it has."""

    auto_class: str
    suffixes: tuple[str, ...]  # config.architectures must end with one of these
    kind: str  # how errors name it: "a token classifier"


#: The heads litmine loads, by the name callers ask for.
HEADS: dict[str, Head] = {
    "token-classification": Head("AutoModelForTokenClassification", ("ForTokenClassification",),
                                 "a token classifier"),
    "sequence-classification": Head("AutoModelForSequenceClassification",
                                    ("ForSequenceClassification",), "a sequence classifier"),
    "question-answering": Head("AutoModelForQuestionAnswering", ("ForQuestionAnswering",),
                               "an extractive question-answering model"),
    "seq2seq": Head("AutoModelForSeq2SeqLM", GENERATIVE,
                    "a generative language model (causal or seq2seq)"),
    "causal-lm": Head("AutoModelForCausalLM", GENERATIVE,
                      "a generative language model (causal or seq2seq)"),
    "encoder": Head("AutoModel", (), "a sentence encoder"),
    "masked-lm": Head("AutoModelForMaskedLM", ("ForMaskedLM",), "a masked language model"),
}


@dataclass
class LoadedModel:
    """What `load_pretrained` returns: the names, config, tokenizer and model on its device."""

    name: str  # what to store and show: the hub ID of the bundled model, else the given name
    source: str  # what from_pretrained loaded: an absolute directory or a hub ID
    config: Any
    tokenizer: Any
    model: Any
    device: torch.device


# -- device and dtype ----------------------------------------------------------------------------
def resolve_device(device: str | torch.device | None = "auto", stage: str = "model"
                   ) -> torch.device:
    """The torch device for "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N"."""
    name = str(device or "auto").strip().lower()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ModelError(f"{stage}: device {device!r} was asked for, but torch "
                             f"{torch.__version__} sees no CUDA GPU; use device='cpu' (or "
                             "'auto'), or install a CUDA build of torch on a GPU machine.")
        index = torch.cuda.current_device() if name == "cuda" else name.partition(":")[2]
        if not str(index).isdigit() or int(index) >= torch.cuda.device_count():
            raise ModelError(f"{stage}: device {device!r} does not exist: "
                             f"{torch.cuda.device_count()} CUDA device(s) visible.")
        return torch.device(f"cuda:{int(index)}")
    raise ModelError(f"{stage}: unknown device {device!r}; use 'auto', 'cpu', 'cuda' or "
                     "'cuda:N'.")


#: The short names a run records and `--dtype` takes, by torch dtype.
DTYPE_NAMES = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16",
               torch.qint8: "int8"}


@dataclass(frozen=True)
class DtypeChoice:
    """The dtype a model runs in, its short name ("bf16") and why it was chosen."""

    dtype: torch.dtype
    name: str
    reason: str
    #: chosen by "auto" (from the device and the CPU), not asked for
    automatic: bool = False

    def message(self, stage: str = "NER") -> str:
        """The log line: "NER dtype bf16 (CPU has AMX-BF16; --dtype fp32 to override)"."""
        return f"{stage} dtype {self.name} ({self.reason})"

    def parameters(self) -> dict:
        """What a run's `runs.parameters` records of the choice."""
        return {"dtype": self.name, "dtype_reason": self.reason}


#: fp32, as a choice: what library callers of the relation models get unless they ask.
FP32 = DtypeChoice(torch.float32, "fp32", "the default")


def choose_dtype(dtype: str | None, device: torch.device, stage: str = "model",
                 features: CpuFeatures | None = None) -> DtypeChoice:
    """The dtype for "auto" (or None) on `device`, or the one asked for, and why.

    "auto": fp16 on CUDA; on a CPU bf16 where it multiplies bf16 natively (AMX, AVX512-BF16;
    `litmine.tasks.cpu_features`), else fp32. "int8" (torch.qint8) is dynamic quantisation of
    the Linear layers, on CPU only. `features` stands in for this machine's CPU (tests).
    """
    asked = str(dtype or "auto").strip().lower()
    if asked == "auto":
        if device.type == "cuda":
            return DtypeChoice(torch.float16, "fp16", "auto: fp16 on CUDA; --dtype to override",
                               automatic=True)
        features = features or read_cpu_features()
        if features.native_bf16:
            return DtypeChoice(torch.bfloat16, "bf16", f"CPU has {features.bf16_units()}; "
                               "--dtype fp32 to override", automatic=True)
        capped = f" (oneDNN capped at {features.isa_cap})" if features.isa_cap else ""
        return DtypeChoice(torch.float32, "fp32", f"CPU has no AMX or AVX512-BF16{capped}, where "
                           "bf16 would be slower; --dtype bf16 to override", automatic=True)
    if asked not in _DTYPES:
        raise ModelError(f"{stage}: unknown dtype {dtype!r}; use auto, fp32, fp16, bf16 or int8.")
    result = _DTYPES[asked]
    if result == torch.qint8 and device.type != "cpu":
        raise ModelError(f"{stage}: dtype int8 (dynamic quantisation) runs on CPU only, not on "
                         f"{device}; use dtype='fp16' or 'bf16' on a GPU.")
    if result == torch.bfloat16 and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ModelError(f"{stage}: GPU {torch.cuda.get_device_name(device)} has no bfloat16; "
                         "use dtype='fp16'.")
    return DtypeChoice(result, DTYPE_NAMES[result], "asked for")


def relation_dtype(ner: DtypeChoice) -> DtypeChoice:
    """The dtype of the relation models of a run whose NER runs in `ner`: the same (bf16 on a
    CPU with bf16 units, fp16 on CUDA, or what --dtype asked for), except on a CPU where "auto"
    chose fp32 for NER (no AMX or AVX512-BF16) or where NER runs int8: there the shared relation
    heads' BERT layers run int8 (dynamic quantisation; the token states they read stay fp32).

    bf16 against fp32 on the development sets (docs/performance.md, "The relation step"): F1
    of CID end to end on BC5CDR 50.32 vs 50.24, of BioRED's typed relations with gold IDs
    59.08 vs 59.05 (pair) and 32.38 vs 32.45 (pair+type): every setting within 0.1. int8
    against fp32 (an AVX2-only AMD EPYC; docs/performance.md, "On an AVX2-only CPU"): CID end
    to end 51.24 vs 51.09, with gold IDs 62.75 vs 62.66; BioRED's typed relations end to end
    37.33 / 22.80 / 15.78 vs 37.21 / 22.76 / 15.59 (pair / +type / +novelty): every setting
    within 0.25, and the relation step 1.4x faster. Relation models with a transformer encoder
    of their own run fp32 instead of int8 (`encoder_dtype`: not measured).
    """
    if ner.dtype == torch.qint8:
        return DtypeChoice(torch.qint8, "int8", "as NER: the shared relation heads' layers "
                           "(dynamic quantisation); --dtype fp32 for fp32")
    if ner.automatic and ner.dtype == torch.float32:
        return DtypeChoice(torch.qint8, "int8", f"NER runs fp32: {ner.reason.split(';')[0]}; "
                           "the shared relation heads' layers run int8 (dynamic quantisation: "
                           "faster, F1 held; docs/performance.md); --dtype fp32 for fp32",
                           automatic=True)
    return DtypeChoice(ner.dtype, ner.name, f"as NER: {ner.reason}", ner.automatic)


def encoder_dtype(dtype: str | None) -> str | None:
    """The dtype a relation model with its own transformer encoder runs in for `dtype`: as
    asked, but fp32 for int8, which `relation_dtype` chooses for the shared heads only (their
    accuracy in int8 is measured; these encoders' is not)."""
    return "fp32" if str(dtype or "").strip().lower() in ("int8", "qint8") else dtype


def resolve_dtype(dtype: str | None, device: torch.device, stage: str = "model") -> torch.dtype:
    """The torch dtype of `choose_dtype`: "auto"/None is fp16 on CUDA, bf16 or fp32 on a CPU."""
    return choose_dtype(dtype, device, stage).dtype


def quantize_int8(model: torch.nn.Module, stage: str = "model") -> torch.nn.Module:
    """A copy of a CPU model whose Linear layers run in int8 (dynamic quantisation).

    Weights are quantised once, activations per batch (torch.ao.quantization.quantize_dynamic,
    the recipe of PyTorch's "Dynamic Quantization on BERT" tutorial); fbgemm needs AVX2.
    """
    try:
        from torch.ao.quantization import quantize_dynamic
    except ImportError as exc:  # deprecated in favour of torchao; gone in some future torch
        raise ModelError(f"{stage}: torch {torch.__version__} has no torch.ao.quantization; use "
                         "dtype='fp32'.") from exc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


# -- where a model comes from --------------------------------------------------------------------
def load_config(model: str, source: str, stage: str):
    """The model's config, or a ModelError that says how to get the model (offline too)."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(source)
    except (OSError, ValueError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        if Path(source).is_dir():
            raise ModelError(f"{stage}: cannot read the config of model directory {model!r}: "
                             f"{reason}. Re-save the model with save_pretrained().") from exc
        raise ModelError(f"{stage}: cannot load model {model!r} ({reason}). Pass a local model "
                         "directory, or, for a hub ID, download it first on a connected machine "
                         f"(`hf download {model}`) and unset HF_HUB_OFFLINE.") from exc


def architecture_of(config) -> str:
    """The class a config was saved from ("BertModel", "GPT2LMHeadModel"), or its model type."""
    return ", ".join(getattr(config, "architectures", None) or []) or f"a {config.model_type} model"


def check_encoder(model: str, config, stage: str) -> None:
    """ModelError unless the config is a bidirectional encoder (the kind mean pooling needs)."""
    arch = architecture_of(config)
    if (getattr(config, "is_encoder_decoder", False) or getattr(config, "is_decoder", False)
            or any(a.endswith(GENERATIVE) for a in (config.architectures or []))):
        raise ModelError(f"{stage}: model {model!r} is {arch}, a generative language model, not a "
                         "sentence encoder; pass a sentence-embedding model (an encoder such as "
                         f"{BUNDLED_MODEL}, pooled by the mean over tokens).")


def check_architecture(model: str, config, head: str, stage: str, *, kind: str | None = None,
                       hint: str | None = None, allow_unnamed: bool = False) -> None:
    """ModelError unless the config's architectures are of the head asked for.

    `allow_unnamed` accepts a config without `architectures` (the weights' head is checked
    instead); `hint` replaces the default advice.
    """
    spec = HEADS[head]
    if head == "encoder":
        check_encoder(model, config, stage)
        return
    architectures = list(getattr(config, "architectures", None) or [])
    if allow_unnamed and not architectures:
        return
    if not any(a.endswith(spec.suffixes) for a in architectures):
        described = architecture_of(config)
        if allow_unnamed:  # the NER wording users know: "is a BertModel, not a token classifier"
            described = "a " + described
        advice = hint or ("pass a model whose architecture ends with "
                          f"{' or '.join(spec.suffixes)}")
        raise ModelError(f"{stage}: model {model!r} is {described}, not {kind or spec.kind}; "
                         f"{advice}.")


# -- loading -------------------------------------------------------------------------------------
def load_pretrained(model: str, head: str, *, stage: str, device: str | torch.device = "auto",
                    dtype: torch.dtype | None = None, kind: str | None = None,
                    hint: str | None = None, check_head: bool = True,
                    allow_unnamed: bool = False, config=None, **options: Any) -> LoadedModel:
    """Load a model with the head a caller needs (a key of HEADS), its tokenizer and config.

    The config's architectures must be of that head; with `check_head`, weights that leave the
    head randomly initialised are refused. `dtype` is the dtype to load the weights in (torch's
    default when None; qint8 loads fp32 and quantises on the CPU). The model is put on
    `device` in eval mode. Other `options` go to `from_pretrained` (`add_pooling_layer=False`).
    """
    import transformers
    from transformers import AutoTokenizer

    spec = HEADS[head]
    kind = kind or spec.kind
    name, source = resolve_model_source(model, stage)
    config = config if config is not None else load_config(model, source, stage)
    check_architecture(model, config, head, stage, kind=kind, hint=hint,
                       allow_unnamed=allow_unnamed)
    torch_device = resolve_device(device, stage)
    options = {**options, "output_loading_info": True}
    if dtype is not None:
        options["dtype"] = torch.float32 if dtype == torch.qint8 else dtype
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        loaded, info = getattr(transformers, spec.auto_class).from_pretrained(source, **options)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{stage}: cannot load model {model!r} as {kind}: "
                         f"{str(exc).strip().splitlines()[0][:300]}") from exc
    if check_head and head != "encoder":
        prefix = loaded.base_model_prefix + "."
        weights = {k for k in loaded.state_dict() if not k.startswith(prefix)}
        missing = weights & set(info.get("missing_keys", ()))
        if missing:
            raise ModelError(f"{stage}: model {model!r} has no trained {head} head (missing "
                             f"{sorted(missing)[:4]}); pass a fine-tuned model of that kind "
                             f"({kind}).")
    loaded = loaded.to(torch_device).eval()
    if dtype == torch.qint8:
        loaded = quantize_int8(loaded, stage)
    return LoadedModel(name, source, config, tokenizer, loaded, torch_device)


def load_tokenizer(model: str, stage: str):
    """A model's tokenizer (local directory, hub ID or the bundled alias), or a ModelError."""
    from transformers import AutoTokenizer

    _, source = resolve_model_source(str(model), stage)
    try:
        return AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{stage}: cannot load the tokenizer of model {str(model)!r}: "
                         f"{str(exc).strip().splitlines()[0][:300]}") from exc


def load_for_training(base_model: str, head: str, *, stage: str, **options: Any):
    """A base model with a (new) head to fine-tune, on the CPU in train mode as loaded.

    `options` go to `from_pretrained` (num_labels, id2label, label2id,
    ignore_mismatched_sizes, dtype, ...); a head missing from the checkpoint is initialised
    from torch's generator, so seed it first (`litmine.tasks.training.loop.seed_everything`).
    """
    import transformers

    _, source = resolve_model_source(str(base_model), stage)
    try:
        return getattr(transformers, HEADS[head].auto_class).from_pretrained(source, **options)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{stage}: cannot load base model {str(base_model)!r} to fine-tune as "
                         f"{HEADS[head].kind}: {str(exc).strip().splitlines()[0][:300]}") from exc


def device_name(device: str | torch.device | None = "auto", stage: str = "model") -> str:
    """`resolve_device` as a string ("cpu", "cuda:0"), for code that compares device names."""
    return str(resolve_device(device, stage))


# -- what a loaded model can read ----------------------------------------------------------------
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


def special_tokens(rust_tokenizer) -> tuple[list[int], list[int]]:
    """The ids a tokenizer puts before and after a text ([CLS] ... [SEP], <s> ... </s>)."""
    probe = rust_tokenizer.encode("a", add_special_tokens=True)
    content = [i for i, special in enumerate(probe.special_tokens_mask) if not special]
    if not content:
        return list(probe.ids), []
    return list(probe.ids[:content[0]]), list(probe.ids[content[-1] + 1:])


def position_limit(config) -> int | None:
    """Tokens the position embeddings hold (fairseq-style models lose pad_token_id + 1)."""
    positions = getattr(config, "max_position_embeddings", None)
    if positions and config.model_type in OFFSET_POSITIONS:
        positions -= (config.pad_token_id or 0) + 1
    return positions


# -- identity ------------------------------------------------------------------------------------
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
        _DIGESTS[key] = sha256_file(file)
    return _DIGESTS[key]
