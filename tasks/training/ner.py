"""Fine-tune a transformer encoder into litmine's NER model: the recipe, its record and card.

AdamW with linear warm-up then decay, gradient clipping and length-grouped batches over
`litmine.tasks.training.corpus` examples, run by `litmine.tasks.training.loop.fit`. After each
epoch the model is scored on the dev documents through the pipeline's own inference path
(`litmine.tasks.ner.evaluation`: sentences from `split_article`, mentions from the Tagger, strict
scores), so the dev F1 that picks the checkpoint is the F1 a user gets from `litmine mine`.
"""

from __future__ import annotations

import json
import logging
import random
import re
import shutil
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from litmine.errors import LitmineError
from litmine.tasks.loading import (device_name, load_config, load_for_training, load_tokenizer,
                                   resolve_model_source, special_tokens)
from litmine.tasks.ner.casing import CASE_TYPES, enable_case_types, uses_case_types
from litmine.tasks.ner.engine import load_tagger
from litmine.tasks.ner.markers import assign_markers, marker_ids, marker_key
from litmine.tasks.ner.evaluation import evaluate_model
from litmine.tasks.scoring import Scores, pct
from litmine.tasks.training.cards import (card_base_model, command_section, front_matter,
                                          licence_lines, write_card)
from litmine.tasks.training.corpus import SentenceStats, load_train_dev, training_units
from litmine.tasks.training.encoding import EncodeStats, Example, bio_labels, encode_sentences
from litmine.tasks.training.distill import collate_targets, distillation_loss, teacher_targets
from litmine.tasks.training.frozen import freeze_lower_layers, states_kept_from
from litmine.tasks.training.grow import grow_encoder
from litmine.tasks.training.corpus_list import CorpusSpec
from litmine.tasks.training.partial import allowed_labels, partial_label_loss
from litmine.tasks.training.loop import (EarlyStopping, Evaluate, KeepBestState, LoopState,
                                         Progress, autocast_for, decay_groups, fit,
                                         group_batches, mixed_precision_of,
                                         publish_model_dir, seed_everything, use_all_cores)

log = logging.getLogger(__name__)

#: fp16 weights are kept only if the dev F1 drops by at most this many points (issue 3).
FP16_MAX_F1_DROP = 0.2
#: The shipped model's recipe (issue 3): all-MiniLM-L6-v2 on BC5CDR train, a 2-core CPU, about
#: 20 minutes. lr 1e-4 is a judgement, above BERT-base's usual 2e-5..5e-5 (Devlin et al. 2019,
#: appendix A.3) because the encoder is small and the run short; not tuned: a 1-epoch trial on
#: 250 BC5CDR documents reached strict dev F1 65.1 with it. An epoch of BC5CDR train took ~2.7
#: minutes plus ~0.6 for dev scoring on 2 idle cores.
DEFAULT_EPOCHS = 5
DEFAULT_LR = 1e-4
DEFAULT_BATCH_SIZE = 16
DEFAULT_MAX_LENGTH = 256
DEFAULT_SEED = 13
DEFAULT_PATIENCE = 2
#: Training units: sentences (as the pipeline splits them) or whole documents (context across
#: sentences; the model is then run on whole documents too).
UNITS = ("sentence", "document")


@dataclass
class EpochResult:
    epoch: int
    train_loss: float
    steps: int
    seconds: float  # training and dev scoring
    dev: dict[str, Any]  # Scores.as_dict() without errors
    eval_seconds: float = 0.0  # dev scoring alone

    @property
    def f1(self) -> float:
        return self.dev["micro"]["f1"] or 0.0


@dataclass
class TrainResult:
    out_dir: Path
    labels: list[str]
    epochs: list[EpochResult]
    best_epoch: int
    final: dict[str, Any]
    data: dict[str, Any]
    params: dict[str, Any]
    seconds: float
    fp16: dict[str, Any] = field(default_factory=dict)

    @property
    def best_f1(self) -> float:
        return self.final["micro"]["f1"] or 0.0


