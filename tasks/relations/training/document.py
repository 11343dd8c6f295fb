"""Train the document-level CID encoder (`litmine.tasks.relations.document`): fine-tune an
encoder with ATLOP's pair head (Zhou et al. 2021) on gold documents, keep the epoch with the best
held-out F1."""

from __future__ import annotations

import logging
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litmine.errors import ModelError
from litmine.tasks.loading import load_for_training, load_tokenizer, resolve_device
from litmine.tasks.relations.candidates import CHEMICAL, DISEASE
from litmine.tasks.relations.document import (MARKER, EncodedDocument, build_pair_model,
                                              document_spans, encode_document, save_pair_model)
from litmine.tasks.relations.training.thresholds import best_threshold
from litmine.tasks.sources.pubtator import gold_to_mentions
from litmine.tasks.training.loop import (Checkpoint, EarlyStopping, Evaluate, LoopState, Progress,
                                         fit, publish_model_dir, seed_everything, use_all_cores)

log = logging.getLogger(__name__)

#: Recipe, following ATLOP's (lr 5e-5 for the encoder, 1e-4 for the head, 6% warm-up, gradient
#: clipping at 1.0, 4 documents a step) with fewer epochs: on BC5CDR (400 training documents,
#: 100 held out) the held-out F1 peaked at epochs 2-5 of 10 and fell after (overfitting).
DEFAULT_EPOCHS = 5
DEFAULT_LR, HEAD_LR = 5e-5, 1e-4
DOCS_PER_STEP = 4
WARMUP = 0.06


def load_pair_encoder(base_model: str | Path, device: str, seed: int):
    """(torch device, tokenizer, fp32 encoder without pooler) to fine-tune a pair model from
    `base_model`, with every core in use and the seeds set; ModelError when its tokenizer has no
    `MARKER` token."""
    import torch

    torch_device = resolve_device(device, "relations")
    use_all_cores(torch_device)
    seed_everything(seed)
    tokenizer = load_tokenizer(base_model, "relations")
    if tokenizer.convert_tokens_to_ids(MARKER) == tokenizer.unk_token_id:
        raise ModelError(f"relations: the tokenizer of {base_model} has no {MARKER!r} token")
    # The pooler is never used (pairs are read off marker tokens).
    encoder = load_for_training(base_model, "encoder", stage="relations", dtype=torch.float32,
                                add_pooling_layer=False)
    return torch_device, tokenizer, encoder


