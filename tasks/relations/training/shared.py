"""Train a shared relation model (`litmine.tasks.relations.shared`): a small head over a NER
model's token states, for BioRED's typed relations, as the CID document member, or for both
at once ("joint": BioRED's documents teach the typed columns, BC5CDR's the CID column).

The NER model is frozen: its pass over the training documents runs once, and only the head's
layers (initialised from the NER model's layers above `states_layer`), entity marks and pair
head are trained, so an epoch costs a fraction of fine-tuning a whole encoder. Recipe as the
other pair models (AdamW, linear schedule with 6% warm-up, clipping at 1.0, 4 documents a
step, bf16 autocast where the CPU has bf16 units); held-out training documents pick the epoch
and the thresholds; dev documents are only scored.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litmine.errors import ModelError
from litmine.tasks.digests import sha256_file
from litmine.tasks.relations.shared import (SHARED_FILE, TASKS, WEIGHTS_FILE,
                                            build_shared_head, cid_column, concept_ranges,
                                            outputs_of)
from litmine.tasks.relations.training.document import DOCS_PER_STEP, WARMUP, shuffled_steps
from litmine.tasks.relations.training.thresholds import best_threshold
from litmine.tasks.relations.typed import CLASSES, ENTITY_TYPES, NOT_NOVEL, NOVEL
from litmine.tasks.training.loop import (Checkpoint, EarlyStopping, Evaluate, LoopState,
                                         Progress, fit, publish_with_record)

log = logging.getLogger(__name__)

#: Layers of the head (copies of the NER model's top layers): the head reads the states after
#: the NER model's others (all-MiniLM-L6-v2: after 4 of its 6). Picked on BioRED's held-out
#: training documents (the model card lists the runs).
DEFAULT_HEAD_LAYERS = 2
DEFAULT_EPOCHS = 10
DEFAULT_LR, HEAD_LR = 1e-4, 3e-4
#: Documents whose states are computed in one NER call.
STATES_CHUNK = 64
CID_TYPES = ("Chemical", "Disease")


@dataclass
class Prepared:
    """A gold document as the head reads it: states, concept token ranges, pairs and labels."""

    pmid: str
    states: Any  # DocumentStates
    concepts: dict
    pairs: list
    labels: list  # BioRED: class index per pair; CID: 1.0 / 0.0
    gold: Any  # BioRED: GoldRelations; CID: set of (chemical ID, disease ID)
    novel: list = field(default_factory=list)  # BioRED: 1.0 Novel, 0.0 No, -1.0 unknown
    task: str = "BioRED"  # what the labels are: "BioRED" or "CID"


def document_states(tagger, docs: Sequence, layer: int) -> dict:
    """PMID -> the NER pass's `DocumentStates` of gold documents (the pipeline's sentences)."""
    from litmine.tasks.text.sentences import split_article

    out: dict = {}
    for k in range(0, len(docs), STATES_CHUNK):
        sentences = [s for d in docs[k:k + STATES_CHUNK] for s in split_article(d.to_article())]
        out.update(tagger.tag_documents(sentences, states_layer=layer).states)
    return out


def prepare(task: str, docs: Sequence, states: dict, issues: list | None = None) -> list[Prepared]:
    """Each document's concepts (gold mentions with IDs), candidate pairs and their labels."""
    from litmine.tasks.relations.candidates import gold_pairs
    from litmine.tasks.relations.document import document_spans
    from litmine.tasks.relations.typed import candidate_pairs, typed_spans
    from litmine.tasks.relations.typed_gold import canonical_mentions, gold_relations
    from litmine.tasks.sources.pubtator import gold_to_mentions

    out = []
    for d in docs:
        st = states.get(d.pmid)
        if st is None:
            continue
        if task == "BioRED":
            gold = gold_relations(d, issues)
            concepts = concept_ranges(st, typed_spans(canonical_mentions(d)))
            pairs = candidate_pairs(list(concepts))
            labels, novel = [], []
            for a, b in pairs:
                kind, novelty = gold.get(frozenset((a[1], b[1])), ("none", ""))
                labels.append(CLASSES.index(kind))
                novel.append({NOVEL: 1.0, NOT_NOVEL: 0.0}.get(novelty, -1.0))
            out.append(Prepared(d.pmid, st, concepts, pairs, labels, gold, novel, task))
        else:
            gold = gold_pairs(d)
            concepts = concept_ranges(st, document_spans(gold_to_mentions(d)))
            chemicals = sorted(k for k in concepts if k[0] == "Chemical")
            diseases = sorted(k for k in concepts if k[0] == "Disease")
            pairs = [(c, x) for c in chemicals for x in diseases]
            labels = [float((c[1], x[1]) in gold) for c, x in pairs]
            out.append(Prepared(d.pmid, st, concepts, pairs, labels, gold, task=task))
    return out


