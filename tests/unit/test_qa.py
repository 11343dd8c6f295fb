"""Extractive QA: spans with document offsets, windows over long abstracts, the sentence of an
answer, bad input. A tiny random SQuAD-style model from disk; real DuckDB files."""

from __future__ import annotations

import pytest

from litmine.errors import LitmineError, ModelError
from litmine.tasks.semantic.qa import QAModel, documents_for, sentence_of
from litmine.tasks.records import Article
from litmine.tasks.text.sentences import split_articles
from litmine.tasks.store.database import Batch
from litmine.tasks.store.access import open_store
from tests.support.tiny_models import NLI_LABELS, build_tiny_qa, build_tiny_sequence_classifier

SHORT = Article("1", "Cisplatin ototoxicity.", "Cisplatin caused hearing loss in 40% of children.")
LONG = Article("2", "Aspirin and asthma.", " ".join(
    f"In cohort {i}, aspirin triggered bronchospasm in adults with asthma." for i in range(12)))


@pytest.fixture(scope="module")
def reader(tmp_path_factory) -> QAModel:
    return QAModel(str(build_tiny_qa(tmp_path_factory.mktemp("qa"), max_length=64)), device="cpu")


def test_answers_are_spans_of_the_documents(reader):
    documents = [(SHORT.pmid, SHORT.text), (LONG.pmid, LONG.text)]
    answers = reader.answer("What causes hearing loss?", documents, max_answer_tokens=5)
    assert sorted(a.pmid for a in answers) == ["1", "2"]  # the best span of each document
    assert answers[0].score >= answers[1].score
    texts = dict(documents)
    for answer in answers:
        assert 0 <= answer.start < answer.end <= len(texts[answer.pmid])
        assert texts[answer.pmid][answer.start:answer.end] == answer.text
        assert 0 < answer.score <= 1
        offsets = reader._tokenizer(texts[answer.pmid], add_special_tokens=False,
                                    return_offsets_mapping=True)["offset_mapping"]
        inside = [o for o in offsets if answer.start <= o[0] and o[1] <= answer.end]
        assert 1 <= len(inside) <= 5
    assert reader.windows > 2  # the long abstract was read in several windows, not truncated


def test_an_answer_deep_in_a_long_abstract_keeps_document_offsets(reader):
    # Only the end of the abstract is a context token of the last window; whichever window
    # wins, the offsets must index the whole text.
    answers = reader.answer("Who had bronchospasm?", [(LONG.pmid, LONG.text)], max_answer_tokens=3)
    assert len(answers) == 1
    assert LONG.text[answers[0].start:answers[0].end] == answers[0].text


@pytest.mark.parametrize("question, message", [
    ("", "the question is empty"),
    ("   ", "the question is empty"),
    ("why " * 60, "too few left for the abstract"),
])
def test_bad_questions(reader, question, message):
    with pytest.raises(LitmineError, match=message):
        reader.answer(question, [(SHORT.pmid, SHORT.text)])


def test_no_model_or_the_wrong_kind(tmp_path):
    with pytest.raises(LitmineError, match="deepset/roberta-base-squad2"):
        QAModel(None)
    nli = build_tiny_sequence_classifier(tmp_path / "nli", NLI_LABELS, 64)
    with pytest.raises(ModelError, match=r"ask: model '.*nli' is BertForSequenceClassification, "
                                         r"not an extractive question-answering model"):
        QAModel(str(nli), device="cpu")


def test_the_sentence_that_holds_an_answer(tmp_path):
    with open_store(tmp_path / "q.duckdb") as store:
        store.load_batch(Batch(articles=[SHORT, LONG], sentences=split_articles.fn([SHORT, LONG])),
                         model="none", run_id="r")
        start = LONG.text.index("In cohort 3,")
        index, sentence = sentence_of(store.con, "2", start + 5)
        assert sentence.startswith("In cohort 3,") and index == 4  # title, cohorts 0..3
        assert sentence_of(store.con, "1", 0) == (0, "Cisplatin ototoxicity.")
        assert sentence_of(store.con, "404", 0) == (None, "")
        assert documents_for(store.con, ["2", "404", "1"]) == [("2", LONG.text), ("1", SHORT.text)]
