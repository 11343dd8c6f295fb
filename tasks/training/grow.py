"""More encoder layers above the ones a relation head reads (`litmine train --grow-layers N`).

With `--freeze-layers` the lower layers of a NER model stay the base model's, so one encoder pass
serves NER and the shipped relation head; only the layers above learn, and there are few of them
(two of all-MiniLM-L6-v2's six above the head's fourth). Growing gives the tagger more of them:
each of the base model's top N layers is followed by a copy of itself (layers 5, 6 of six become
5, 5', 6, 6'), the depth up-scaling of progressive stacking (Gong et al. 2019, ICML; Kim et al.
2023, SOLAR), which starts the new layers from weights that already read these states rather
than from noise. The layers below the copies, and so the states a relation head reads from them,
are the base model's.
"""

from __future__ import annotations

import copy

import torch

from litmine.errors import LitmineError


def grow_encoder(model, layers: int, *, frozen: int = 0) -> None:
    """Follow each of the top `layers` encoder layers of `model` by a copy of itself, in place;
    `frozen` (the layers `--freeze-layers` keeps) must lie below the first copy."""
    encoder = model.base_model.encoder
    depth = len(encoder.layer)
    if not 0 < layers <= depth:
        raise LitmineError(f"train: --grow-layers must be between 1 and {depth} (the base "
                           f"model's layers), got {layers}")
    if frozen > depth - layers:
        raise LitmineError(f"train: --freeze-layers {frozen} with --grow-layers {layers} would "
                           f"freeze a layer that gets a copy above it (the copies follow layers "
                           f"{depth - layers + 1}-{depth}); freeze at most {depth - layers} "
                           "layers or grow fewer")
    grown = []
    for index, layer in enumerate(encoder.layer):
        grown.append(layer)
        if index >= depth - layers:
            grown.append(copy.deepcopy(layer))
    encoder.layer = torch.nn.ModuleList(grown)
    model.config.num_hidden_layers = len(grown)
    for index, layer in enumerate(grown):  # transformers' attention caches index by layer
        attention = getattr(getattr(layer, "attention", None), "self", None)
        if attention is not None and hasattr(attention, "layer_idx"):
            attention.layer_idx = index