def predict(model, task: str, docs: Sequence[Prepared], autocast) -> list[list]:
    """Per document, per pair: BioRED (1 - P(none), class, P(novel)); CID P(CID) (each
    document as its `task` says, read off the columns of the model's `task`).
    `autocast()`: a fresh autocast context (as training's)."""
    import torch

    from litmine.tasks.relations.typed import pair_outputs

    model.eval()
    out = []
    with torch.inference_mode(), autocast():
        for p in docs:
            if not p.pairs:
                out.append([])
                continue
            logits = model(p.states.states, p.concepts, p.pairs).float()
            if p.task == "CID":
                out.append(torch.sigmoid(cid_logits(logits, task)).tolist())
                continue
            probs, novel = pair_outputs(logits[:, :len(CLASSES) + 1])
            kind = probs[:, 1:].argmax(-1) + 1
            out.append(list(zip((1 - probs[:, 0]).tolist(), kind.tolist(), novel.tolist())))
    return out


def cid_scores(docs: Sequence[Prepared], predictions, threshold: float | None = None
               ) -> dict[str, float]:
    """F1, precision, recall and threshold of CID pairs (gold pairs never read count as
    misses); `threshold` None: the best one."""
    scored = [(s, bool(y)) for p, pred in zip(docs, predictions) for s, y in zip(pred, p.labels)]
    n_gold = sum(len(p.gold) for p in docs)
    if threshold is None:
        threshold, f1, precision, recall = best_threshold(scored, n_gold)
    else:
        kept = [y for s, y in scored if s >= threshold]
        precision, recall = sum(kept) / max(1, len(kept)), sum(kept) / max(1, n_gold)
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return {"f1": f1, "precision": precision, "recall": recall, "threshold": threshold}


def typed_record(docs, predictions, threshold=None, novelty_threshold=None) -> dict[str, Any]:
    """BioRED's levels on held-out or dev documents (thresholds tuned when None)."""
    from litmine.tasks.relations.training.typed import scores_at, tune_novelty, tune_threshold

    if threshold is None:
        threshold = tune_threshold(docs, predictions)
        novelty_threshold = tune_novelty(docs, predictions, threshold)
    return {"threshold": threshold, "novelty_threshold": novelty_threshold,
            "scores": scores_at(docs, predictions, threshold, novelty_threshold)}


def cid_logits(logits, task: str):
    """The CID logit of each pair: a CID head's only output, a joint head's last column."""
    return logits.reshape(-1) if task == "CID" else logits[:, cid_column(task)]


def held_out_record(model, task: str, held: Sequence[Prepared], autocast, epoch: int,
                    loss: float) -> dict[str, Any]:
    """Thresholds, scores and the selection score of one epoch on the held-out documents
    (joint: BioRED's under "held_out", CID's under "cid_held_out")."""
    predictions = predict(model, task, held, autocast)
    record: dict[str, Any] = {}
    parts = {kind: ([p for p in held if p.task == kind],
                    [x for p, x in zip(held, predictions) if p.task == kind])
             for kind in ("BioRED", "CID")}
    if task in ("CID", "joint"):
        scores = cid_scores(*parts["CID"])
        key = "held_out" if task == "CID" else "cid_held_out"
        record |= {key: scores, "score": scores["f1"],
                   ("threshold" if task == "CID" else "cid_threshold"): scores["threshold"]}
        log.info("shared %s: epoch %d loss %.4f, held-out CID F1 %.2f (threshold %.3f)", task,
                 epoch, loss, 100 * scores["f1"], scores["threshold"])
    if task in ("BioRED", "joint"):
        typed = typed_record(*parts["BioRED"])
        scores = typed["scores"]
        cid = record.get("score")
        record |= {"threshold": typed["threshold"],
                   "novelty_threshold": typed["novelty_threshold"], "held_out": scores,
                   "score": scores["pair+type"]["f1"] if cid is None
                   else (scores["pair+type"]["f1"] + cid) / 2}
        log.info("shared %s: epoch %d loss %.4f, held-out pair %.2f, pair+type %.2f, "
                 "+novelty %.2f (threshold %.3f)", task, epoch, loss,
                 100 * scores["pair"]["f1"], 100 * scores["pair+type"]["f1"],
                 100 * scores["pair+type+novelty"]["f1"], typed["threshold"])
    return record