# -- batching ------------------------------------------------------------------------------------
def collate(examples: Sequence[Example], pad_id: int):
    """Padded input_ids, attention_mask and labels tensors for one batch, and token_type_ids
    (case classes) when the examples carry them."""
    import torch

    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    cased = bool(examples[0].token_types)  # one encoding for all: every example or none
    types = torch.zeros((len(examples), width), dtype=torch.long) if cased else None
    for row, e in enumerate(examples):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, :n] = torch.tensor(e.labels)
        mask[row, :n] = 1
        if cased:
            types[row, :n] = torch.tensor(e.token_types)
    batch = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    if cased:
        batch["token_type_ids"] = types
    return batch


# -- helpers -------------------------------------------------------------------------------------
def _scores_summary(scores: Scores) -> dict[str, Any]:
    return scores.as_dict()


def _save(model, tokenizer, path: Path, half: bool = False) -> None:
    import torch

    path.mkdir(parents=True, exist_ok=True)
    if half:
        model = model.to(torch.float16)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    if half:
        model.to(torch.float32)


# -- training ------------------------------------------------------------------------------------
def train_ner(train: Sequence[str | Path | CorpusSpec], dev: Sequence[str | Path], out_dir: str | Path, *,
              base_model: str | Path, types: Collection[str] | None = None,
              type_map: Mapping[str, str] | Iterable[str] | None = None,
              exclude: Sequence[str | Path] = (), epochs: int = DEFAULT_EPOCHS,
              lr: float = DEFAULT_LR, batch_size: int = DEFAULT_BATCH_SIZE,
              max_length: int = DEFAULT_MAX_LENGTH, seed: int = DEFAULT_SEED,
              patience: int = DEFAULT_PATIENCE,
              warmup_ratio: float = 0.1, weight_decay: float = 0.01, grad_clip: float = 1.0,
              device: str = "auto", fp16_weights: bool = False,
              max_train_docs: int | None = None, max_dev_docs: int | None = None,
              max_batch_tokens: int = 8192, progress: bool = True, unit: str = "sentence",
              precision: str = "auto", markers: bool = False, teacher: str | None = None,
              teacher_weight: float = 0.5, freeze_layers: int = 0, case_types: bool = False,
              grow_layers: int = 0, command_line: str | None = None) -> TrainResult:
    """Fine-tune `base_model` for BIO tagging of `types` and save the best epoch to `out_dir`.

    Train on `train` corpora (PubTator or CoNLL), pick the epoch with the best strict dev F1 on
    `dev` (scored through the pipeline's Tagger), stop after `patience` epochs without gain.
    `exclude` names files of PMIDs (PubTator or one per line) never to train on, e.g. a test
    set's. A `CorpusSpec` in `train` (from a corpus list) says which types its file annotates;
    its untagged words are then trained with the partial-label loss
    (`litmine.tasks.training.partial`), so a disease-only corpus does not teach "no gene". `max_train_docs`/`max_dev_docs` keep the first N documents (quick runs).
    `unit` "document" trains on whole documents instead of sentences (context across
    sentences); the model remembers it (config `litmine_unit`) and the pipeline's Tagger then
    tags each document's sentences as one text (`litmine.tasks.text.sentences.join_sentences`).
    `precision` "auto" runs the forward pass under bf16 autocast on a CPU with bf16 matrix units
    (AMX, AVX512-BF16) and mixed precision on CUDA, with fp32 weights and optimiser state;
    "fp32" runs full precision everywhere.
    `markers` puts a task marker after [CLS] saying which types each text's corpus annotates
    (AIONER's scheme, `litmine.tasks.ner.markers`); the model keeps the map (config
    `litmine_markers`, extended from the base model's) and is asked for all types when tagging.
    `teacher` (a NER model or ensemble with the same labels and vocabulary) adds its label
    probabilities as soft targets, weighted `teacher_weight` against the gold loss
    (`litmine.tasks.training.distill`).
    `freeze_layers` N keeps the embeddings and the first N encoder layers of `base_model` as
    they are: the model's states after N layers stay the base model's, so a relation head
    reading them (`litmine.tasks.relations.shared`) still reads this model's pass.
    `grow_layers` N follows each of the base model's top N encoder layers by a copy of itself
    before training (`litmine.tasks.training.grow`): more layers to learn above frozen ones.
    `case_types` gives the model each word's letter case, which an uncased tokenizer drops, as
    token type IDs (`litmine.tasks.ner.casing`); a base model trained so keeps reading it.
    Writes model.safetensors, tokenizer, config (id2label), README.md (model card) and
    training.json to `out_dir` (replaced only when training succeeds).
    """
    from transformers import get_linear_schedule_with_warmup

    started = time.time()
    params = dict(
        base_model=str(base_model),
        train=[p.as_dict() if isinstance(p, CorpusSpec) else str(p) for p in train],
        dev=[str(p) for p in dev],
        types=sorted(types) if types else None, exclude=[str(p) for p in exclude],
        type_map=dict(type_map) if isinstance(type_map, Mapping) else list(type_map or []),
        epochs=epochs, lr=lr, batch_size=batch_size, max_length=max_length, seed=seed,
        patience=patience, warmup_ratio=warmup_ratio, weight_decay=weight_decay,
        grad_clip=grad_clip, device=device, fp16_weights=fp16_weights,
        max_train_docs=max_train_docs, max_dev_docs=max_dev_docs, unit=unit,
        precision=precision, markers=markers, teacher=teacher,
        teacher_weight=teacher_weight if teacher else None, freeze_layers=freeze_layers,
        case_types=case_types, grow_layers=grow_layers)
    if unit not in UNITS:
        raise LitmineError(f"train: unit must be one of {UNITS}, got {unit!r}")
    if teacher and not 0 < teacher_weight <= 1:
        raise LitmineError(f"train: --teacher-weight must be in (0, 1], got {teacher_weight}")
    mixed = mixed_precision_of(precision, "train")
    out_dir = Path(out_dir)
    device = device_name(device, "train")
    torch_device = torch.device(device)
    use_all_cores(torch_device)
    seed_everything(seed)

    train_corpus, dev_corpus = load_train_dev(train, dev, types=types, type_map=type_map,
                                              exclude=exclude, seed=seed)
    if max_train_docs is not None:
        train_corpus.documents = train_corpus.documents[:max_train_docs]
        train_corpus.sentences = train_corpus.sentences[:max_train_docs]
        log.info("train: using the first %d training documents only", max_train_docs)
    dev_docs = dev_corpus.evaluation_documents()
    if max_dev_docs is not None:
        dev_docs = dev_docs[:max_dev_docs]
    if not dev_docs:
        raise LitmineError(f"train: no dev documents in {list(dev)}; pass PubTator or CoNLL "
                           "files with --dev")
    labels = bio_labels(train_corpus.types)
    if len(labels) == 1:
        raise LitmineError(f"train: no entity types left in {list(train)} after type mapping "
                           f"and filtering to {types}; check --types and --type-map")
    label2id = {label: i for i, label in enumerate(labels)}
    log.info("train: %s", train_corpus.summary())
    log.info("dev: %s", dev_corpus.summary())

    tokenizer = load_tokenizer(str(base_model), "train")
    _, source = resolve_model_source(str(base_model), "train")
    base_config = load_config(str(base_model), source, "train")
    base_cased = uses_case_types(base_config)
    if case_types and freeze_layers and not base_cased:
        raise LitmineError("train: --case-types adds token type embeddings that "
                           "--freeze-layers would keep at their starting values; train without "
                           "--freeze-layers, or from a base model already trained with case types")
    sentence_stats, encode_stats = SentenceStats(), EncodeStats()
    units = training_units(train_corpus, unit, sentence_stats)
    marker_map, base_markers = _markers(base_model, base_config, units, tokenizer, markers)
    examples = encode_sentences(units, tokenizer, label2id, max_length=max_length,
                                stats=encode_stats,
                                markers=marker_ids(marker_map, tokenizer.get_vocab())
                                if marker_map else None, case=case_types or base_cased)
    if not examples:
        raise LitmineError(f"train: no training sentences in {list(train)}; are these "
                           "PubTator or CoNLL files?")
    data = {"train_files": [f.as_dict() for f in train_corpus.files],
            "dev_files": [f.as_dict() for f in dev_corpus.files],
            "train_documents": len(train_corpus.documents) + len(train_corpus.sentences),
            "dev_documents": len(dev_docs), "sentences": asdict(sentence_stats),
            "encoding": asdict(encode_stats),
            "train_tokens": sum(len(e.input_ids) for e in examples)}
    units = "documents" if unit == "document" else "sentences"
    log.info("train: %d examples (%d tokens) from %d %s; %d mentions crossed a sentence "
             "boundary, %d overlapping dropped, %d long %s split, %d entity boundaries "
             "inside a word", len(examples), data["train_tokens"], sentence_stats.sentences,
             units, sentence_stats.crossing, sentence_stats.overlapping,
             encode_stats.windows_split, units, encode_stats.misaligned)

    model = load_for_training(
        str(base_model), "token-classification", stage="train", num_labels=len(labels),
        id2label=dict(enumerate(labels)), label2id=label2id, ignore_mismatched_sizes=True,
        dtype=torch.float32)
    if unit != "sentence":
        model.config.litmine_unit = unit  # read by litmine.tasks.ner.model.load_model
    if marker_map:
        model.config.litmine_markers = marker_map  # read by litmine.tasks.ner.model.load_model
        init_marker_embeddings(model, tokenizer, {k: t for k, t in marker_map.items()
                                                   if k not in base_markers})
        params["marker_tokens"] = marker_map
    try:
        if case_types and enable_case_types(model):
            log.info("train: token type IDs carry each word's case (%d classes)", CASE_TYPES)
    except ValueError as exc:
        raise LitmineError(f"train --case-types: {base_model}: {exc}") from None
    params["case_types"] = case_types or base_cased
    if grow_layers:
        grow_encoder(model, grow_layers, frozen=freeze_layers)
        log.info("train: %d encoder layers, each of the top %d followed by a copy of itself",
                 model.config.num_hidden_layers, grow_layers)
    if hasattr(model.config, "litmine_states_from"):  # the base's claim holds only if frozen
        delattr(model.config, "litmine_states_from")
    if freeze_layers:
        freeze_lower_layers(model, freeze_layers,
                            new_markers=any(k not in base_markers for k in marker_map or {}))
        kept = states_kept_from(base_model, freeze_layers, unit)
        if kept:  # read by litmine.tasks.ner.model.kept_states
            model.config.litmine_states_from = kept
            params["states_from"] = kept
    model.to(torch_device)
    targets = _teacher_targets(teacher, examples, labels, tokenizer, bool(marker_map), device,
                               params) if teacher else None
    steps_per_epoch = -(-len(examples) // batch_size)
    optimizer = torch.optim.AdamW(decay_groups(model, weight_decay), lr=lr)
    total = steps_per_epoch * epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(warmup_ratio * total), total)
    rng = random.Random(seed)
    lengths = [len(e.input_ids) for e in examples]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def batch_loss(batch_ids: list[int]) -> torch.Tensor:
        chosen = [examples[i] for i in batch_ids]
        batch = {k: v.to(torch_device) for k, v in collate(chosen, pad_id).items()}
        allowed = allowed_labels(chosen, batch["input_ids"].shape[1], len(labels))
        gold = batch["labels"]
        if allowed is None:  # the model's own cross-entropy
            out = model(**batch)
            loss, logits = out.loss, out.logits
        else:
            logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
            loss = partial_label_loss(logits, gold, allowed)
        if targets is None:
            return loss
        soft = collate_targets([targets[i] for i in batch_ids], gold.shape[1])
        return (1 - teacher_weight) * loss + teacher_weight * distillation_loss(logits, soft, gold)

    staging = out_dir.with_name(out_dir.name + ".training")
    shutil.rmtree(staging, ignore_errors=True)

    def score_epoch(state: LoopState) -> EpochResult:
        """Score the epoch's weights on the dev documents through the pipeline's Tagger."""
        t_eval = time.time()
        scratch = staging / f"epoch-{state.epoch}"
        _save(model, tokenizer, scratch)
        scores, _ = evaluate_model(scratch, dev_docs, types=train_corpus.types, device=device,
                                   dtype="fp32", max_batch_tokens=max_batch_tokens, forget=True)
        shutil.rmtree(scratch, ignore_errors=True)
        result = EpochResult(state.epoch, state.loss, state.steps,
                             time.time() - state.epoch_started, _scores_summary(scores),
                             time.time() - t_eval)
        log.info("epoch %d: loss %.4f, dev strict F1 %.2f (P %.2f R %.2f), %.0f s (dev "
                 "scoring %.0f s)", result.epoch, result.train_loss, 100 * result.f1,
                 100 * (scores.micro.precision or 0), 100 * (scores.micro.recall or 0),
                 result.seconds, result.eval_seconds)
        return result

    params["autocast"] = str(autocast_for(torch_device, mixed)[1] or "none").replace("torch.", "")
    log.info("train: forward pass autocast %s (--precision %s)", params["autocast"], precision)
    state = fit(model, optimizer, scheduler, epochs=epochs, device=torch_device,
                batches=lambda epoch: group_batches(lengths, batch_size, rng), loss=batch_loss,
                grad_clip=grad_clip, mixed_precision=mixed,
                callbacks=[Progress(progress), Evaluate(score_epoch, lambda r: r.f1),
                           KeepBestState(),
                           EarlyStopping(patience, "early stop: no dev gain for %d epochs "
                                                   "(best: epoch %d)")])
    history: list[EpochResult] = state.history
    best_epoch = state.best_epoch
    model.to("cpu").eval()
    final = history[best_epoch - 1].dev
    fp16_info: dict[str, Any] = {}
    model_dir = staging / "model"
    if fp16_weights:
        fp16_info = _try_fp16(model, tokenizer, staging, dev_docs, train_corpus.types, final,
                              max_batch_tokens, device)
    _save(model, tokenizer, model_dir, half=bool(fp16_info.get("kept")))
    result = TrainResult(out_dir=out_dir, labels=labels, epochs=history, best_epoch=best_epoch,
                         final=final, data=data, params=params, seconds=time.time() - started,
                         fp16=fp16_info)
    write_model_card(model_dir, result, command_line=command_line)
    (model_dir / "training.json").write_text(json.dumps(training_record(result), indent=2))
    publish_model_dir(model_dir, out_dir)
    shutil.rmtree(staging, ignore_errors=True)
    return result


