"""Train the sentence-level CID method (`litmine.tasks.relations.encoder`) and pick its threshold.

Training examples are the evidence texts of `litmine.tasks.relations.candidates.build_candidates` built
from gold entities and gold MeSH IDs (sentences from the pipeline's own splitter); an evidence
text is positive when its document lists the candidate as a CID relation (distant supervision
from document-level labels, as in BioCreative V CDR systems). The encoder is fine-tuned as a
two-class sequence classifier with the one training loop
(`litmine.tasks.training.loop.fit`). After each epoch, dev candidates
(gold entities) are scored and aggregated per document; the threshold that maximises dev F1 is
stored with the model, and the F1 at 0.5 is reported next to it.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litmine.errors import LitmineError
from litmine.tasks.digests import sha256_file
from litmine.tasks.loading import load_for_training, load_tokenizer, resolve_device
from litmine.tasks.relations.candidates import (MARKERS, Candidate, aggregate, document_candidates,
                                                gold_pairs)
from litmine.tasks.relations.model_config import RELATION_FILE
from litmine.tasks.relations.training.cards import write_relation_card
from litmine.tasks.relations.training.documents import read_documents
from litmine.tasks.relations.training.thresholds import best_threshold, f1_at
from litmine.tasks.sources.pmid_lists import read_pmids
from litmine.tasks.sources.pubtator import PubTatorDocument
from litmine.tasks.training.loop import (Evaluate, KeepBestState, LoopState, Progress,
                                         decay_groups, fit, group_batches, publish_model_dir,
                                         seed_everything, use_all_cores)

log = logging.getLogger(__name__)

#: Epochs of `train_encoder_relations` when none are given (the stacked model's encoder:
#: `litmine.tasks.relations.training.document.DEFAULT_EPOCHS`).
ENCODER_EPOCHS = 2


@dataclass(frozen=True, slots=True)
class RelationExample:
    text: str
    label: int
    key: tuple[str, str, str]  # (pmid, chemical_id, disease_id)


def relation_examples(docs: Sequence[PubTatorDocument]
                      ) -> tuple[list[RelationExample], list[list[Candidate]]]:
    """(examples, candidates per document) for training or scoring."""
    examples, per_doc = [], []
    for d in docs:
        cands = document_candidates(d)
        gold = gold_pairs(d)
        for c in cands:
            label = int((c.chemical_id, c.disease_id) in gold)
            examples += [RelationExample(e.text, label, c.key) for e in c.evidence]
        per_doc.append(cands)
    return examples, per_doc


def score_candidates(model, tokenizer, examples: Sequence[RelationExample], *, device: str,
                     max_length: int, batch_size: int = 64) -> list[float]:
    import torch

    order = sorted(range(len(examples)), key=lambda i: len(examples[i].text))
    out = [0.0] * len(examples)
    model.eval()
    with torch.inference_mode():
        for k in range(0, len(order), batch_size):
            idx = order[k:k + batch_size]
            enc = tokenizer([examples[i].text for i in idx], truncation=True, padding=True,
                            max_length=max_length, return_tensors="pt").to(device)
            probs = torch.softmax(model(**enc).logits.float(), -1)[:, 1].tolist()
            for i, p in zip(idx, probs):
                out[i] = p
    return out


def evaluate_dev(model, tokenizer, docs, examples, per_doc, *, device, max_length,
                 aggregation="max") -> dict:
    """Dev scores with gold entities: tuned threshold and fixed 0.5, document-level CID."""
    scores = score_candidates(model, tokenizer, examples, device=device, max_length=max_length)
    by_key: dict[tuple, list[float]] = {}
    for ex, s in zip(examples, scores):
        by_key.setdefault(ex.key, []).append(s)
    scored = []
    n_gold = 0
    for d, cands in zip(docs, per_doc):
        gold = gold_pairs(d)
        n_gold += len(gold)
        for c in cands:
            if c.key in by_key:
                scored.append((aggregate(by_key[c.key], aggregation),
                               (c.chemical_id, c.disease_id) in gold))
    threshold, f, p, r = best_threshold(scored, n_gold)
    return {"tuned": f1_at(scored, n_gold, threshold), "at_0.5": f1_at(scored, n_gold, 0.5),
            "n_gold": n_gold, "n_candidates_scored": len(scored)}


def train_encoder_relations(train_files: Sequence[str | Path],
                            dev_files: Sequence[str | Path], base_model: str | Path, out_dir: str | Path, epochs: int = 2, *,
                    lr: float = 5e-5, batch_size: int = 16, max_length: int = 128,
                    seed: int = 13, device: str = "auto", aggregation: str = "max",
                    warmup_ratio: float = 0.1, weight_decay: float = 0.01,
                    max_train_docs: int | None = None, max_dev_docs: int | None = None,
                    exclude: Sequence[str | Path] = (), fp16_weights: bool = True,
                    progress: bool = True, command_line: str | None = None) -> dict[str, Any]:
    """Fine-tune `base_model` as the CID classifier; save the best dev epoch to `out_dir`.

    Returns the training record (also written as training.json): parameters, data counts,
    per-epoch loss/time/dev scores, and the chosen threshold.
    """
    import torch
    from transformers import get_linear_schedule_with_warmup

    started = time.time()
    params = {k: v for k, v in locals().items() if k in (
        "epochs", "lr", "batch_size", "max_length", "seed", "aggregation", "warmup_ratio",
        "weight_decay", "max_train_docs", "max_dev_docs", "fp16_weights")}
    params |= {"base_model": str(base_model), "train": [str(p) for p in train_files],
               "dev": [str(p) for p in dev_files], "exclude": [str(p) for p in exclude]}
    device = resolve_device(device, "train-relations")
    use_all_cores(device)
    seed_everything(seed)
    dev_docs = read_documents(dev_files, limit=max_dev_docs)
    held_out = {d.pmid for d in read_documents(dev_files)} | (read_pmids(exclude) if exclude else set())
    train_docs = read_documents(train_files, exclude=held_out, limit=max_train_docs)
    if not train_docs or not dev_docs:
        raise LitmineError(f"train-relations: no documents in {list(train_files)} or "
                           f"{list(dev_files)}")
    train_ex, _ = relation_examples(train_docs)
    dev_ex, dev_cands = relation_examples(dev_docs)
    n_pos = sum(e.label for e in train_ex)
    data = {"train_documents": len(train_docs), "dev_documents": len(dev_docs),
            "train_examples": len(train_ex), "train_positive": n_pos,
            "train_relations": sum(len(gold_pairs(d)) for d in train_docs),
            "dev_examples": len(dev_ex),
            "files": [{"path": str(p), "sha256": sha256_file(p)} for p in
                      [*train_files, *dev_files]]}
    log.info("train-relations: %d train examples (%d positive) from %d documents; %d dev "
             "examples", len(train_ex), n_pos, len(train_docs), len(dev_ex))
    tokenizer = load_tokenizer(base_model, "train-relations")
    model = load_for_training(
        base_model, "sequence-classification", stage="train-relations", num_labels=2,
        id2label={0: "none", 1: "CID"}, label2id={"none": 0, "CID": 1},
        ignore_mismatched_sizes=True, dtype=torch.float32).to(device)
    encoded = tokenizer([e.text for e in train_ex], truncation=True, max_length=max_length)
    ids = encoded["input_ids"]
    labels = [e.label for e in train_ex]
    optimizer = torch.optim.AdamW(decay_groups(model, weight_decay), lr=lr)
    steps = -(-len(ids) // batch_size)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(warmup_ratio * steps * epochs),
                                                steps * epochs)
    rng = random.Random(seed)
    pad = tokenizer.pad_token_id or 0

    def batch_loss(batch: list[int]):
        width = max(len(ids[i]) for i in batch)
        x = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):
            x[row, :len(ids[i])] = torch.tensor(ids[i])
            mask[row, :len(ids[i])] = 1
        y = torch.tensor([labels[i] for i in batch])
        return model(input_ids=x.to(device), attention_mask=mask.to(device),
                     labels=y.to(device)).loss

    def evaluate(state: LoopState) -> dict[str, Any]:
        dev = evaluate_dev(model, tokenizer, dev_docs, dev_ex, dev_cands, device=device,
                           max_length=max_length, aggregation=aggregation)
        record = {"epoch": state.epoch, "train_loss": state.loss,
                  "train_seconds": round(state.train_seconds, 1),
                  "dev_seconds": round(time.time() - state.epoch_started - state.train_seconds,
                                       1), "dev": dev}
        log.info("epoch %d: loss %.4f, dev F1 %.2f at tuned threshold %.3f (%.2f at 0.5), "
                 "%.0f s", state.epoch, record["train_loss"], 100 * dev["tuned"]["f1"],
                 dev["tuned"]["threshold"], 100 * dev["at_0.5"]["f1"],
                 time.time() - state.epoch_started)
        return record

    state = fit(model, optimizer, scheduler, epochs=epochs, device=device,
                batches=lambda epoch: group_batches([len(x) for x in ids], batch_size, rng),
                loss=batch_loss,
                callbacks=[Progress(progress, unit="batch"),
                           Evaluate(evaluate, score=lambda r: r["dev"]["tuned"]["f1"]),
                           KeepBestState()])
    history, best = state.history, state.best_record
    model.to("cpu")
    out_dir = Path(out_dir)
    staging = out_dir.with_name(out_dir.name + ".training")
    shutil.rmtree(staging, ignore_errors=True)
    if fp16_weights:
        model = model.to(torch.float16)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    relation_config = {
        "task": "CID", "name": out_dir.name, "threshold": best["dev"]["tuned"]["threshold"],
        "aggregation": aggregation, "max_length": max_length, "markers": MARKERS,
        "best_epoch": best["epoch"], "dev": best["dev"]}
    (staging / RELATION_FILE).write_text(json.dumps(relation_config, indent=2))
    result = {"params": params, "data": data, "epochs": history, "best_epoch": best["epoch"],
              "threshold": relation_config["threshold"], "seconds": time.time() - started,
              "out_dir": str(out_dir)}
    (staging / "training.json").write_text(json.dumps(result, indent=2))
    write_relation_card(staging, result, command_line)
    publish_model_dir(staging, out_dir)
    return result
