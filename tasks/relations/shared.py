"""Relations read off the NER model's own pass: one encoder pass per text serves both.

A shared relation model is a small head over the token states that the NER pass keeps
(`litmine.tasks.ner.token_states.DocumentStates`, after `states_layer` of the NER model's
layers, sentence by sentence):

- `layers` BERT layers (initialised from the NER model's layers above `states_layer`) read the
  whole document's states at once, so context crosses sentences; a learned vector per entity
  type is added to every token of a mention first (ATLOP's entity markers, without inserting
  marker tokens, which the NER pass could not have held);
- a concept (type, database ID) is the log-sum-exp of its mentions' first-token states plus a
  type embedding; a pair is scored by ATLOP's localized context pooling and grouped bilinear
  head (`litmine.tasks.relations.document.pair_logits`).

`task` "BioRED" gives none + BioRED's eight relation types and a novelty logit per pair (as
`litmine.tasks.relations.typed`); "CID" gives one logit per (chemical, disease) pair, the
document member of the stacked CID model (`litmine.tasks.relations.stacked`); "joint" gives
both from one head (trained on both corpora): a document's pairs are scored once, and the CID
member and the typed relations read their columns of the same logits. The states must
come from the NER model the head was trained on (`ner_fingerprint`, compared with
`DocumentStates.fingerprint`: a model trained on from it with those layers frozen passes, and
an ensemble passes on its first member's); for any other pass (another model, gold mentions in
evaluation) the model runs that NER model's encoder on the document's sentences itself: the
same result, one more pass.

A directory holds ``shared.json`` (task, NER model, layers, thresholds, the layers' BERT
config) and ``shared.safetensors``. Training: `litmine.tasks.relations.training.shared`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from litmine.errors import ModelError
from litmine.tasks.relations.document import BLOCK_SIZE, pair_logits
from litmine.tasks.relations.typed import (CLASSES, TypedRelation, candidate_pairs,
                                           decide_typed, given_threshold, load_typer, pair_outputs,
                                           typed_spans)

SHARED_FILE = "shared.json"
WEIGHTS_FILE = "shared.safetensors"
TASKS = ("BioRED", "CID", "joint")
#: The tasks whose logits hold BioRED's typed relations, and those that hold CID's.
TYPED_TASKS, CID_TASKS = ("BioRED", "joint"), ("CID", "joint")
#: Tokens of a document the head reads (the NER pass has no such limit); concepts first
#: mentioned after them are not scored (as `litmine.tasks.relations.document.MAX_DOCUMENT_TOKENS`).
MAX_TOKENS = 4096
#: At inference the head's input is padded (and the padding masked) to a multiple of this many
#: tokens: every document length is a new matrix shape, and on a CPU with bf16 units each shape
#: costs kernels and memory that stay (docs/performance.md); 32 keeps the padding small.
LENGTH_STEP = 32

Key = tuple[str, str]  # (entity type, concept ID)

#: Documents whose own NER pass (`SharedRelationModel.states_of`) is kept, so that the CID
#: head and the typed head of one run share it: one per relation worker is enough (a
#: document's heads run one after the other on one worker).
RECENT_PASSES = 8
_PASSES: dict[tuple, Any] = {}
_PASSES_LOCK = threading.Lock()
#: Loaded models by (resolved path, device, dtype): the typed relations and the stacked CID
#: model's document member are one instance when they name one joint model.
_LOADED: dict[tuple, "SharedRelationModel"] = {}
_LOADED_LOCK = threading.Lock()


def outputs_of(task: str) -> int:
    """Logits per pair of a head for `task`: BioRED's classes and novelty, CID's one, or both."""
    return {"BioRED": len(CLASSES) + 1, "CID": 1, "joint": len(CLASSES) + 2}[task]


def cid_column(task: str) -> int:
    """The column of a pair's logits that holds its CID logit."""
    return outputs_of(task) - 1


def is_shared_model(path: str | Path) -> bool:
    """Whether `path` holds a shared relation model."""
    return (Path(path) / SHARED_FILE).is_file()