def _teacher_targets(teacher: str, examples: Sequence[Example], labels: Sequence[str],
                     tokenizer, marked: bool, device: str, params: dict[str, Any]) -> list:
    """The teacher's soft targets for every example (`litmine.tasks.training.distill`); the
    teacher's model ID goes into `params` (the card and training.json say what taught it)."""
    started = time.time()
    tagger = load_tagger(teacher, device=device)
    prefix, suffix = special_tokens(tokenizer.backend_tokenizer)
    targets = teacher_targets(tagger, examples, labels, len(prefix) + marked, len(suffix),
                              tokenizer.get_vocab())
    params["teacher_model_id"] = tagger.model_id
    log.info("train: teacher %s read %d examples in %.0f s", tagger.model_id, len(examples),
             time.time() - started)
    return targets


def _markers(base_model, base_config, units, tokenizer, wanted: bool
             ) -> tuple[dict[str, str] | None, dict[str, str]]:
    """Marker key -> token for these training texts (None without `wanted`), and the base
    model's own markers (kept; from its config `base_config`). A base model with markers needs
    them: its config keeps them and the tagger would put a marker before texts that were
    trained without one."""
    existing = getattr(base_config, "litmine_markers", None) or {}
    if not wanted:
        if existing:
            raise LitmineError(f"train: base model {str(base_model)!r} was trained with task "
                               f"markers ({', '.join(sorted(existing))}); pass --markers to "
                               "train on from it")
        return None, {}
    markers = assign_markers({marker_key(u.annotated) for u in units}, tokenizer.get_vocab(),
                             existing)
    log.info("train: task markers %s", markers)
    return markers, dict(existing)


