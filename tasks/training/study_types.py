"""Fine-tune the study-type classifier on abstracts labelled by their PubMed publication types.

The trained method of `litmine.tasks.semantic.classify` (which loads and applies the model;
this module only makes it), run by `litmine.tasks.training.loop.fit`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import torch

from litmine.errors import LitmineError
from litmine.tasks.loading import (check_encoder, load_config, load_for_training, load_tokenizer,
                                   resolve_device, resolve_model_source)
from litmine.tasks.semantic.classify import LABELS, Example
from litmine.tasks.semantic.embeddings import default_embed_model
from litmine.tasks.training.loop import Evaluate, LoopState, fit, seed_everything

#: Default training length in examples seen. litmine's own rule, from its first runs on the 208
#: abstracts of ../shared/data/pubmed (docs/transformers.md): with lr 1e-4 the training loss
#: plateaued after 17-20 epochs of 146 abstracts (about 2,500-2,900 examples); 8 epochs
#: underfitted (loss 1.1-1.6 of 1.95 at the start). A 30k-record corpus gets the minimum, 3.
EXAMPLES_SEEN = 3000


def default_epochs(n_train: int) -> int:
    """Epochs that show the model about EXAMPLES_SEEN examples, at least 3 and at most 20."""
    return max(3, min(20, -(-EXAMPLES_SEEN // max(n_train, 1))))


def train_study_classifier(train: Sequence[Example], out_dir: str | Path, *,
                           base_model: str | None = None, epochs: int | None = None,
                           lr: float = 1e-4,
                           batch_size: int = 16, max_length: int = 256, seed: int = 13,
                           weight_decay: float = 0.01, warmup: float = 0.1,
                           device: str = "auto", log=None) -> dict:
    """Fine-tune a sequence classifier on labelled abstracts and save it to `out_dir`.

    AdamW (run by `litmine.tasks.training.loop.fit`), linear warm-up over the first `warmup` share of steps then linear decay
    (Devlin et al. 2019's BERT fine-tuning recipe), cross-entropy weighted by inverse label
    frequency n / (k x n_label) (scikit-learn's class_weight="balanced"; King & Zeng 2001) since
    "other" outnumbers trials and case reports by 10:1. Texts longer than `max_length` word
    pieces are truncated (counted in the returned record). No dev split: with a few hundred
    records every example is needed, so the run trains a fixed number of epochs: by default
    enough to see about EXAMPLES_SEEN examples, between 3 and 20 epochs (see the constant).
    """
    from transformers import get_linear_schedule_with_warmup

    counts = Counter(e.label for e in train)
    labels = [label for label in LABELS if label in counts] + sorted(set(counts) - set(LABELS))
    if len(labels) < 2:
        raise LitmineError(f"train-classifier: the training split has {len(train)} abstracts and "
                           f"labels {sorted(counts)}; at least two study types are needed. Store "
                           "more articles (`litmine mine`) first.")
    base = base_model or default_embed_model()
    name, source = resolve_model_source(base, "train-classifier")
    check_encoder(base, load_config(base, source, "train-classifier"), "train-classifier")
    seed_everything(seed)
    torch_device = resolve_device(device, "train-classifier")
    tokenizer = load_tokenizer(source, "train-classifier")
    model = load_for_training(
        source, "sequence-classification", stage="train-classifier", num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)}).to(torch_device)
    full = tokenizer([e.text for e in train], truncation=False)["input_ids"]
    truncated = sum(len(ids) > max_length for ids in full)
    encoded = tokenizer([e.text for e in train], truncation=True, max_length=max_length)
    targets = torch.tensor([labels.index(e.label) for e in train])
    weights = torch.tensor([len(train) / (len(labels) * counts[label]) for label in labels],
                           dtype=torch.float32, device=torch_device)
    epochs = epochs or default_epochs(len(train))
    steps = epochs * -(-len(train) // batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = get_linear_schedule_with_warmup(optimizer, int(warmup * steps), steps)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
    generator = torch.Generator().manual_seed(seed)

    def epoch_batches(epoch: int) -> list[list[int]]:
        order = torch.randperm(len(train), generator=generator).tolist()
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]

    def batch_loss(index: list[int]) -> torch.Tensor:
        batch = tokenizer.pad({k: [encoded[k][j] for j in index] for k in encoded},
                              return_tensors="pt")
        logits = model(**{k: v.to(torch_device) for k, v in batch.items()}).logits
        return loss_fn(logits, targets[index].to(torch_device))

    def epoch_record(state: LoopState) -> dict:
        record = {"epoch": state.epoch, "loss": round(state.loss, 4),
                  "seconds": round(state.train_seconds, 1)}
        if log:
            log(f"epoch {state.epoch}/{epochs}: loss {record['loss']} ({record['seconds']} s)")
        return record

    history = fit(model, optimizer, schedule, epochs=epochs, batches=epoch_batches,
                  loss=batch_loss, weight=len, device=torch_device, grad_clip=1.0,
                  callbacks=[Evaluate(epoch_record)]).history
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.eval().save_pretrained(out)
    tokenizer.model_max_length = max_length
    tokenizer.save_pretrained(out)
    record = {"base_model": name, "labels": labels, "train_counts": dict(counts),
              "n_train": len(train), "truncated": truncated, "epochs": history,
              "hyperparameters": {"epochs": epochs, "lr": lr, "batch_size": batch_size,
                                  "max_length": max_length, "seed": seed,
                                  "weight_decay": weight_decay, "warmup": warmup},
              "train_pmids": [e.pmid for e in train]}
    (out / "training.json").write_text(json.dumps(record, indent=1))
    return record