def build_shared_head(bert_config, layers: int, entity_types: Sequence[str], outputs: int):
    """The torch module: `layers` BERT layers of `bert_config`, entity-type marks, ATLOP's
    pair head with `outputs` logits per pair."""
    import torch
    from torch import nn
    from transformers.models.bert.modeling_bert import BertLayer

    hidden = bert_config.hidden_size
    blocks = max(1, hidden // BLOCK_SIZE)
    if hidden % blocks:
        raise ModelError(f"relations: hidden size {hidden} is not divisible by {blocks} blocks")
    bert_config._attn_implementation = "sdpa"

    class SharedHead(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList(BertLayer(bert_config) for _ in range(layers))
            self.mark = nn.Embedding(len(entity_types), hidden)
            nn.init.normal_(self.mark.weight, std=0.02)
            self.type_embedding = nn.Embedding(len(entity_types), hidden)
            self.head_chem = nn.Linear(2 * hidden, hidden)
            self.head_dis = nn.Linear(2 * hidden, hidden)
            self.bilinear = nn.Linear(hidden * hidden // blocks, outputs)
            self.blocks, self.outputs = blocks, outputs
            #: the dtype the layers take, when not their weights' (int8 layers take fp32)
            self.input_dtype = None
            self.type_index = {t: i for i, t in enumerate(entity_types)}

        def forward(self, states, concepts: dict[Key, list[tuple[int, int]]],
                    pairs: Sequence[tuple[Key, Key]]):
            """Logits of `pairs` from one document's token states (L, H) and each concept's
            mention token ranges [first, last + 1)."""
            x = states.to(self.mark.weight.device,
                          self.input_dtype or self.layers[0].attention.self.query.weight.dtype)
            marks = torch.zeros_like(x)
            for key, ranges in concepts.items():
                for s, e in ranges:
                    marks[s:e] += self.mark.weight[self.type_index[key[0]]].to(x.dtype)
            step = 1 if self.training else LENGTH_STEP
            x, mask = _padded((x + marks)[None], step)
            length = states.shape[0]
            for layer in self.layers[:-1]:
                x = _output(layer(x, attention_mask=mask))
            last_input = x[0]
            h = _output(self.layers[-1](x, attention_mask=mask))[0, :length].float()
            rows = sorted({s for ranges in concepts.values() for s, _ in ranges})
            attention = self._last_attention(last_input, rows, length, step)
            row_of = {r: i for i, r in enumerate(rows)}
            emb, catt = {}, {}
            for key, ranges in concepts.items():
                firsts = [s for s, _ in ranges]
                emb[key] = (torch.logsumexp(h[firsts], dim=0)
                            + self.type_embedding.weight[self.type_index[key[0]]])
                catt[key] = attention[:, [row_of[s] for s in firsts]].mean(1)
            return pair_logits(self, h, emb, catt, pairs)

        def _last_attention(self, layer_input, rows: list[int], length: int, step: int):
            """The last layer's attention probabilities (heads, len(rows), length) of `rows`
            over the first `length` tokens of its input (padded to a multiple of `step`; the
            rows are padded too, so that the matrices keep few shapes: see `LENGTH_STEP`)."""
            attention = self.layers[-1].attention.self
            size = attention.attention_head_size
            padded_rows = rows + rows[:1] * (-len(rows) % step)
            query = attention.query(layer_input[padded_rows]).view(len(padded_rows), -1, size)
            key = attention.key(layer_input).view(layer_input.shape[0], -1, size)
            scores = torch.einsum("qhd,khd->hqk", query, key).float() * attention.scaling
            scores[..., length:] = float("-inf")  # the padding
            return torch.softmax(scores, dim=-1)[:, :len(rows), :length]

    return SharedHead()


def _padded(x, step: int):
    """`x` (1, L, H) padded with zeros to a multiple of `step` tokens, and the attention mask
    that hides the padding (None when there is none)."""
    import torch

    length = x.shape[1]
    pad = -length % step
    if not pad:
        return x, None
    mask = torch.zeros((1, 1, 1, length + pad), dtype=torch.bool, device=x.device)
    mask[..., :length] = True
    return torch.nn.functional.pad(x, (0, 0, 0, pad)), mask


def _output(result):
    """A BERT layer's hidden states, whether it returns a tensor or a tuple."""
    return result[0] if isinstance(result, tuple) else result


def concept_ranges(states, spans: dict[Key, Sequence[tuple[int, int]]],
                   max_tokens: int = MAX_TOKENS) -> dict[Key, list[tuple[int, int]]]:
    """(type, ID) -> token ranges of its mentions (character `spans`) among the first
    `max_tokens` tokens of `states`; a concept with none is absent."""
    out: dict[Key, list[tuple[int, int]]] = {}
    for key, key_spans in spans.items():
        for s, e in key_spans:
            found = states.token_range(s, e)
            if found is not None and found[0] < max_tokens:
                out.setdefault(key, []).append((found[0], min(found[1], max_tokens)))
    return out


def read_config(path: Path) -> dict[str, Any]:
    """shared.json of a model directory, checked."""
    config_file = path / SHARED_FILE
    if not config_file.is_file():
        raise ModelError(f"relations: {path} is not a shared relation model (no {SHARED_FILE}); "
                         "train one with `litmine train --task relations --method shared`")
    config = json.loads(config_file.read_text(encoding="utf-8"))
    if config.get("task") not in TASKS:
        raise ModelError(f"relations: {config_file} has task {config.get('task')!r}; expected "
                         f"one of {TASKS}")
    return config


class SharedRelationModel:
    """A saved shared relation model: BioRED typed relations or the CID document member."""

    def __init__(self, path: str | Path, *, device: str = "cpu", dtype: str | None = "fp32",
                 pair_typer: bool = True):
        import torch
        from safetensors.torch import load_file
        from transformers import BertConfig

        from litmine.tasks.loading import choose_dtype, quantize_int8, resolve_device

        self.path = Path(path)
        self.config = config = read_config(self.path)
        self.task: str = config["task"]
        self.ner_model: str = config["ner_model"]
        self.ner_fingerprint: str = config["ner_fingerprint"]
        self.states_layer: int = int(config["states_layer"])
        self.threshold = float(config["threshold"])
        self.novelty_threshold = float(config.get("novelty_threshold", 0.5))
        self.entity_types: tuple[str, ...] = tuple(config["entity_types"])
        self.name = config.get("name", self.path.name)
        #: The pair typer saved beside the head (`litmine.tasks.relations.pair_types`), or None.
        self.typer, self.name, self.threshold = load_typer(self.path, self.name, self.threshold,
                                                           pair_typer)
        #: The threshold for the input's own concepts (`mine --entities given`).
        self.given_threshold = given_threshold(self.typer, self.threshold)
        outputs = outputs_of(self.task)
        self.model = build_shared_head(BertConfig.from_dict(config["bert_config"]),
                                       int(config["layers"]), self.entity_types, outputs)
        weights = load_file(str(self.path / WEIGHTS_FILE))
        try:
            self.model.load_state_dict(weights)
        except RuntimeError as exc:
            raise ModelError(f"relations: {self.path / WEIGHTS_FILE} does not fit "
                             f"{SHARED_FILE} ({str(exc).splitlines()[0][:200]}); retrain "
                             "the model") from exc
        self.device = resolve_device(device, "relations")
        choice = choose_dtype(dtype, self.device, "relations")
        self.dtype = choice.name
        #: The dtype of the NER pass that `states_of` runs when the run's states do not serve:
        #: int8 quantises this head's layers only, the states it reads stay fp32's.
        self.states_dtype = "fp32" if choice.dtype == torch.qint8 else choice.name
        self.model.to(self.device).eval()
        if choice.dtype == torch.qint8:  # CPU only (choose_dtype); the pair head stays fp32
            self.model.layers = quantize_int8(self.model.layers, "relations")
            self.model.input_dtype = torch.float32
        else:
            self.model.layers.to(choice.dtype or torch.float32)  # the pair head stays fp32
        #: A joint model's last document per thread: (states, concept spans, {pair: logits
        #: row}); thread-local, so that it goes with the worker thread (a dict by thread ID
        #: kept one document's states for every worker thread a run had started).
        self._recent = threading.local()

    def __repr__(self) -> str:
        return f"SharedRelationModel({self.name!r}, task={self.task!r})"

    # -- the states -------------------------------------------------------------------------

    def reads(self, states) -> bool:
        """Whether `states` (a `DocumentStates`) come from this model's NER model and layer."""
        return (states is not None and states.layer == self.states_layer
                and states.fingerprint == self.ner_fingerprint)

    def states_of(self, pmid: str, sentences: Sequence, states=None, text: str = "",
                  title_length: int | None = None):
        """`states` when this model reads them, else its NER model's pass over `sentences`
        (none given: `text` split as the pipeline splits it, the title ending at
        `title_length`)."""
        if self.reads(states):
            return states
        if not sentences:
            from litmine.tasks.records import Sentence
            from litmine.tasks.text.sentences import split_sentences

            sentences = [Sentence(pmid, i, s, e, text[s:e])
                         for i, (s, e) in enumerate(split_sentences(text, title_length))]
        from litmine.tasks.ner.engine import load_tagger
        from litmine.tasks.ner.token_states import join_document_states
        from litmine.tasks.ner.units import text_units

        tagger = load_tagger(self.ner_model, device=str(self.device), dtype=self.states_dtype)
        if tagger.states_fingerprint(self.states_layer) != self.ner_fingerprint:
            raise ModelError(f"relations: {self.path} was trained on the states of NER model "
                             f"{self.ner_model}@{self.ner_fingerprint}, but that name now loads "
                             f"{tagger.model_id}; retrain the relation model on it")
        key = (tagger.model_id, self.states_layer,
               tuple((s.start, s.end, s.text) for s in sentences))
        with _PASSES_LOCK:
            if key in _PASSES:  # another head of this run read this document already
                return _PASSES[key]
        units = text_units(sentences, tagger.unit)
        kept: list = []
        tagger.tag_texts([u.text for u in units], workers=1, states_layer=self.states_layer,
                         states=kept)
        found = join_document_states([(u.offset, o, s) for u, (o, s) in zip(units, kept)],
                                     self.states_layer, tagger.model_id,
                                     tagger.states_fingerprint(self.states_layer))
        with _PASSES_LOCK:
            _PASSES[key] = found
            while len(_PASSES) > RECENT_PASSES:
                _PASSES.pop(next(iter(_PASSES)))
        return found

    def logits(self, states, spans: dict[Key, Sequence[tuple[int, int]]],
               pairs_of) -> tuple[list[tuple[Key, Key]], Any]:
        """(scored pairs, logits) of one document: `pairs_of(concept keys)` chooses the pairs
        among the concepts found in the states."""
        import torch

        concepts = concept_ranges(states, spans)
        pairs = pairs_of(list(concepts))
        if not pairs:
            return [], None
        with torch.inference_mode():
            return pairs, self.model(states.states, concepts, pairs).float()

    def joint_logits(self, states, spans: dict[Key, Sequence[tuple[int, int]]]) -> dict:
        """{pair: logits row} of every candidate pair (`typed.candidate_pairs`) of one
        document; the last document's result is kept per thread, so that its CID scores and
        its typed relations come from one pass of the head."""
        wanted = tuple(sorted((k, tuple(v)) for k, v in spans.items()))
        recent = getattr(self._recent, "last", None)
        if recent is not None and recent[0] is states and recent[1] == wanted:
            return recent[2]
        pairs, logits = self.logits(states, spans, candidate_pairs)
        scored = dict(zip(pairs, logits)) if pairs else {}
        self._recent.last = (states, wanted, scored)
        return scored

    # -- BioRED: as `litmine.tasks.relations.typed.TypedRelationModel` ----------------------

    def predict_document(self, text: str, mentions: Sequence, threshold: float | None = None,
                         *, states=None, sentences: Sequence = (), pmid: str = "",
                         title_length: int | None = None) -> list[TypedRelation]:
        """The typed relations of one document (mentions with concept IDs). `states`: the NER
        pass's (read when they are this model's NER model's, else that pass runs on
        `sentences`, or on `text` split, its title ending at `title_length`)."""
        if self.task not in TYPED_TASKS:
            raise ModelError(f"relations: {self.path} scores {self.task} pairs, not BioRED's "
                             "typed relations")
        spans = typed_spans(mentions)
        if not candidate_pairs(list(spans)):
            return []
        states = self.states_of(pmid, sentences, states, text, title_length)
        if self.task == "joint":
            import torch

            scored = self.joint_logits(states, spans)
            pairs = list(scored)
            logits = torch.stack(list(scored.values())) if scored else None
        else:
            pairs, logits = self.logits(states, spans, candidate_pairs)
        if not pairs:
            return []
        probs, novel = pair_outputs(logits[:, :len(CLASSES) + 1])
        return decide_typed([(a, b, p, n) for (a, b), p, n in zip(pairs, probs.tolist(),
                                                                   novel.tolist())],
                            self.typer, text, spans,
                            self.threshold if threshold is None else threshold,
                            self.novelty_threshold, sentences=sentences,
                            title_length=title_length)

    # -- CID: as `litmine.tasks.relations.document.DocumentRelationModel` -------------------

    def score_document(self, text: str, mentions: Sequence, pairs: Sequence[tuple[str, str]],
                       *, states=None, sentences: Sequence = (), pmid: str = "",
                       title_length: int | None = None) -> list[float | None]:
        """P(CID) for each (chemical ID, disease ID) pair; None for a pair with a concept the
        head did not read (`states` and the rest as for `predict_document`)."""
        import torch

        from litmine.tasks.relations.document import document_spans

        if self.task not in CID_TASKS:
            raise ModelError(f"relations: {self.path} scores {self.task} pairs, not CID")
        out: list[float | None] = [None] * len(pairs)
        if not pairs:
            return out
        states = self.states_of(pmid, sentences, states, text, title_length)
        keys = [(("Chemical", c), ("Disease", d)) for c, d in pairs]
        if self.task == "joint":  # the pairs the typed relations score too (one pass)
            scored = self.joint_logits(states, typed_spans(mentions))
            column = cid_column(self.task)
            return [float(torch.sigmoid(scored[k][column])) if k in scored else None
                    for k in keys]
        wanted = sorted(set(keys))
        scored, logits = self.logits(states, document_spans(mentions),
                                     lambda found: [k for k in wanted
                                                    if k[0] in found and k[1] in found])
        if not scored:
            return out
        probability = dict(zip(scored, torch.sigmoid(logits).tolist()))
        return [probability.get(k) for k in keys]


def load_shared_model(path: str | Path, *, device: str = "cpu", dtype: str | None = "fp32"
                      ) -> SharedRelationModel:
    """The shared model in `path`, one instance per process, device and dtype: a joint model
    named as the typed model and as the CID model's document member is loaded once."""
    key = (str(Path(path).resolve()), str(device), str(dtype))
    with _LOADED_LOCK:
        if key not in _LOADED:
            _LOADED[key] = SharedRelationModel(path, device=device, dtype=dtype)
        return _LOADED[key]


def shared_task(path: str | Path | None) -> str | None:
    """The task of the shared model in `path` (one of `TASKS`), None when it is not one."""
    if not path or not is_shared_model(path):
        return None
    return read_config(Path(path))["task"]


def states_layer_of(relation_model: str | Path | None,
                    typed_relation_model: str | Path | None,
                    tagger=None) -> int | None:
    """The NER layer whose states a run's relation models read: the shared typed model's,
    else the stacked CID model's shared document member's; None when neither is shared, or
    when the run's `tagger` (a Tagger or EnsembleTagger) does not pass the states they read
    (`states_fingerprint`; they would run their own model's pass)."""
    from litmine.tasks.relations.model_config import document_member_path

    for path in (typed_relation_model,
                 document_member_path(relation_model) if relation_model else None):
        if path and is_shared_model(path):
            config = read_config(Path(path))
            layer = int(config["states_layer"])
            if tagger is None or tagger.states_fingerprint(layer) == config["ner_fingerprint"]:
                return layer
    return None


def shared_models(*models) -> list[SharedRelationModel]:
    """The shared models among `models` and their document members (stacked CID models)."""
    found = []
    for m in models:
        for candidate in (m, getattr(m, "document", None)):
            if isinstance(candidate, SharedRelationModel):
                found.append(candidate)
    return found


def pass_states(sentences: Sequence, *models) -> dict:
    """PMID -> the token states that the shared models among `models` read, from one NER pass
    over `sentences` (their NER model's); {} when none is shared. For callers that relate
    documents without a NER pass of their own (evaluation on gold mentions)."""
    shared = shared_models(*models)
    if not shared:
        return {}
    from litmine.tasks.ner.engine import load_tagger

    model = shared[0]
    tagger = load_tagger(model.ner_model, device=str(model.device),
                         dtype=model.dtype)
    return tagger.tag_documents(sentences, states_layer=model.states_layer).states