def init_marker_embeddings(model, tokenizer, markers: Mapping[str, str]) -> None:
    """Start each new marker's input embedding at the mean of its type names' word pieces.

    An unused token's embedding was never trained, so all of them sit close together and
    fine-tuning at a small learning rate barely moves them (a first run with them moved each by
    about 6% of its norm, and the model tagged alike whichever marker it was given: model card,
    experiment 11); starting from "gene", "chemical disease", "all" ... the markers differ from
    the first step.
    """
    embeddings = model.get_input_embeddings().weight
    with torch.no_grad():
        for key, token in markers.items():
            words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", key.replace(",", " ")).lower()
            pieces = tokenizer(words, add_special_tokens=False)["input_ids"]
            embeddings[tokenizer.convert_tokens_to_ids(token)] = embeddings[pieces].mean(0)


def _try_fp16(model, tokenizer, staging: Path, dev_docs, types, fp32_scores, max_batch_tokens,
              device: str = "cpu"):
    """Score the model with its weights rounded to fp16; keep fp16 if F1 drops <= 0.2 points."""
    path = staging / "fp16-check"
    _save(model, tokenizer, path, half=True)
    # Loaded back in fp32, so only the rounding of the weights is measured.
    scores, _ = evaluate_model(path, dev_docs, types=types, device=device, dtype="fp32",
                               max_batch_tokens=max_batch_tokens, forget=True)
    fp32 = fp32_scores["micro"]["f1"] or 0.0
    fp16 = scores.micro.f1 or 0.0
    drop = 100 * (fp32 - fp16)
    kept = drop <= FP16_MAX_F1_DROP
    log.info("fp16 weights: dev F1 %.2f vs %.2f (drop %.2f points): %s", 100 * fp16, 100 * fp32,
             drop, "kept" if kept else "rejected, saving fp32")
    shutil.rmtree(path, ignore_errors=True)
    return {"kept": kept, "f1_fp32": fp32, "f1_fp16": fp16, "drop_points": drop}


