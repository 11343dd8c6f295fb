"""Strict mention-level scoring: exact, partial and type mismatches; undefined values; output."""

from __future__ import annotations

import json

import pytest

from litmine.tasks.sources.pubtator import GoldMention, PubTatorDocument
from litmine.tasks.records import Mention
from litmine.tasks.scoring import (Counts, Span, evaluate_predictions, format_errors,
                                   format_markdown, format_table, score_spans)

G = [Span("1", 0, 7, "Chemical", "Aspirin"), Span("1", 20, 33, "Disease", "heart failure")]


@pytest.mark.parametrize("predicted, tp, fp, fn, category", [
    # exact match of both
    ([Span("1", 0, 7, "Chemical"), Span("1", 20, 33, "Disease")], 2, 0, 0, None),
    # a partial (boundary) match is wrong under the strict criterion
    ([Span("1", 0, 7, "Chemical"), Span("1", 26, 33, "Disease")], 1, 1, 1, "boundary"),
    # right span, wrong type
    ([Span("1", 0, 7, "Disease"), Span("1", 20, 33, "Disease")], 1, 1, 1, "type"),
    # right offsets in another document
    ([Span("2", 0, 7, "Chemical"), Span("1", 20, 33, "Disease")], 1, 0, 1, "missed"),
    # a spurious extra mention
    ([Span("1", 0, 7, "Chemical"), Span("1", 20, 33, "Disease"), Span("1", 40, 44, "Chemical")],
     2, 1, 0, "spurious"),
    # duplicates count once
    ([Span("1", 0, 7, "Chemical"), Span("1", 0, 7, "Chemical")], 1, 0, 1, "missed"),
    # nothing predicted
    ([], 0, 0, 2, "missed"),
])
def test_strict_counts(predicted, tp, fp, fn, category):
    scores = score_spans(G, predicted)
    assert (scores.micro.tp, scores.micro.fp, scores.micro.fn) == (tp, fp, fn)
    if category:
        assert category in {e.category for e in scores.errors}
    else:
        assert not scores.errors


def test_per_type_and_micro_values():
    predicted = [Span("1", 0, 7, "Chemical"), Span("1", 26, 33, "Disease")]
    scores = score_spans(G, predicted)
    assert scores.per_type["Chemical"].f1 == 1.0
    assert scores.per_type["Disease"].f1 == 0.0
    assert scores.micro.precision == 0.5 and scores.micro.recall == 0.5
    assert scores.f1 == pytest.approx(0.5)


@pytest.mark.parametrize("counts, p, r, f", [
    (Counts(tp=0, fp=3, fn=0), 0.0, None, None),  # no gold: recall undefined
    (Counts(tp=0, fp=0, fn=4), None, 0.0, None),  # nothing predicted: precision undefined
    (Counts(tp=0, fp=2, fn=2), 0.0, 0.0, 0.0),
    (Counts(tp=3, fp=1, fn=1), 0.75, 0.75, 0.75),
])
def test_undefined_values_are_none_not_a_division_error(counts, p, r, f):
    assert (counts.precision, counts.recall, counts.f1) == (p, r, f)


def test_predicted_type_absent_from_gold_is_reported_not_divided_by_zero():
    predicted = [Span("1", 0, 7, "Chemical"), Span("1", 10, 14, "Gene")]
    scores = score_spans(G, predicted)  # default: only the gold types are scored
    assert "Gene" not in scores.per_type and scores.unscored == {"Gene": 1}
    assert any("no Gene annotations" in n for n in scores.notes)
    forced = score_spans(G, predicted, types=["Chemical", "Disease", "Gene"])
    assert forced.per_type["Gene"].fp == 1 and forced.per_type["Gene"].f1 is None
    assert any("no gold Gene mentions" in n for n in forced.notes)
    json.dumps(forced.as_dict())  # None, not NaN: valid JSON


def test_documents_and_mentions_api_and_error_listing():
    text = "Aspirin relieved pain but caused heart failure."
    doc = PubTatorDocument("7", text, "", (GoldMention(0, 7, "Aspirin", "Chemical"),
                                           GoldMention(17, 21, "pain", "Disease"),
                                           GoldMention(33, 46, "heart failure", "Disease")))
    empty = PubTatorDocument("8", "Nothing here.", "")
    predicted = [Mention("7", 0, 7, "Aspirin", "Chemical"), Mention("7", 39, 46, "failure",
                                                                     "Disease"),
                 Mention("9", 0, 3, "abc", "Chemical")]
    scores = evaluate_predictions([doc, empty], predicted)
    assert scores.n_documents == 2
    assert (scores.micro.tp, scores.micro.fp, scores.micro.fn) == (1, 1, 2)
    assert any("outside the gold set" in n for n in scores.notes)
    listing = format_errors(scores, {"7": doc.text})
    assert "## PMID 7" in listing
    assert "FP boundary" in listing and "[[failure]]" in listing
    assert "FN missed" in listing and "[[pain]]" in listing
    assert "(gold: heart failure 33-46 Disease)" in listing
    data = scores.as_dict()
    assert data["error_counts"] == {"fn:boundary": 1, "fn:missed": 1, "fp:boundary": 1}


def test_table_and_markdown_render():
    from rich.console import Console

    scores = score_spans(G, [Span("1", 0, 7, "Chemical")])
    console = Console(record=True, width=120)
    console.print(format_table(scores))
    rendered = console.export_text()
    assert "micro" in rendered and "100.00" in rendered and "–" in rendered
    md = format_markdown(scores)
    assert "| Chemical | 1 | 1 | 1 | 0 | 0 | 100.00 | 100.00 | 100.00 |" in md
    assert "| Disease | 1 | 0 | 0 | 0 | 1 | – | 0.00 | – |" in md
