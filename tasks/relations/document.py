"""A document-level CID encoder: one pass over the whole abstract scores every concept pair.

The design follows ATLOP (Zhou et al. 2021, AAAI, "Document-Level Relation Extraction with
Adaptive Thresholding and Localized Context Pooling"), which reached 69.4 F1 on BC5CDR's CDR
test set with SciBERT:

- every Chemical/Disease mention is wrapped in marker tokens (``*``) and the abstract is encoded
  once (in overlapping 512-token windows when longer, hidden states and attentions averaged
  where windows overlap);
- a mention is the hidden state of its opening marker; a concept (all mentions sharing a MeSH
  ID) is the log-sum-exp of its mentions;
- each (chemical, disease) pair gets a context vector pooled with the product of the two
  concepts' last-layer attention ("localized context pooling");
- a grouped bilinear layer (blocks of 32 dimensions) scores the pair; a sigmoid gives P(CID).

Unlike the sentence classifier (`litmine.tasks.relations.encoder.RelationModel`), pairs with no shared
sentence are scored from the same document representation, and a document of N concepts costs
one encoder pass rather than one per evidence text. Training
(`litmine.tasks.relations.training.document`) replaces the adaptive-threshold loss of ATLOP by
binary cross-entropy and a threshold chosen on held-out training documents.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litmine.errors import ModelError
from litmine.tasks.relations.candidates import CHEMICAL, DISEASE, concept_ids
from litmine.tasks.relations.model_config import read_model_config

DOCRE_FILE = "docre.json"
HEAD_FILE = "pair_head.safetensors"
#: Entity marker (ATLOP uses "*" for every mention).
MARKER = "*"
#: Window length (tokens, with [CLS]/[SEP]; at most the encoder's position limit) and the step
#: between windows of long documents (half a window, so every token has context on both sides).
WINDOW, STRIDE = 512, 256
#: Documents are read up to this many tokens (markers included; BC5CDR's longest abstract has
#: about 900): a pathological 100,000-character "abstract" would otherwise take minutes and
#: gigabytes. Concepts first mentioned after it are not scored by the encoder (the stacked model
#: then uses its linear member alone for them).
MAX_DOCUMENT_TOKENS = 4096
#: Windows encoded in one forward pass (bounds the attention tensors held at once).
WINDOWS_PER_PASS = 4
#: Held while a Hugging Face fast tokenizer runs: a call may reset its truncation or padding,
#: and one reset while another thread's call runs raises "Already borrowed"
#: (huggingface/tokenizers#537); documents are related on several threads (`relate_articles`).
TOKENIZER_LOCK = threading.Lock()
#: Width of a grouped bilinear block (ATLOP: 12 blocks of 64 on 768 dimensions; here blocks of
#: 32, so all-MiniLM-L6-v2's 384 dimensions make 12 blocks).
BLOCK_SIZE = 32


@dataclass
class EncodedDocument:
    """Token IDs with markers, and for each concept the positions of its opening markers."""

    input_ids: list[int]
    concepts: dict[tuple[str, str], list[int]]  # (type, concept ID) -> marker positions


def encode_document(tokenizer, text: str,
                    spans: dict[tuple[str, str], Sequence[tuple[int, int]]],
                    max_tokens: int = MAX_DOCUMENT_TOKENS) -> EncodedDocument:
    """Tokenise `text` (no special tokens) and insert a marker before and after each span.

    `spans`: (type, concept ID) -> character spans of its mentions. A span that covers no token
    is skipped; a concept left with no mention is absent from the result. The sequence is cut
    at `max_tokens` (markers included), with the markers after the cut.
    """
    # verbose=False: abstracts longer than the model's limit are expected (they are windowed).
    with TOKENIZER_LOCK:
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True,
                        verbose=False)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    marker = tokenizer.convert_tokens_to_ids(MARKER)
    opens: dict[int, list[tuple[str, str]]] = {}  # token index -> concepts opening there
    closes: dict[int, int] = {}  # token index -> markers closing after it
    for key, key_spans in spans.items():
        for s, e in key_spans:
            toks = [i for i, (a, b) in enumerate(offsets) if a < e and b > s and b > a]
            if not toks:
                continue
            opens.setdefault(toks[0], []).append(key)
            closes[toks[-1]] = closes.get(toks[-1], 0) + 1
    out: list[int] = []
    concepts: dict[tuple[str, str], list[int]] = {}
    for i, tok in enumerate(ids):
        for key in opens.get(i, ()):
            concepts.setdefault(key, []).append(len(out))
            out.append(marker)
        out.append(tok)
        out += [marker] * closes.get(i, 0)
    if len(out) > max_tokens:
        out = out[:max_tokens]
        concepts = {k: kept for k, ps in concepts.items() if (kept := [p for p in ps
                                                                        if p < max_tokens])}
    return EncodedDocument(out, concepts)


def windows(length: int, size: int = WINDOW - 2, stride: int = STRIDE) -> list[tuple[int, int]]:
    """(start, end) token ranges covering `length` tokens, each at most `size` long."""
    if length <= size:
        return [(0, length)]
    out, start = [], 0
    while True:
        end = min(length, start + size)
        out.append((start, end))
        if end == length:
            return out
        start = min(start + stride, length - size)


def build_pair_model(encoder, blocks: int | None = None, *, outputs: int = 1,
                     entity_types: Sequence[str] = ()):
    """The encoder plus ATLOP's pair head, as one torch module (`blocks` default: hidden
    size / `BLOCK_SIZE`).

    `outputs`: logits per pair (1: the CID model's one logit, returned as shape (P,); more: a
    (P, outputs) tensor, e.g. BioRED's relation classes plus novelty). `entity_types`: when
    given, a learned embedding per type is added to each concept's embedding, so pairs of
    different entity types can be told apart (keys are (type, ID); the first head reads the
    pair's first concept, the second head its second: the CID model's chemical and disease).
    """
    import torch
    from torch import nn

    hidden = encoder.config.hidden_size
    blocks = blocks or max(1, hidden // BLOCK_SIZE)
    if hidden % blocks:
        raise ModelError(f"relations: hidden size {hidden} is not divisible by {blocks} blocks")

    class PairModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = encoder
            self.head_chem = nn.Linear(2 * hidden, hidden)
            self.head_dis = nn.Linear(2 * hidden, hidden)
            self.bilinear = nn.Linear(hidden * hidden // blocks, outputs)
            self.blocks, self.outputs = blocks, outputs
            self.type_index = {t: i for i, t in enumerate(entity_types)}
            if entity_types:
                self.type_embedding = nn.Embedding(len(entity_types), hidden)
            # Tokens a window holds, [CLS] and [SEP] included.
            self.window = min(WINDOW, encoder.config.max_position_embeddings)
            self.heads = encoder.config.num_attention_heads

        def last_attention(self, layer_input, positions: list[int]):
            """The last layer's attention probabilities (heads, len(positions), L) from the rows
            `positions` of one unpadded window, recomputed from that layer's input: the same
            as eager attention's output without holding every layer's (L, L) maps, so the
            encoder can run with its fused attention."""
            attention = self.encoder.encoder.layer[-1].attention.self
            size = attention.attention_head_size
            query = attention.query(layer_input[positions]).view(len(positions), -1, size)
            key = attention.key(layer_input).view(layer_input.shape[0], -1, size)
            scores = torch.einsum("qhd,khd->hqk", query, key).float() * attention.scaling
            return torch.softmax(scores, dim=-1)

        def encode(self, input_ids: list[int], rows: Sequence[int], cls_id: int, sep_id: int):
            """Hidden states (L, H) of a document and the last layer's attention rows
            (heads, len(rows), L) of the token positions `rows`."""
            device = self.bilinear.weight.device
            n = len(input_ids)
            spans = windows(n, self.window - 2, self.window // 2)
            row_of = {p: i for i, p in enumerate(rows)}
            # Accumulated in fp32 whatever the encoder's dtype (bf16 on CPUs with bf16 units,
            # fp16 on CUDA): the pooling and the pair head after it run in fp32.
            h = att_rows = None
            count = torch.zeros((n, 1), device=device)
            for g in range(0, len(spans), WINDOWS_PER_PASS):
                group = spans[g:g + WINDOWS_PER_PASS]
                seqs = [[cls_id] + input_ids[a:b] + [sep_id] for a, b in group]
                width = max(len(r) for r in seqs)
                x = torch.zeros((len(seqs), width), dtype=torch.long, device=device)
                mask = torch.zeros((len(seqs), width), dtype=torch.long, device=device)
                for k, r in enumerate(seqs):
                    x[k, :len(r)] = torch.tensor(r, device=device)
                    mask[k, :len(r)] = 1
                out = self.encoder(input_ids=x, attention_mask=mask, output_hidden_states=True)
                states = out.last_hidden_state.float()
                if h is None:
                    h = states.new_zeros((n, states.shape[-1]))
                    att_rows = states.new_zeros((self.heads, len(rows), n))
                for k, (s, e) in enumerate(group):
                    h = h.index_add(0, torch.arange(s, e, device=device), states[k, 1:e - s + 1])
                    count[s:e] += 1
                    inside = [p for p in rows if s <= p < e]
                    if inside:
                        local = [p - s + 1 for p in inside]
                        target = torch.tensor([row_of[p] for p in inside], device=device)
                        probs = self.last_attention(out.hidden_states[-2][k, :e - s + 2], local)
                        att_rows[:, target, s:e] += probs[:, :, 1:e - s + 1]
            h = h / count
            if len(spans) > 1:
                # a row of a token in several windows: their mean, made a distribution again
                att_rows = att_rows / att_rows.sum(-1, keepdim=True).clamp_min(1e-10)
            return h, att_rows

        def forward(self, input_ids: list[int], concepts: dict, pairs: Sequence[tuple],
                    cls_id: int, sep_id: int, encoded: tuple | None = None):
            """Logits of `pairs` ((first key, second key) into `concepts`); `encoded`:
            `encode(input_ids, marker_rows(concepts), ...)` if already computed."""
            rows = marker_rows(concepts)
            row_of = {p: i for i, p in enumerate(rows)}
            h, att = encoded if encoded is not None else self.encode(input_ids, rows, cls_id, sep_id)
            emb, catt = {}, {}
            for key, positions in concepts.items():
                idx = torch.tensor(positions, device=h.device)
                emb[key] = torch.logsumexp(h[idx], dim=0)
                if self.type_index:
                    emb[key] = emb[key] + self.type_embedding.weight[self.type_index[key[0]]]
                catt[key] = att[:, [row_of[p] for p in positions]].mean(1)  # (heads, L)
            return pair_logits(self, h, emb, catt, pairs)

    return PairModel()


def pair_logits(head, h, emb: dict, catt: dict, pairs: Sequence[tuple]):
    """ATLOP's pair scoring: for each (first, second) key pair, a context vector pooled from
    `h` (L, H) with the product of the two concepts' attention rows `catt` (heads, L), two
    tanh projections of (concept embedding `emb`, context) and the grouped bilinear layer.
    `head` holds `head_chem`, `head_dis`, `bilinear`, `blocks` and `outputs` (a
    `build_pair_model` module or `litmine.tasks.relations.shared`'s)."""
    import torch

    chem = torch.stack([emb[c] for c, _ in pairs])
    dis = torch.stack([emb[d] for _, d in pairs])
    q = torch.stack([(catt[c] * catt[d]).mean(0) for c, d in pairs])  # (P, L)
    q = q / (q.sum(-1, keepdim=True) + 1e-5)
    ctx = q @ h
    zc = torch.tanh(head.head_chem(torch.cat([chem, ctx], -1)))
    zd = torch.tanh(head.head_dis(torch.cat([dis, ctx], -1)))
    size = zc.shape[-1] // head.blocks
    bl = (zc.view(-1, head.blocks, size, 1) * zd.view(-1, head.blocks, 1, size))
    logits = head.bilinear(bl.reshape(len(pairs), -1))
    return logits.squeeze(-1) if head.outputs == 1 else logits


def marker_rows(concepts: dict[tuple[str, str], list[int]]) -> list[int]:
    """The token positions of every concept's opening markers, in order."""
    return sorted({p for positions in concepts.values() for p in positions})


def document_spans(text_mentions: Sequence) -> dict[tuple[str, str], list[tuple[int, int]]]:
    """(type, concept ID) -> mention spans, from mentions with concept IDs (composites split)."""
    out: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for m in text_mentions:
        if m.type in (CHEMICAL, DISEASE):
            for cid in concept_ids(m):
                out.setdefault((m.type, cid), []).append((m.start, m.end))
    return out


@dataclass
class LoadedPairModel:
    """What `load_pair_model` returns: the pair model, its tokenizer, device and dtype name."""

    model: Any
    tokenizer: Any
    device: Any  # torch.device
    dtype: str  # "fp32", "bf16" or "fp16": the encoder's weights (the pair head stays fp32)


def load_pair_model(path: Path, *, device: str = "cpu", dtype: str | None = "fp32",
                    outputs: int = 1, entity_types: Sequence[str] = (),
                    blocks: int | None = None) -> LoadedPairModel:
    """A saved encoder directory with its pair head (`HEAD_FILE`), ready for inference.

    `dtype`: the encoder's weights ("fp32", "bf16", "fp16"; "auto" as
    `litmine.tasks.loading.choose_dtype` decides for `device`; int8 runs fp32:
    `litmine.tasks.loading.encoder_dtype`). The pair head and the pooling
    before it run in fp32 (`build_pair_model`'s `encode` returns fp32 states).
    """
    from safetensors.torch import load_file  # torch and transformers load with a model

    from litmine.tasks.loading import choose_dtype, encoder_dtype, load_pretrained, resolve_device

    choice = choose_dtype(encoder_dtype(dtype), resolve_device(device, "relations"), "relations")
    # The pooler is never used (pairs are read off marker tokens).
    loaded = load_pretrained(str(path), "encoder", stage="relations", device=device,
                             dtype=choice.dtype, add_pooling_layer=False)
    model = build_pair_model(loaded.model, blocks, outputs=outputs, entity_types=entity_types)
    missing = model.load_state_dict(load_file(str(path / HEAD_FILE)), strict=False)
    if [k for k in missing.missing_keys if not k.startswith("encoder.")]:
        raise ModelError(f"relations: {path / HEAD_FILE} lacks {missing.missing_keys[:3]}; "
                         "retrain the model")
    model.to(loaded.device).eval()
    return LoadedPairModel(model, loaded.tokenizer, loaded.device, choice.name)


class DocumentRelationModel:
    """A saved document-level CID model: encoder directory plus pair head and threshold."""

    def __init__(self, path: str | Path, *, device: str = "cpu", dtype: str | None = "fp32"):
        self.path = Path(path)
        self.config = read_model_config(self.path, DOCRE_FILE)
        self.threshold = float(self.config.get("threshold", 0.5))
        loaded = load_pair_model(self.path, device=device, dtype=dtype,
                                 blocks=self.config.get("blocks"))
        self.model, self.tokenizer = loaded.model, loaded.tokenizer
        self.device, self.dtype = loaded.device, loaded.dtype
        self.name = self.config.get("name", self.path.name)
        #: The last document's encoding, (input IDs, marker rows) -> (hidden states, attention
        #: rows): scoring the same marked text again (evaluation's gold-ID pass after its
        #: gold-entity pass) skips the encoder, the cost of a document.
        self._last: tuple[tuple, tuple] | None = None

    def score_document(self, text: str, mentions: Sequence,
                       pairs: Sequence[tuple[str, str]], *, states=None, sentences=(),
                       pmid: str = "", title_length: int | None = None) -> list[float | None]:
        """P(CID) for each (chemical ID, disease ID) pair of one document; None for a pair
        with a concept the encoder did not read (no mention among the first
        `MAX_DOCUMENT_TOKENS` tokens). `states`, `sentences`, `pmid`, `title_length`: what a
        shared member reads (this one encodes the text itself and ignores them)."""
        import torch

        if not pairs:  # nothing to score: no need to tokenise
            return []
        doc = encode_document(self.tokenizer, text, document_spans(mentions))
        keys = [((CHEMICAL, c), (DISEASE, d)) for c, d in pairs]
        scorable = [k for k, (c, d) in enumerate(keys) if c in doc.concepts and d in doc.concepts]
        out: list[float | None] = [None] * len(pairs)
        if not scorable:
            return out
        cls_id, sep_id = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id
        rows = marker_rows(doc.concepts)
        key = (tuple(doc.input_ids), tuple(rows))
        with torch.inference_mode():
            last = self._last  # read once: another thread may replace it
            if last is not None and last[0] == key:
                encoded = last[1]
            else:
                encoded = self.model.encode(doc.input_ids, rows, cls_id, sep_id)
                self._last = (key, encoded)
            logits = self.model(doc.input_ids, doc.concepts, [keys[k] for k in scorable],
                                cls_id, sep_id, encoded=encoded)
            for k, p in zip(scorable, torch.sigmoid(logits.float()).tolist()):
                out[k] = float(p)
        return out


def save_pair_model(model, tokenizer, path: Path, config: dict[str, Any], *,
                    fp16: bool = True) -> Path:
    """Encoder (save_pretrained, fp16 by default) + head (safetensors) + docre.json."""
    import torch
    from safetensors.torch import save_file

    path.mkdir(parents=True, exist_ok=True)
    encoder = model.encoder
    if fp16:
        encoder = encoder.to(torch.float16)
    encoder.save_pretrained(path)
    if fp16:
        model.encoder.to(torch.float32)
    tokenizer.save_pretrained(path)
    head = {k: v.detach().to("cpu", torch.float32).contiguous()
            for k, v in model.state_dict().items() if not k.startswith("encoder.")}
    save_file(head, str(path / HEAD_FILE))
    (path / DOCRE_FILE).write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path
