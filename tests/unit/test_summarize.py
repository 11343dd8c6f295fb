"""Summaries: causal and seq2seq models, beam search with the n-gram block, inputs cut to fit,
the `summaries` table, bad input. Tiny random models from disk; real DuckDB files."""

from __future__ import annotations

import json

import pytest

from litmine.errors import LitmineError, ModelError
from litmine.tasks.semantic.summarize import Summarizer, Summary, store_summaries
from litmine.tasks.store.access import open_store
from tests.support.tiny_models import build_tiny_bart, build_tiny_gpt2, build_tiny_qa

TEXT = ("Cisplatin is a chemotherapy drug. Hearing loss occurred in 40% of children treated with "
        "cisplatin, most after the third cycle.")
LONG = TEXT + " " + " ".join(f"Finding {i} confirmed ototoxicity in the cohort." for i in range(40))


@pytest.fixture(scope="module", params=["gpt2", "bart"])
def summarizer(request, tmp_path_factory) -> Summarizer:
    build = build_tiny_gpt2 if request.param == "gpt2" else build_tiny_bart
    return Summarizer(str(build(tmp_path_factory.mktemp(request.param), max_length=128)),
                      device="cpu")


def ngrams(ids: list[int], n: int) -> list[tuple[int, ...]]:
    return [tuple(ids[i:i + n]) for i in range(len(ids) - n + 1)]


def test_kind_is_read_from_the_config(summarizer):
    assert summarizer.seq2seq == ("bart" in summarizer.model_name)
    assert summarizer.max_length == 128


def test_no_repeat_ngram_size_blocks_repeats(summarizer):
    _, free, _ = summarizer.generate(TEXT, num_beams=2, no_repeat_ngram_size=0, max_new_tokens=24)
    # A random model loops: without the block, some trigram repeats (so the check below can fail).
    assert len(set(ngrams(free, 3))) < len(ngrams(free, 3))
    _, blocked, _ = summarizer.generate(TEXT, num_beams=2, no_repeat_ngram_size=3,
                                        max_new_tokens=24)
    assert len(blocked) > 3 and len(set(ngrams(blocked, 3))) == len(ngrams(blocked, 3))


def test_long_inputs_are_cut_to_fit_and_counted(summarizer):
    short, long = summarizer.summarize([TEXT, LONG], num_beams=2, max_new_tokens=16)
    assert isinstance(short, Summary) and short.truncated_tokens == 0
    assert long.truncated_tokens > 0
    limit = summarizer.max_length if summarizer.seq2seq else summarizer.max_length - 16
    assert long.input_tokens <= limit
    if not summarizer.seq2seq:  # the prompt's "TL;DR:" survives the cut
        ids, _, _ = summarizer.generate(LONG, num_beams=1, max_new_tokens=16)
        assert summarizer._tokenizer.decode(ids).endswith("tl ; dr :")
    assert isinstance(long.text, str)


def test_bad_parameters(summarizer):
    with pytest.raises(LitmineError, match="num_beams and max_new_tokens must be at least 1"):
        summarizer.summarize([TEXT], num_beams=0)
    if not summarizer.seq2seq:
        with pytest.raises(LitmineError, match="no {text} placeholder"):
            summarizer.summarize([TEXT], prompt="Summary:")
        with pytest.raises(LitmineError, match="leave no room for the abstract"):
            summarizer.summarize([TEXT], max_new_tokens=128)


def test_no_model_or_the_wrong_kind(tmp_path):
    with pytest.raises(LitmineError, match="microsoft/biogpt"):
        Summarizer(None)
    qa = build_tiny_qa(tmp_path / "qa")
    with pytest.raises(ModelError, match=r"summarize: model '.*qa' is BertForQuestionAnswering, "
                                         r"not a generative language model"):
        Summarizer(str(qa), device="cpu")


def test_summaries_are_stored_with_the_model(tmp_path):
    db = tmp_path / "s.duckdb"
    store = open_store(db)
    con = store.con
    for text in ("first", "second"):  # replaced per (pmid, model), not duplicated
        store_summaries(con, ["1"], [Summary(text, 10, 2)], model="m", parameters={"num_beams": 4},
                        run_id="r")
    store_summaries(con, ["1"], [Summary("other", 5, 0)], model="m2", parameters={}, run_id="r")
    rows = con.execute("SELECT pmid, model, summary, input_tokens, truncated_tokens, parameters "
                       "FROM summaries ORDER BY model").fetchall()
    con.close()
    assert [r[:5] for r in rows] == [("1", "m", "second", 10, 2), ("1", "m2", "other", 5, 0)]
    assert json.loads(rows[0][5]) == {"num_beams": 4}