# -- records and model card ----------------------------------------------------------------------
def training_record(result: TrainResult) -> dict[str, Any]:
    """JSON-ready summary of a training run (also written as training.json)."""
    return {"labels": result.labels, "params": result.params, "data": result.data,
            "epochs": [asdict(e) for e in result.epochs], "best_epoch": result.best_epoch,
            "final_dev": result.final, "fp16": result.fp16, "seconds": result.seconds}


def epoch_table(epochs: Sequence[EpochResult]) -> str:
    """Markdown table of per-epoch loss and strict dev scores (per type and micro)."""
    types = sorted(epochs[0].dev["per_type"]) if epochs else []
    head = "| epoch | train loss | dev P | dev R | dev F1 | " + " | ".join(
        f"{t} F1" for t in types) + " | seconds (dev scoring) |"
    lines = [head, "|" + "---:|" * (6 + len(types))]
    for e in epochs:
        micro = e.dev["micro"]
        per = " | ".join(pct(e.dev["per_type"][t]["f1"]) for t in types)
        lines.append(f"| {e.epoch} | {e.train_loss:.4f} | {pct(micro['precision'])} | "
                     f"{pct(micro['recall'])} | {pct(micro['f1'])} | {per} | {e.seconds:.0f} "
                     f"({e.eval_seconds:.0f}) |")
    return "\n".join(lines)