def pair_optimizer(model, lr: float, head_lr: float, n_documents: int, epochs: int):
    """(optimizer, scheduler) of a pair model: AdamW with the encoder at `lr` and the head at
    `head_lr` (weight decay 0.01), a linear schedule with `WARMUP` warm-up over `epochs` of
    `n_documents` in steps of `DOCS_PER_STEP`."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    head = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    optimizer = torch.optim.AdamW([{"params": model.encoder.parameters(), "lr": lr},
                                   {"params": head, "lr": head_lr}], weight_decay=0.01)
    steps = -(-n_documents // DOCS_PER_STEP) * epochs
    return optimizer, get_linear_schedule_with_warmup(optimizer, int(WARMUP * steps), steps)


def shuffled_steps(documents: Sequence, seed: int):
    """`fit`'s `batches`: each epoch, `documents` shuffled (one generator seeded once) and cut
    into steps of `DOCS_PER_STEP`."""
    rng = random.Random(seed)

    def epoch_batches(epoch: int) -> list[list]:
        order = list(documents)
        rng.shuffle(order)
        return [order[k:k + DOCS_PER_STEP] for k in range(0, len(order), DOCS_PER_STEP)]

    return epoch_batches


@dataclass
class PreparedDocument:
    pmid: str
    doc: EncodedDocument
    pairs: list[tuple[tuple[str, str], tuple[str, str]]]
    labels: list[float]
    n_gold: int


def prepare_documents(tokenizer, docs: Sequence) -> list[PreparedDocument]:
    """Encoded gold documents (PubTatorDocument) with every concept pair and its CID label."""
    out = []
    for d in docs:
        enc = encode_document(tokenizer, d.text, document_spans(gold_to_mentions(d)))
        gold = {(a, b) for t, a, b in d.relations if t == "CID"}
        chems = sorted(k for k in enc.concepts if k[0] == CHEMICAL)
        diss = sorted(k for k in enc.concepts if k[0] == DISEASE)
        pairs = [(c, x) for c in chems for x in diss]
        out.append(PreparedDocument(d.pmid, enc, pairs,
                                    [float((c[1], x[1]) in gold) for c, x in pairs], len(gold)))
    return out


def batch_pairs(batch: Sequence[PreparedDocument]) -> int:
    """Concept pairs in a batch of documents (the weight of its step's loss)."""
    return sum(len(p.pairs) for p in batch)


def prepared_logits(model, tokenizer, docs: Sequence):
    """The float logits of every pair of each prepared document (None for a document without
    pairs), the model in eval mode, without gradients."""
    import torch

    model.eval()
    with torch.inference_mode():
        for p in docs:
            yield (model(p.doc.input_ids, p.doc.concepts, p.pairs, tokenizer.cls_token_id,
                         tokenizer.sep_token_id).float() if p.pairs else None)


def score_prepared(model, tokenizer, docs: Sequence[PreparedDocument]) -> list[list[float]]:
    """P(CID) of every pair of each prepared document."""
    import torch

    return [[] if logits is None else torch.sigmoid(logits).tolist()
            for logits in prepared_logits(model, tokenizer, docs)]


def train_document_model(fit_docs: Sequence, held_out: Sequence, base_model: str | Path,
                         out_dir: str | Path, *, epochs: int = DEFAULT_EPOCHS,
                         lr: float = DEFAULT_LR, seed: int = 13, device: str = "auto",
                         patience: int = 2, progress: bool = False) -> dict[str, Any]:
    """Fine-tune `base_model` with the pair head on `fit_docs` (gold PubTator documents); keep
    the epoch with the best F1 on `held_out` and save it (fp16 encoder) to `out_dir`.

    Returns the record: per-epoch loss, held-out F1 and threshold, the best epoch, timings.
    """
    import torch

    started = time.time()
    device, tokenizer, encoder = load_pair_encoder(base_model, device, seed)
    model = build_pair_model(encoder).to(device)
    train_set = [p for p in prepare_documents(tokenizer, fit_docs) if p.pairs]
    hold = prepare_documents(tokenizer, held_out)
    if not train_set or not any(p.pairs for p in hold):
        raise ModelError("relations: no document with both a chemical and a disease concept to "
                         f"train ({len(train_set)}) or to hold out; check the corpora's entity "
                         "lines")
    optimizer, scheduler = pair_optimizer(model, lr, HEAD_LR, len(train_set), epochs)
    loss_fn = torch.nn.BCEWithLogitsLoss(reduction="sum")
    epoch_batches = shuffled_steps(train_set, seed)
    staging = Path(out_dir).with_name(Path(out_dir).name + ".training")

    def documents_of(batch: list[PreparedDocument]):
        """One part per document, each with the pair count of its whole batch."""
        n = batch_pairs(batch)
        return [(p, n) for p in batch]

    def document_loss(part: tuple[PreparedDocument, int]):
        """Summed BCE of one document's pairs over its batch's pair count (a mean per step)."""
        p, n = part
        logits = model(p.doc.input_ids, p.doc.concepts, p.pairs, tokenizer.cls_token_id,
                       tokenizer.sep_token_id)
        return loss_fn(logits.float(), torch.tensor(p.labels, device=logits.device)) / n

    def evaluate(state: LoopState) -> dict[str, Any]:
        scores = score_prepared(model, tokenizer, hold)
        scored = [(s, bool(y)) for p, ss in zip(hold, scores) for s, y in zip(ss, p.labels)]
        threshold, f1, precision, recall = best_threshold(scored, sum(p.n_gold for p in hold))
        record = {"epoch": state.epoch, "train_loss": round(state.loss, 4),
                  "train_seconds": round(state.train_seconds, 1),
                  "held_out": {"f1": f1, "precision": precision, "recall": recall,
                               "threshold": threshold}}
        log.info("document relations: epoch %d loss %.4f, held-out F1 %.2f (threshold %.3f), "
                 "%.0f s", state.epoch, record["train_loss"], 100 * f1, threshold,
                 time.time() - state.epoch_started)
        return record

    def save_best(state: LoopState) -> None:
        shutil.rmtree(staging, ignore_errors=True)
        save_pair_model(model, tokenizer, staging,
                        {"kind": "document", "task": "CID", "threshold":
                         state.record["held_out"]["threshold"], "blocks": model.blocks,
                         "epoch": state.epoch, "held_out": state.record["held_out"]})

    state = fit(model, optimizer, scheduler, epochs=epochs, device=device,
                batches=epoch_batches, loss=document_loss, micro_batches=documents_of,
                weight=batch_pairs, mixed_precision="bf16",
                callbacks=[Progress(progress, unit="step", show_loss=False),
                           Evaluate(evaluate, score=lambda r: r["held_out"]["f1"]),
                           Checkpoint(save_best), EarlyStopping(patience)])
    history, best = state.history, state.best_record
    publish_model_dir(staging, Path(out_dir))
    return {"epochs": history, "best_epoch": best["epoch"], "threshold":
            best["held_out"]["threshold"], "held_out": best["held_out"],
            "fit_documents": len(train_set), "held_out_documents": len(hold),
            "params": {"epochs": epochs, "lr": lr, "head_lr": HEAD_LR, "seed": seed,
                       "docs_per_step": DOCS_PER_STEP, "warmup": WARMUP, "patience": patience,
                       "base_model": str(base_model)},
            "seconds": round(time.time() - started, 1)}
