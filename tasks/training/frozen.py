"""Train on from a model with its lower layers frozen (`litmine train --freeze-layers N`).

The embeddings and the first N encoder layers stay the base model's, so the new model's token
states after at most N layers are the base model's states. The config says so
(`litmine_states_from`: [layers, fingerprint] pairs, read by
`litmine.tasks.ner.model.kept_states`), and a relation head trained on the base model's states
after N layers (`litmine.tasks.relations.shared`) reads the new model's own pass: one encoder
pass serves NER and relations while the upper layers learn something new (the default NER
model is run 6 distilled this way with its first four layers frozen).
"""

from __future__ import annotations

import logging

from litmine.errors import LitmineError
from litmine.tasks.loading import fingerprint_model, load_config, resolve_model_source
from litmine.tasks.ner.model import kept_states

log = logging.getLogger(__name__)


def freeze_lower_layers(model, layers: int, *, new_markers: bool = False) -> None:
    """Stop training the embeddings and the first `layers` encoder layers of `model`."""
    encoder = model.base_model.encoder.layer
    if not 0 < layers <= len(encoder):
        raise LitmineError(f"train: --freeze-layers must be between 1 and {len(encoder)} (the "
                           f"base model's layers), got {layers}")
    if new_markers:
        raise LitmineError("train: --freeze-layers keeps the embeddings as they are, so new "
                           "task markers could not be learnt; drop --markers or --freeze-layers, "
                           "or start from a --base-model trained with --markers")
    for module in (model.base_model.embeddings, *encoder[:layers]):
        for parameter in module.parameters():
            parameter.requires_grad_(False)


def states_kept_from(base_model, layers: int, unit: str) -> list[list]:
    """What a model trained from `base_model` with its first `layers` layers frozen keeps:
    [layers, fingerprint] pairs (config `litmine_states_from`) naming, for its states after
    each number of layers, the model they are (the base's own, or what the base kept). None
    kept when the model tags other texts than the base (another `unit`)."""
    _, source = resolve_model_source(str(base_model), "train")
    config = load_config(str(base_model), source, "train")
    if (getattr(config, "litmine_unit", None) or "sentence") != unit:
        log.warning("train: --unit %s differs from the base model's, so its frozen layers read "
                    "other texts: relation heads of the base model will not read its states",
                    unit)
        return []
    own, base = kept_states(config), fingerprint_model(source, config)
    kept: list[list] = []
    for layer in range(1, layers + 1):
        fingerprint = next((f for n, f in own if layer <= n), base)
        if kept and kept[-1][1] == fingerprint:
            kept[-1][0] = layer
        else:
            kept.append([layer, fingerprint])
    return kept
