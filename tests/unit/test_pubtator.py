"""PubTator reading (including the bad lines of real corpora) and writing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from litmine.tasks.sources.pubtator import (GoldMention, gold_to_mentions, iter_pubtator, read_pubtator,
                                    write_pubtator)
from litmine.tasks.records import Article, Mention


@pytest.fixture(scope="module")
def corpora(fixtures_dir):
    return fixtures_dir / "corpora"


def test_reads_bc5cdr_documents_mentions_and_relations(corpora):
    docs, stats = read_pubtator(corpora / "bc5cdr_train_sample.pubtator")
    assert len(docs) == 20 and stats.documents == 20
    first = docs[0]
    assert first.pmid == "227508"
    assert first.title == "Naloxone reverses the antihypertensive effect of clonidine."
    assert first.mentions[0] == GoldMention(0, 8, "Naloxone", "Chemical", "D009270")
    assert ("CID", "D008750", "D007022") in first.relations
    for doc in docs:  # every offset indexes title + " " + abstract
        for m in doc.mentions:
            assert doc.text[m.start:m.end] == m.text
    assert not stats.skipped and not stats.fixed


def test_composite_mention_keeps_concept_ids(corpora):
    docs, _ = read_pubtator(corpora / "bc5cdr_train_sample.pubtator")
    composite = [m for d in docs for m in d.mentions if "|" in m.concept_id]
    assert composite, "the sample holds BC5CDR 7-column composite mention lines"
    assert all(m.type == "Disease" for m in composite)


def test_to_article_text_matches(corpora):
    doc = next(iter_pubtator(corpora / "bc5cdr_dev_sample.pubtator"))
    article = doc.to_article(source="dev")
    assert article.text == doc.text and article.pmid == doc.pmid and article.source == "dev"


def test_biored_five_column_relations_and_missing_ids(corpora):
    docs, stats = read_pubtator(corpora / "biored_train_sample.pubtator")
    assert [d.pmid for d in docs] == ["10491763", "10661407", "18657397", "16160878"]
    assert docs[0].relations and all(len(r) == 3 for r in docs[0].relations)
    assert "GeneOrGeneProduct" in {m.type for m in docs[0].mentions}
    assert stats.relations == sum(len(d.relations) for d in docs)


def test_ncbi_trailing_spaces_fixed_and_repeated_document_kept(corpora):
    reader = iter_pubtator(corpora / "ncbi_disease_train_sample.pubtator")
    docs = list(reader)
    assert [d.pmid for d in docs] == ["10192393", "10923035", "8528200", "8528200"]
    doc = docs[1]
    m = next(m for m in doc.mentions if m.start == 711)
    assert m.text == 'generalized epilepsy and febrile seizures " plus "'
    assert m.end == 761 and doc.text[m.start:m.end] == m.text
    assert reader.stats.fixed == {"text-fixed": 1}
    issue = reader.stats.issues[0]
    assert (issue.pmid, issue.line, issue.kind) == ("10923035", 27, "text-fixed")


def test_gnormplus_shifted_offsets_fixed_and_unrecoverable_skipped(corpora):
    docs, stats = read_pubtator(corpora / "gnormplus_train_sample.pubtator")
    by_pmid = {d.pmid: d for d in docs}
    ge1 = [m for m in by_pmid["7520377"].mentions if m.text == "Ge-1"]
    assert ge1 and all(by_pmid["7520377"].text[m.start:m.end] == "Ge-1" for m in ge1)
    assert (ge1[0].start, ge1[0].end) == (506, 510)  # stated 507-511
    long = next(m for m in by_pmid["10880510"].mentions if m.start == 15)
    assert long.text == "2P domain mechano-sensitive K+ channel"  # stated end 24 was too short
    assert stats.skipped["mention-skipped"] == 1  # '  DEAD   box' vs '" DEAD " box'
    assert stats.skipped["duplicate"] == 1  # 14976162 repeats an MDR1 line
    assert stats.fixed["offsets-fixed"] > 10
    for doc in docs:
        for m in doc.mentions:
            assert doc.text[m.start:m.end] == m.text


def test_nlm_gene_case_fix_shift_and_nested(corpora):
    docs, stats = read_pubtator(corpora / "nlm_gene_train_sample.pubtator")
    by_pmid = {d.pmid: d for d in docs}
    erk = next(m for m in by_pmid["20105280"].mentions if m.start == 1441)
    assert erk.text == "Erk"  # the corpus line says "ERK"
    kras = next(m for m in by_pmid["19430421"].mentions if m.text == "KRAS" and m.start > 1900)
    assert (kras.start, kras.end) == (1940, 1944)  # stated 1933-1937
    assert stats.overlapping >= 2  # SH2B1 inside SH2B1a, SH2B1 inside SH2B1b (24971614)
    nested = [(m.start, m.end) for m in by_pmid["24971614"].mentions if m.start in (986, 999)]
    assert (986, 991) in nested and (986, 992) in nested


@pytest.mark.parametrize("text, kind", [
    # offsets beyond the text, and the mention text is not in the document: skipped
    ("1|t|Aspirin works.\n1|a|Yes.\n1\t40\t49\tIbuprofen\tChemical\tD1\n", "mention-skipped"),
    # empty document
    ("2|t|\n2|a|\n", "empty-document"),
    # a mention line for another PMID
    ("3|t|Aspirin works.\n3|a|Yes.\n4\t0\t7\tAspirin\tChemical\tD1\n", "bad-line"),
    # a line that is not PubTator at all
    ("5|t|Aspirin works.\n5|a|Yes.\ngarbage\n", "bad-line"),
])
def test_bad_input_is_skipped_and_counted(text, kind):
    reader = iter_pubtator(io.StringIO(text))
    docs = list(reader)
    assert reader.stats.skipped[kind] == 1
    assert all(not d.mentions for d in docs)


def test_unknown_types_skipped_when_types_are_known():
    text = ("1|t|Aspirin and TP53.\n1|a|x\n1\t0\t7\tAspirin\tChemical\tD1\n"
            "1\t12\t16\tTP53\tGene\t7157\n")
    reader = iter_pubtator(io.StringIO(text), known_types={"Chemical"})
    (doc,) = list(reader)
    assert [m.type for m in doc.mentions] == ["Chemical"]
    assert reader.stats.skipped["unknown-type"] == 1


def test_documents_without_blank_separator_and_crlf():
    text = ("1|t|Aspirin.\r\n1|a|A.\r\n1\t0\t7\tAspirin\tChemical\t-\r\n"
            "2|t|Lead.\r\n2|a|B.\r\n2\t0\t4\tLead\tChemical\t-\r\n")
    docs = list(iter_pubtator(io.StringIO(text)))
    assert [(d.pmid, d.mentions[0].text) for d in docs] == [("1", "Aspirin"), ("2", "Lead")]


def test_missing_file_names_the_path(tmp_path):
    from litmine.errors import ParseError

    with pytest.raises(ParseError, match="nope.pubtator"):
        list(iter_pubtator(tmp_path / "nope.pubtator"))


def test_write_then_read_round_trip(tmp_path):
    article = Article(pmid="42", title="Cisplatin nephrotoxicity.",
                      abstract="Cisplatin caused\nrenal failure.")
    text = article.text
    mentions = [Mention("42", text.index("renal failure"), text.index("renal failure") + 13,
                        "renal failure", "Disease"),
                Mention("42", 0, 9, "Cisplatin", "Chemical", concept_id="D002945")]
    out = tmp_path / "pred.pubtator"
    assert write_pubtator([(article, mentions)], out) == 1
    lines = out.read_text().splitlines()
    assert lines[1] == "42|a|Cisplatin caused renal failure."  # line break -> space
    assert lines[2] == "42\t0\t9\tCisplatin\tChemical\tD002945"  # sorted by offset
    assert lines[3].endswith("\tDisease\t-")
    (doc,) = list(iter_pubtator(out))
    back = gold_to_mentions(doc)
    assert [(m.start, m.end, m.type, m.concept_id) for m in back] == [
        (0, 9, "Chemical", "D002945"), (mentions[0].start, mentions[0].end, "Disease", "")]


FULL_TEXT = Path(__file__).resolve().parents[1] / "fixtures" / "fulltext" / "pmc_fulltext_sample.PubTator"


def test_consecutive_entries_of_a_pmid_are_one_full_text_written_back_byte_for_byte():
    """Issue 21: a full text as PubTator3/AIONER write it (an entry per passage, offsets relative
    to the entry) is one document whose passages keep their boundaries; written back, every
    entry and every offset is as read (the non-consecutive duplicate is a document of its own
    here: `iter_file_items` rejects it)."""
    docs, stats = read_pubtator(FULL_TEXT)
    assert [(d.pmid, len(d.passages)) for d in docs] == [
        ("90000001", 6), ("90000003", 0), ("90000002", 2), ("90000001", 0)]
    assert stats.documents == 4 and stats.passages_joined == 6 and not stats.skipped
    full = docs[0]
    assert full.title == "Cisplatin-induced nephrotoxicity in rats is reduced by magnesium."
    for m in full.mentions:
        assert full.text[m.start:m.end] == m.text
    for p in full.passages:  # each passage is its entry's "t a" text
        assert full.text[p.title_end] == " " and p.end <= len(full.text)
    out = io.StringIO()
    write_pubtator([(d.to_article(), gold_to_mentions(d)) for d in docs[:3]], out,
                   {d.pmid: d.relations for d in docs[:3]})
    entries = FULL_TEXT.read_text(encoding="utf-8").split("\n\n")
    assert out.getvalue() == "\n\n".join(entries[:-2]) + "\n\n"  # all but the duplicate


def test_a_non_consecutive_duplicate_pmid_is_a_reject_not_a_silent_drop():
    from litmine.tasks.records import Reject
    from litmine.tasks.sources.files import iter_file_items

    items = list(iter_file_items(FULL_TEXT))
    articles = [i for i in items if isinstance(i, Article)]
    rejects = [i for i in items if isinstance(i, Reject)]
    assert [a.pmid for a in articles] == ["90000001", "90000003", "90000002"]
    assert len(articles[0].passages) == 6  # the first occurrence is kept, whole
    assert [(r.pmid, r.stage) for r in rejects] == [("90000001", "parse")]
    assert "appears again" in rejects[0].reason
    assert rejects[0].source == str(FULL_TEXT)
