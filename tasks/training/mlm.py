"""Task-adaptive pretraining: masked language modelling on the training corpora's own text.

Before an encoder is fine-tuned into a tagger, a few epochs of BERT's masked-word objective on
the titles and abstracts it will be fine-tuned on teach it the domain's words (Gururangan et al.
2020, "Don't stop pretraining", ACL): all-MiniLM-L6-v2 was trained on web sentences, not
PubMed. The recipe is BERT's (Devlin et al. 2019): 15% of the word pieces chosen, of those 80%
replaced by [MASK], 10% by a random piece, 10% left as they are; the loss is the cross-entropy
of the chosen pieces only. Documents are cut into chunks of `max_length - 2` pieces; similar
lengths are batched together. The labels are not read, so every document of a corpus counts
(a corpus list's `max_docs` samples labelled sentences, not text); PMIDs of `--exclude` files
and of the dev files never reach training. The dev files' masked-word loss is reported after
each epoch (the same masks every epoch); the last epoch's weights are kept, as in pretraining.
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from litmine.errors import LitmineError
from litmine.tasks.digests import sha256_file
from litmine.tasks.loading import device_name, load_for_training, load_tokenizer
from litmine.tasks.sources.pmid_lists import read_pmids
from litmine.tasks.sources.pubtator import detect_format, iter_pubtator
from litmine.tasks.training.cards import (card_base_model, command_section, front_matter,
                                          licence_lines, write_card)
from litmine.tasks.training.corpus_list import CorpusSpec
from litmine.tasks.training.loop import (Evaluate, LoopState, Progress, autocast_for,
                                         decay_groups, fit, mixed_precision_of,
                                         publish_with_record, seed_everything, use_all_cores)

log = logging.getLogger(__name__)

DEFAULT_MLM_EPOCHS = 3
DEFAULT_MLM_LR = 1e-4
DEFAULT_MLM_BATCH_SIZE = 32
DEFAULT_MLM_MAX_LENGTH = 128
#: BERT's masking: the share of pieces chosen, and of those the shares masked and randomised.
MASK_SHARE, AS_MASK, AS_RANDOM = 0.15, 0.8, 0.1
#: A document's last chunk shorter than this many pieces is dropped (too little to predict from).
MIN_CHUNK_PIECES = 16
#: Chunks whose lengths agree to this many pieces are batched together.
LENGTH_BUCKET = 16
WARMUP_RATIO = 0.06
WEIGHT_DECAY = 0.01


@dataclass
class TextStats:
    """What one corpus file gave: documents kept, and why others were not."""

    path: str
    sha256: str
    documents: int = 0
    held_out: int = 0  # dev or --exclude PMIDs
    duplicates: int = 0  # already read from an earlier file
    empty: int = 0  # no text


@dataclass
class MlmResult:
    """A pretraining run: its settings, data, per-epoch losses and where it was saved."""

    out_dir: Path
    params: dict[str, Any]
    data: dict[str, Any]
    epochs: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


# -- the text ------------------------------------------------------------------------------------
def corpus_texts(paths: Sequence[str | Path | CorpusSpec], held_out: Iterable[str] = ()
                 ) -> tuple[dict[str, str], list[TextStats]]:
    """Each document's ``title + " " + abstract`` by PMID, in file order (a PMID in two files is
    read from the first), leaving out `held_out` PMIDs; and what each file gave."""
    held = set(held_out)
    texts: dict[str, str] = {}
    stats = []
    for item in paths:
        path = Path(item.path if isinstance(item, CorpusSpec) else item)
        if not path.is_file():
            raise LitmineError(f"train --task mlm: {path} does not exist; give PubTator files "
                               "with --train or a --corpus-list")
        if detect_format(path) != "pubtator":
            raise LitmineError(f"train --task mlm: {path} is not a PubTator file; the masked "
                               "language model reads whole titles and abstracts (PMID|t|..., "
                               "PMID|a|...)")
        file_stats = TextStats(str(path), sha256_file(path))
        reader = iter_pubtator(path)
        for doc in reader:
            if doc.pmid in held:
                file_stats.held_out += 1
            elif doc.pmid in texts:
                file_stats.duplicates += 1
            else:
                texts[doc.pmid] = doc.text.strip()
                file_stats.documents += 1
        file_stats.empty = reader.stats.skipped["empty-document"]  # the reader warned
        stats.append(file_stats)
    return texts, stats


def chunk_texts(tokenizer, texts: Iterable[str], max_length: int) -> list[list[int]]:
    """Each text's word pieces cut into chunks of at most `max_length` with [CLS] and [SEP]
    (a last chunk under MIN_CHUNK_PIECES pieces is dropped)."""
    width = max_length - 2
    if width < MIN_CHUNK_PIECES:
        raise LitmineError(f"train --task mlm: --max-length {max_length} leaves chunks under "
                           f"{MIN_CHUNK_PIECES} pieces; use at least {MIN_CHUNK_PIECES + 2}")
    chunks = []
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        for i in range(0, len(ids), width):
            piece = ids[i:i + width]
            if len(piece) >= MIN_CHUNK_PIECES:
                chunks.append([tokenizer.cls_token_id, *piece, tokenizer.sep_token_id])
    return chunks


def length_batches(lengths: Sequence[int], batch_size: int, rng: random.Random
                   ) -> list[list[int]]:
    """Batches of chunk indexes whose lengths agree to LENGTH_BUCKET pieces, in random order."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    order.sort(key=lambda i: lengths[i] // LENGTH_BUCKET)  # stable: random within a bucket
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def pad_chunks(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Input IDs padded to the longest row, and the attention mask."""
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), pad_id)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = torch.tensor(row)
        attention[i, :len(row)] = 1
    return ids, attention


def mask_tokens(ids: torch.Tensor, attention: torch.Tensor, special_ids: Iterable[int],
                mask_id: int, vocab_size: int, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """BERT's masking: (inputs, chosen positions, the original pieces there).

    Of the real, non-special pieces MASK_SHARE are chosen; of those AS_MASK become `mask_id`,
    AS_RANDOM a random piece and the rest stay. Random numbers come from `generator` (default:
    torch's global one).
    """
    can = attention.bool() & ~torch.isin(ids, torch.tensor(sorted(set(special_ids))))
    chosen = (torch.rand(ids.shape, generator=generator) < MASK_SHARE) & can
    labels = ids[chosen].clone()
    roll = torch.rand(ids.shape, generator=generator)
    inputs = ids.clone()
    inputs[chosen & (roll < AS_MASK)] = mask_id
    randomised = chosen & (roll >= AS_MASK) & (roll < AS_MASK + AS_RANDOM)
    inputs[randomised] = torch.randint(vocab_size, (int(randomised.sum()),), generator=generator)
    return inputs, chosen, labels


def masked_loss(model, inputs: torch.Tensor, attention: torch.Tensor, chosen: torch.Tensor,
                labels: torch.Tensor) -> torch.Tensor:
    """The cross-entropy of the chosen pieces. BERT's prediction head (`cls`) runs on those
    pieces only; other masked LMs predict every piece and the chosen ones are kept."""
    head = getattr(model, "cls", None)
    if head is not None:
        encoder = getattr(model, model.base_model_prefix)
        logits = head(encoder(input_ids=inputs, attention_mask=attention).last_hidden_state[chosen])
    else:
        logits = model(input_ids=inputs, attention_mask=attention).logits[chosen]
    return torch.nn.functional.cross_entropy(logits.float(), labels)


# -- training ------------------------------------------------------------------------------------
def train_mlm(train: Sequence[str | Path | CorpusSpec], dev: Sequence[str | Path],
              out_dir: str | Path, *, base_model: str, exclude: Sequence[str | Path] = (),
              epochs: int = DEFAULT_MLM_EPOCHS, lr: float = DEFAULT_MLM_LR,
              batch_size: int = DEFAULT_MLM_BATCH_SIZE,
              max_length: int = DEFAULT_MLM_MAX_LENGTH, seed: int = 13, device: str = "auto",
              precision: str = "auto", progress: bool = True,
              command_line: str | None = None) -> MlmResult:
    """Continue `base_model`'s masked-LM pretraining on the text of `train` and save it to
    `out_dir` (a masked LM whose encoder `litmine train --base-model` fine-tunes)."""
    from transformers import get_linear_schedule_with_warmup

    started = time.time()
    mixed = mixed_precision_of(precision, "train --task mlm")
    if not dev:
        raise LitmineError("train --task mlm: give --dev files (their masked-word loss is "
                           "reported each epoch, and their PMIDs are never trained on)")
    out_dir = Path(out_dir)
    torch_device = torch.device(device_name(device, "train"))
    use_all_cores(torch_device)
    seed_everything(seed)
    dev_texts, dev_stats = corpus_texts(dev)
    held = read_pmids(exclude) | set(dev_texts)
    texts, train_stats = corpus_texts(train, held)
    if not texts:
        raise LitmineError(f"train --task mlm: no text left in {[s.path for s in train_stats]} "
                           "after leaving out the dev and --exclude PMIDs")
    tokenizer = load_tokenizer(str(base_model), "train")
    if tokenizer.mask_token_id is None:
        raise LitmineError(f"train --task mlm: {base_model}'s tokenizer has no mask token; "
                           "masked language modelling needs a BERT-style vocabulary")
    chunks = chunk_texts(tokenizer, texts.values(), max_length)
    dev_chunks = chunk_texts(tokenizer, dev_texts.values(), max_length)
    if not dev_chunks:
        raise LitmineError(f"train --task mlm: the dev files {list(map(str, dev))} have no "
                           f"text of {MIN_CHUNK_PIECES} pieces or more")
    log.info("train --task mlm: %d documents, %d chunks, %d pieces (dev: %d documents)",
             len(texts), len(chunks), sum(map(len, chunks)), len(dev_texts))
    model = load_for_training(str(base_model), "masked-lm", stage="train")
    model.to(torch_device)
    special = {tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id}
    vocab = model.config.vocab_size
    steps = epochs * math.ceil(len(chunks) / batch_size)
    optimizer = torch.optim.AdamW(decay_groups(model, WEIGHT_DECAY), lr=lr)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(WARMUP_RATIO * steps), steps)
    rng = random.Random(seed)
    lengths = [len(c) for c in chunks]

    def chunks_loss(rows: Sequence[Sequence[int]], generator: torch.Generator | None = None
                    ) -> tuple[torch.Tensor | None, int]:
        """Mask `rows` (from `generator`, default torch's) and return the masked-word loss
        and how many pieces were chosen (None and 0 when none were)."""
        ids, attention = pad_chunks(rows, tokenizer.pad_token_id)
        inputs, chosen, labels = mask_tokens(ids, attention, special, tokenizer.mask_token_id,
                                             vocab, generator)
        if not labels.numel():
            return None, 0
        return masked_loss(model, *(t.to(torch_device) for t in (inputs, attention, chosen,
                                                                 labels))), labels.numel()

    autocast, amp_dtype = autocast_for(torch_device, mixed)

    def dev_loss(state: LoopState) -> dict[str, float]:
        """The dev chunks' masked-word loss (the same masks every epoch; no dropout)."""
        dev_started = time.time()
        generator = torch.Generator().manual_seed(seed)
        total, count = 0.0, 0
        with torch.no_grad(), autocast:
            for i in range(0, len(dev_chunks), batch_size):
                loss, n = chunks_loss(dev_chunks[i:i + batch_size], generator)
                if n:
                    total, count = total + loss.item() * n, count + n
        record = {"epoch": state.epoch, "train_loss": state.loss,
                  "dev_loss": total / max(1, count), "seconds": state.train_seconds,
                  "dev_seconds": time.time() - dev_started}
        log.info("epoch %d: masked-word loss %.4f, dev %.4f, %.0f s (dev %.0f s)", state.epoch,
                 record["train_loss"], record["dev_loss"], record["seconds"],
                 record["dev_seconds"])
        return record

    params = dict(base_model=str(base_model), epochs=epochs, lr=lr, batch_size=batch_size,
                  max_length=max_length, seed=seed, warmup_ratio=WARMUP_RATIO,
                  weight_decay=WEIGHT_DECAY, mask_share=MASK_SHARE, device=str(torch_device),
                  precision=precision, autocast=str(amp_dtype or "none").replace("torch.", ""),
                  exclude=[str(p) for p in exclude])
    data = dict(train_files=[asdict(s) for s in train_stats],
                dev_files=[asdict(s) for s in dev_stats], documents=len(texts),
                chunks=len(chunks), pieces=sum(lengths), dev_chunks=len(dev_chunks))
    state = fit(model, optimizer, scheduler, epochs=epochs, device=torch_device,
                batches=lambda epoch: length_batches(lengths, batch_size, rng),
                loss=lambda batch: chunks_loss([chunks[i] for i in batch])[0],
                grad_clip=1.0, mixed_precision=mixed,
                callbacks=[Progress(progress), Evaluate(dev_loss)])
    model.to("cpu").eval()
    staging = out_dir.with_name(out_dir.name + ".training")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    result = MlmResult(out_dir, params, data, list(state.history), time.time() - started)
    publish_with_record(staging, out_dir, mlm_record(result), _card, command_line)
    return result


def mlm_record(result: MlmResult) -> dict[str, Any]:
    """training.json's content."""
    return {"task": "mlm", "params": result.params, "data": result.data,
            "epochs": result.epochs, "seconds": round(result.seconds, 1)}


def _card(path: Path, record: dict[str, Any], command_line: str | None) -> Path:
    """The model card: what the model is for, the command, the data and the losses."""
    p, d = record["params"], record["data"]
    rows = "\n".join(
        f"| `{f['path']}` | `{f['sha256'][:16]}…` | {f['documents']} | {f['held_out']} | "
        f"{f['duplicates']} | {f['empty']} |" for f in d["train_files"])
    epochs = "\n".join(f"| {e['epoch']} | {e['train_loss']:.4f} | {e['dev_loss']:.4f} | "
                       f"{e['seconds']:.0f} ({e['dev_seconds']:.0f}) |" for e in record["epochs"])
    names = [p["base_model"], *(f["path"] for f in d["train_files"] + d["dev_files"])]
    text = f"""{front_matter(licence="apache-2.0", base_model=card_base_model(p["base_model"]),
                          pipeline_tag="fill-mask", tags=["litmine", "biomedical", "tapt"])}
# litmine task-adaptive pretraining: a masked language model

`{card_base_model(p["base_model"])}` pretrained further on the training corpora's own titles
and abstracts (BERT's masked-word objective), to be fine-tuned by `litmine train --base-model`.
Dev and excluded PMIDs were left out.

{command_section(command_line, "train")}

Parameters: epochs {p["epochs"]}, lr {p["lr"]}, batch size {p["batch_size"]}, chunks of at most
{p["max_length"]} pieces, warm-up {p["warmup_ratio"]}, weight decay {p["weight_decay"]}, masking
{p["mask_share"]}, seed {p["seed"]}, device {p["device"]}, autocast {p["autocast"]}. Training took
{record["seconds"] / 60:.1f} minutes.

## Data

{d["documents"]} documents, {d["chunks"]} chunks, {d["pieces"]} pieces; dev: {d["dev_chunks"]} chunks.

| file | sha256 | documents | held out (dev/excluded PMIDs) | duplicates | empty |
|---|---|---:|---:|---:|---:|
{rows}

## Masked-word loss per epoch (dev: the same masks every epoch)

| epoch | train | dev | seconds (dev) |
|---:|---:|---:|---:|
{epochs}

## Licences

{chr(10).join(licence_lines(names))}
"""
    return write_card(path, text)


# -- Prefect task --------------------------------------------------------------------------------
@task(name="train-mlm", cache_policy=NO_CACHE)
def train_mlm_task(train: Sequence[str | Path | CorpusSpec], dev: Sequence[str], out_dir: str,
                   **kwargs: Any) -> MlmResult:
    """Task-adaptive pretraining (a Prefect task around `train_mlm`)."""
    result = train_mlm(train, dev, out_dir, **kwargs)
    get_run_logger().info("saved the masked language model to %s (dev loss %.4f)",
                          result.out_dir, result.epochs[-1]["dev_loss"])
    return result