def write_model_card(path: Path, result: TrainResult, command_line: str | None = None) -> Path:
    """Write README.md: command, data (files, sha256, counts), per-epoch and final dev scores."""
    p = result.params
    files = []
    for role, entries in (("train", result.data["train_files"]),
                          ("dev", result.data["dev_files"])):
        for f in entries:
            types = ", ".join(f"{t} {n}" for t, n in f["types"].items())
            files.append(f"| {role} | `{f['path']}` | `{f['sha256'][:16]}…` | {f['documents']} "
                         f"| {f['mentions']} ({types}) | {', '.join(f.get('annotated') or []) or 'all'} "
                         f"| {f['duplicates']} | {f['held_out']} | {f.get('sampled_out', 0)} |")
    final = result.final
    per_type = "\n".join(
        f"| {t} | {c['n_gold']} | {c['n_predicted']} | {pct(c['precision'])} | "
        f"{pct(c['recall'])} | {pct(c['f1'])} |" for t, c in final["per_type"].items())
    micro = final["micro"]
    fp16 = ""
    if result.fp16:
        f = result.fp16
        fp16 = (f"\nfp16 weights: dev F1 {pct(f['f1_fp16'])} vs {pct(f['f1_fp32'])} in fp32 "
                f"(drop {f['drop_points']:.2f} points; limit {FP16_MAX_F1_DROP}): "
                f"{'saved in fp16' if f['kept'] else 'kept fp32'}.\n")
    s = result.data["sentences"]
    e = result.data["encoding"]
    licence = "apache-2.0" if "minilm" in p["base_model"].lower() else "other"
    base = card_base_model(p["base_model"])
    subset = ""
    if p.get("max_train_docs") is not None:
        subset = (f"Only the first {p['max_train_docs']} training documents were used "
                  "(--max-train-docs). ")
    if p.get("max_dev_docs") is not None:
        subset += f"Only the first {p['max_dev_docs']} dev documents were scored. "
    if p.get("teacher"):
        subset += (f"Distilled from the teacher `{p.get('teacher_model_id') or p['teacher']}`: "
                   f"{p['teacher_weight']} of each token's loss is the cross-entropy against its "
                   "label probabilities (`litmine.tasks.training.distill`). ")
    if p.get("grow_layers"):
        subset += (f"Grown before training (--grow-layers {p['grow_layers']}): each of the base "
                   f"model's top {p['grow_layers']} encoder layers is followed by a copy of "
                   "itself (`litmine.tasks.training.grow`). ")
    if p.get("freeze_layers"):
        kept = ", ".join(f"after at most {n} layers those of model `{f}`"
                         for n, f in p.get("states_from") or [])
        subset += (f"The embeddings and the first {p['freeze_layers']} encoder layers were kept "
                   "as in the base model (--freeze-layers)" + (
                       f"; its token states are {kept}, so relation heads trained on them read "
                       "this model's pass. " if kept else ". "))
    text = front_matter(licence=licence, base_model=base, pipeline_tag="token-classification",
                        tags=["litmine", "biomedical", "ner"]) + f"""
# litmine NER: {', '.join(t for t in result.labels if t.startswith('B-')).replace('B-', '')}

A BIO token classifier fine-tuned by `litmine train` from `{base}`.
Labels: {', '.join(result.labels)}.

{command_section(command_line, "train")}

Parameters: epochs {p['epochs']} (ran {len(result.epochs)}, best {result.best_epoch}), lr {p['lr']},
batch size {p['batch_size']}, max length {p['max_length']}, warm-up {p['warmup_ratio']}, weight
decay {p['weight_decay']}, gradient clip {p['grad_clip']}, seed {p['seed']}, patience
{p['patience']}, device {p['device']}, autocast {p.get('autocast', 'none')}. Training took {result.seconds / 60:.1f} minutes.

## Data

| role | file | sha256 | documents | mentions | annotates | duplicates dropped | held out (dev/excluded PMIDs) | sampled out |
|---|---|---|---:|---:|---|---:|---:|---:|
{chr(10).join(files)}

{subset}{result.data['train_documents']} training documents, {s['sentences']} sentences,
{e['examples']} examples, {result.data['train_tokens']} tokens. {s['crossing']} mentions crossed
a sentence boundary and {s['overlapping']} nested mentions were dropped; {s.get('negatives_skipped', 0)}
sentences without a mention were left out by the corpus list's `negatives` shares; {e['windows_split']}
long sentences were split into windows; {e['misaligned']} mentions start or end inside a word.
Dev documents scored: {result.data['dev_documents']}.

## Dev scores per epoch (strict mention level, pipeline inference)

{epoch_table(result.epochs)}

## Final dev scores (epoch {result.best_epoch})

| type | gold | predicted | P | R | F1 |
|---|---:|---:|---:|---:|---:|
{per_type}
| **micro** | {micro['n_gold']} | {micro['n_predicted']} | {pct(micro['precision'])} | {pct(micro['recall'])} | {pct(micro['f1'])} |
{fp16}
A mention counts only when document, start, end and type all match the gold annotation.

## Licences

{chr(10).join(licence_lines(_card_names(result)))}
"""
    return write_card(path, text)


def _card_names(result: TrainResult) -> list[str]:
    """The base model and corpus file names, whose words say which licences apply."""
    return [result.params["base_model"]] + [
        f["path"] for f in result.data["train_files"] + result.data["dev_files"]]


# -- Prefect tasks -------------------------------------------------------------------------------
@task(name="train-ner", cache_policy=NO_CACHE)
def train_ner_task(train: Sequence[str], dev: Sequence[str], out_dir: str, **kwargs: Any
                   ) -> TrainResult:
    """Fine-tune a NER model (a Prefect task around `train_ner`); logs the per-epoch scores."""
    logger = get_run_logger()
    result = train_ner(train, dev, out_dir, **kwargs)
    for e in result.epochs:
        logger.info("epoch %d: train loss %.4f, dev strict F1 %s, %.0f s", e.epoch, e.train_loss,
                    pct(e.dev["micro"]["f1"]), e.seconds)
    logger.info("saved epoch %d (dev F1 %s) to %s", result.best_epoch,
                pct(result.final["micro"]["f1"]), result.out_dir)
    return result