def dev_record(model, task: str, dev: Sequence[Prepared], autocast, best: dict[str, Any]
               ) -> dict[str, Any]:
    """Dev scores at the kept epoch's thresholds (joint: BioRED's, with CID's under "CID")."""
    if not dev:
        return {}
    predictions = predict(model, task, dev, autocast)
    out: dict[str, Any] = {}
    biored = [(p, x) for p, x in zip(dev, predictions) if p.task == "BioRED"]
    cid = [(p, x) for p, x in zip(dev, predictions) if p.task == "CID"]
    if task == "CID":
        return cid_scores([p for p, _ in cid], [x for _, x in cid], best["threshold"])
    if biored:
        out = typed_record([p for p, _ in biored], [x for _, x in biored], best["threshold"],
                           best["novelty_threshold"])["scores"]
    if cid:
        out["CID"] = cid_scores([p for p, _ in cid], [x for _, x in cid], best["cid_threshold"])
    return out


def init_from_ner(model, ner, states_layer: int) -> None:
    """Copy the NER encoder's layers above `states_layer` into the head's layers."""
    source = ner.base_model.encoder.layer[states_layer:]
    for mine, theirs in zip(model.layers, source):
        mine.load_state_dict(theirs.state_dict())


def train_shared_relations(task: str, fit_docs: Sequence, held_docs: Sequence,
                           dev_docs: Sequence, out_dir: str | Path, *,
                           ner_model: str | None = None,
                           states_layer: int | None = None,
                           epochs: int | None = None, lr: float | None = None,
                           head_lr: float | None = None, device: str = "auto", seed: int = 13,
                           patience: int = 3, progress: bool = False,
                           extra: dict[str, Any] | None = None,
                           command_line: str | None = None,
                           cid_docs: tuple[Sequence, Sequence, Sequence] | None = None
                           ) -> dict[str, Any]:
    """Train the head on `fit_docs` over `ner_model`'s states after `states_layer` layers
    (default: all but `DEFAULT_HEAD_LAYERS`; `ner_model` default: the default NER model), keep
    the epoch with the best held-out F1 (BioRED: pair+type; joint: the mean of BioRED's
    pair+type and CID's), score dev once, save to `out_dir` with shared.json, weights,
    training.json and a card. Task "joint": the three sets are BioRED documents and
    `cid_docs` (fit, held-out, dev) BC5CDR documents."""
    import torch
    from safetensors.torch import save_file
    from transformers import get_linear_schedule_with_warmup

    from litmine.settings import get_settings
    from litmine.tasks.loading import resolve_device
    from litmine.tasks.ner.engine import load_tagger
    from litmine.tasks.relations.training.cards import write_shared_card
    from litmine.tasks.relations.typed_gold import summarise_issues
    from litmine.tasks.training.loop import autocast_for, seed_everything

    started = time.time()
    if task not in TASKS:
        raise ModelError(f"train-relations --method shared: unknown task {task!r}")
    if (task == "joint") != (cid_docs is not None):
        raise ModelError("train-relations: a joint head needs both BioRED and CID documents, "
                         "and only a joint head takes both")
    torch_device = resolve_device(device, "relations")
    seed_everything(seed)
    ner_model = portable_name(ner_model or get_settings().model)
    tagger = load_tagger(ner_model, device=str(torch_device))
    ner = tagger._model
    depth = ner.config.num_hidden_layers
    if states_layer is None:
        states_layer = max(1, depth - DEFAULT_HEAD_LAYERS)
    if not 0 < states_layer < depth:
        raise ModelError(f"train-relations --method shared: --states-layer must be between 1 "
                         f"and {depth - 1} for {ner_model} ({depth} layers), not {states_layer}")
    issues: list = []
    sets = {}
    by_task = {"CID" if task == "CID" else "BioRED": (fit_docs, held_docs, dev_docs)}
    if cid_docs is not None:
        by_task["CID"] = cid_docs
    for name, k in (("fit", 0), ("held", 1), ("dev", 2)):
        sets[name] = [p for kind, docs in by_task.items()
                      for p in prepare(kind, docs[k], document_states(tagger, docs[k],
                                                                      states_layer), issues)]
    if issues:
        log.warning("relations: %s", summarise_issues(issues))
    train_set = [p for p in sets["fit"] if p.pairs]
    for kind in by_task:
        if not any(p.task == kind for p in train_set) or not any(
                p.gold for p in sets["held"] if p.task == kind):
            raise ModelError(f"relations: no {kind} training document with a candidate pair, "
                             f"or no held-out {kind} document with a relation; check the "
                             "corpora's relation lines")
    entity_types = CID_TYPES if task == "CID" else ENTITY_TYPES
    outputs = outputs_of(task)
    bert_config = ner.config.__class__.from_dict(ner.config.to_dict())
    model = build_shared_head(bert_config, depth - states_layer, entity_types, outputs)
    init_from_ner(model, ner, states_layer)
    model.to(torch_device)
    epochs, lr, head_lr = epochs or DEFAULT_EPOCHS, lr or DEFAULT_LR, head_lr or HEAD_LR
    head = [p for n, p in model.named_parameters() if not n.startswith("layers.")]
    optimizer = torch.optim.AdamW([{"params": model.layers.parameters(), "lr": lr},
                                   {"params": head, "lr": head_lr}], weight_decay=0.01)
    steps = -(-len(train_set) // DOCS_PER_STEP) * epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(WARMUP * steps), steps)
    def autocast():
        return autocast_for(torch_device, "bf16-cpu")[0]

    ce = torch.nn.CrossEntropyLoss(reduction="sum")
    bce = torch.nn.BCEWithLogitsLoss(reduction="sum")
    out_dir = Path(out_dir)
    staging = out_dir.with_name(out_dir.name + ".training")

    def parts(batch: list[Prepared]):
        n = sum(len(p.pairs) for p in batch)
        n_novel = max(1, sum(x >= 0 for p in batch for x in p.novel))
        return [(p, n, n_novel) for p in batch]

    def document_loss(part):
        p, n, n_novel = part
        logits = model(p.states.states, p.concepts, p.pairs).float()
        if p.task == "CID":
            return bce(cid_logits(logits, task),
                       torch.tensor(p.labels, device=logits.device)) / n
        loss = ce(logits[:, :len(CLASSES)], torch.tensor(p.labels, device=logits.device)) / n
        novel = torch.tensor(p.novel, device=logits.device)
        known = novel >= 0
        if bool(known.any()):
            loss = loss + bce(logits[known, len(CLASSES)], novel[known]) / n_novel
        return loss

    def evaluate(state: LoopState) -> dict[str, Any]:
        record: dict[str, Any] = {"epoch": state.epoch, "train_loss": round(state.loss, 4),
                                  "train_seconds": round(state.train_seconds, 1)}
        return record | held_out_record(model, task, sets["held"], autocast, state.epoch,
                                        record["train_loss"])

    def config_of(state: LoopState) -> dict[str, Any]:
        r = state.record
        return {"kind": "shared", "task": task, "name": out_dir.name,
                **({"cid_threshold": r["cid_threshold"]} if "cid_threshold" in r else {}),
                "ner_model": ner_model,
                "ner_fingerprint": tagger.states_fingerprint(states_layer),
                "states_layer": states_layer, "layers": depth - states_layer,
                "entity_types": list(entity_types), "classes": list(CLASSES) if task != "CID"
                else ["CID"], "threshold": r["threshold"],
                "novelty_threshold": r.get("novelty_threshold", 0.5), "epoch": state.epoch,
                "held_out": r["held_out"], "bert_config": bert_config.to_dict()}

    def save_best(state: LoopState) -> None:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        weights = {k: v.detach().to("cpu", torch.float32).contiguous()
                   for k, v in model.state_dict().items()}
        save_file(weights, str(staging / WEIGHTS_FILE))
        (staging / SHARED_FILE).write_text(json.dumps(config_of(state), indent=2),
                                           encoding="utf-8")

    state = fit(model, optimizer, scheduler, epochs=epochs, device=torch_device,
                batches=shuffled_steps(train_set, seed), loss=document_loss, micro_batches=parts,
                weight=lambda batch: sum(len(p.pairs) for p in batch),
                mixed_precision="bf16-cpu",
                callbacks=[Progress(progress, unit="step", show_loss=False),
                           Evaluate(evaluate, score=lambda r: r["score"]),
                           Checkpoint(save_best), EarlyStopping(patience)])
    best = state.best_record
    # Dev: scored once, with the kept epoch's weights and thresholds (never used to choose).
    from safetensors.torch import load_file

    model.load_state_dict(load_file(str(staging / WEIGHTS_FILE)))
    dev = dev_record(model, task, sets["dev"], autocast, best)
    config = json.loads((staging / SHARED_FILE).read_text(encoding="utf-8"))
    config["dev_gold_entities"] = dev
    (staging / SHARED_FILE).write_text(json.dumps(config, indent=2), encoding="utf-8")
    result = {
        "kind": "shared", "task": task, "epochs": state.history, "best_epoch": best["epoch"],
        "threshold": best["threshold"], "novelty_threshold": best.get("novelty_threshold"),
        "cid_threshold": best.get("cid_threshold"),
        "held_out": best["held_out"], "dev_gold_entities": dev,
        "params": {"ner_model": ner_model, "ner_model_id": tagger.model_id,
                   "states_layer": states_layer, "layers": depth - states_layer,
                   "epochs": epochs, "lr": lr, "head_lr": head_lr, "seed": seed,
                   "docs_per_step": DOCS_PER_STEP, "warmup": WARMUP, "patience": patience,
                   "device": str(torch_device), "states_dtype": tagger.dtype_name,
                   **(extra or {}).get("params", {})},
        "data": {"fit_documents": len(train_set), "held_out_documents": len(sets["held"]),
                 "dev_documents": len(sets["dev"]),
                 # BioRED's held-out documents: the pair typer fits its stacking on them
                 "held_out_pmids": sorted(p.pmid for p in sets["held"] if p.task != "CID"),
                 **({"cid_fit_documents": sum(p.task == "CID" for p in train_set),
                     "cid_held_out_documents": sum(p.task == "CID" for p in sets["held"]),
                     "cid_dev_documents": sum(p.task == "CID" for p in sets["dev"])}
                    if task == "joint" else {}),
                 "train_relations": sum(len(p.gold) for p in train_set),
                 "held_out_relations": sum(len(p.gold) for p in sets["held"]),
                 "dev_relations": sum(len(p.gold) for p in sets["dev"]),
                 "left_out": summarise_issues(issues) if issues else "",
                 **(extra or {}).get("data", {})},
        "seconds": round(time.time() - started, 1), "command_line": command_line}
    return publish_with_record(staging, out_dir, result, write_shared_card, command_line)


def file_records(paths: Sequence[str | Path]) -> list[dict[str, str]]:
    """[{path, sha256}] of the corpus files a model was trained on."""
    return [{"path": str(p), "sha256": sha256_file(p)} for p in paths]


def train_shared_typed(train_files: Sequence[str | Path], dev_files: Sequence[str | Path],
                       out_dir: str | Path, *, ner_model: str | None = None,
                       exclude: Sequence[str | Path] = (), max_train_docs: int | None = None,
                       max_dev_docs: int | None = None, command_line: str | None = None,
                       **options: Any) -> dict[str, Any]:
    """`litmine train --task relations --method typed-shared`: BioRED's split as the typed
    model's (`training.typed.split_documents`), then `train_shared_relations`."""
    from litmine.tasks.relations.training.typed import HOLD_OUT_EVERY, split_documents

    fit_docs, held, dev = split_documents(train_files, dev_files, exclude, max_train_docs,
                                          max_dev_docs)
    extra = {"params": {"train": [str(p) for p in train_files],
                        "dev": [str(p) for p in dev_files],
                        "exclude": [str(p) for p in exclude], "hold_out_every": HOLD_OUT_EVERY,
                        "max_train_docs": max_train_docs, "max_dev_docs": max_dev_docs},
             "data": {"files": file_records([*train_files, *dev_files]),
                      "excluded": f"Excluded PMIDs: {', '.join(map(str, exclude)) or 'none'}."}}
    return train_shared_relations("BioRED", fit_docs, held, dev, out_dir, ner_model=ner_model,
                                  extra=extra, command_line=command_line, **options)


def portable_name(model: str | Path) -> str:
    """A shipped model's name when `model` is its folder (so a saved head finds its NER model in
    any checkout or installed package), else `model` as given."""
    from litmine.model_packages import find_model, model_name

    name = model_name(model)
    found = find_model(name) if name.startswith("litmine-") else None
    if found is not None and Path(found.path).resolve() == Path(model).resolve():
        return name
    return str(model)
