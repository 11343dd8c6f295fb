"""Tests for the PubMed XML parse stage (litmine.tasks.sources.pubmed_xml) on real NCBI files.

Fixtures (tests/fixtures/pubmed/, provenance in SOURCES.md there): efetch responses named by
PMID, NCBI baseline/update samples named as NCBI names them. Broken inputs are made here from
those real records by changing a few bytes.
"""

from __future__ import annotations

import gzip
import io
import os
import re
from pathlib import Path

import pytest
from lxml import etree

from litmine.errors import ParseError
from litmine.tasks.sources.pubmed_xml import INVALID_BYTE_MARK, iter_pubmed_xml, parse_article, parse_pubmed_xml
from litmine.tasks.records import Article, Author, Deletion, Reject

FIXTURES = Path(__file__).parents[1] / "fixtures" / "pubmed"
THREE = "efetch_19008416_18927361_18787170.xml"  # 3 records; the 2nd has no abstract
ONE = "efetch_21860499.xml"  # 1 record: title "Nitrofen.", a collective author, no abstract


def _raw(name: str) -> bytes:
    data = (FIXTURES / name).read_bytes()
    return gzip.decompress(data) if name.endswith(".gz") else data


def _swap(data: bytes, old: bytes, new: bytes) -> bytes:
    assert old in data, old
    return data.replace(old, new, 1)


def _by_pmid(records) -> dict[str, Article]:
    return {r.pmid: r for r in records if isinstance(r, Article)}


def _one_title(title_xml: bytes) -> list:
    """Records of the ONE fixture with its <ArticleTitle> element replaced."""
    return list(iter_pubmed_xml(_swap(_raw(ONE), b"<ArticleTitle>Nitrofen.</ArticleTitle>", title_xml)))


# --- every fixture ------------------------------------------------------------------------------

# file, articles, PMIDs deleted, articles without abstract (counted by eye / with zgrep)
FIXTURE_TABLE = [
    (THREE, 3, 0, 1),
    ("efetch_21813142.xml", 1, 0, 1),
    ("efetch_21813367.xml", 1, 0, 0),
    ("efetch_21860499.xml", 1, 0, 1),
    ("efetch_23878845_16080930.xml", 2, 0, 0),
    ("efetch_27933116.xml", 1, 0, 0),
    ("efetch_29186030.xml", 1, 0, 0),
    ("efetch_book_20301382.xml", 1, 0, 0),
    ("efetch_book_26468569.xml", 1, 0, 0),
    ("pubmed20n1016.xml.gz", 26, 262, 3),  # 2 without <Abstract>, 1 with an empty <AbstractText/>
    ("pubmed26n1334.xml.gz", 30, 0, 3),
    ("pubmed26n1335.xml.gz", 30, 6, 1),
    ("pubmed_12091962_9997.xml", 2, 0, 1),
    ("pubmed_28775130.xml", 1, 0, 0),
    ("pubmed_29768149.xml", 1, 0, 0),
    ("pubmed_29963580.xml", 1, 0, 0),
    ("pubmed_30108519.xml", 1, 0, 0),
    ("pubmedsample18n0001.xml.gz", 177, 0, 68),
]


def test_fixture_table_lists_every_fixture():
    xml_files = {p.name for p in FIXTURES.glob("*.xml*") if p.suffix != ".md5"}
    assert {row[0] for row in FIXTURE_TABLE} == xml_files


@pytest.mark.parametrize("name, n_articles, n_deleted, n_no_abstract", FIXTURE_TABLE)
def test_every_fixture_parses(name, n_articles, n_deleted, n_no_abstract):
    path = FIXTURES / name
    records = list(iter_pubmed_xml(path))
    articles = [r for r in records if isinstance(r, Article)]
    assert [r for r in records if isinstance(r, Reject)] == []
    assert len(articles) == n_articles
    assert sum(len(r.pmids) for r in records if isinstance(r, Deletion)) == n_deleted
    assert sum(1 for a in articles if a.abstract == "") == n_no_abstract
    assert len({a.pmid for a in articles}) == n_articles
    for a in articles:
        assert a.pmid.isdigit() and a.title and a.source == str(path)
        assert a.year is None or 1800 < a.year < 2100 and a.pub_date.startswith(str(a.year))
        for text in (a.title, a.abstract):  # collapsed whitespace, no control characters
            assert text == " ".join(text.split())
            assert not re.search("[\x00-\x1f\x7f-\x9f]", text)
        assert a.text == a.title + " " + a.abstract
    named = re.fullmatch(r"(?:efetch|pubmed)_(?:book_)?([\d_]+)\.xml", name)
    if named:  # the file is named by its PMIDs, in document order
        assert [a.pmid for a in articles] == named.group(1).split("_")


# --- exact fields of real records (checked by eye against the XML) --------------------------------

FIELDS = [
    ("efetch_21813367.xml", "21813367", "title",
     "Retrospective exposure estimation and predicted versus observed serum perfluorooctanoic acid "
     "concentrations for participants in the C8 Health Project."),
    ("efetch_21813367.xml", "21813367", "journal", "Environmental health perspectives"),
    ("efetch_21813367.xml", "21813367", "pub_date", "2011-12"),
    ("efetch_21813367.xml", "21813367", "year", 2011),
    ("efetch_21813367.xml", "21813367", "version", 1),
    ("efetch_21813367.xml", "21813367", "doi", "10.1289/ehp.1103729"),
    ("efetch_21813367.xml", "21813367", "language", "eng"),
    ("efetch_21813367.xml", "21813367", "publication_types",
     ("Journal Article", "Research Support, Non-U.S. Gov't", "Validation Study")),
    ("efetch_21813367.xml", "21813367", "authors",  # Ver&#xf3;nica: a numeric character reference
     (Author("Shin", "Hyeong-Moo", "HM"), Author("Vieira", "Verónica M", "VM"),
      Author("Ryan", "P Barry", "PB"), Author("Steenland", "Kyle", "K"), Author("Bartell", "Scott M", "SM"))),
    ("efetch_21813367.xml", "21813367", "mesh_headings",
     ("Caprylates", "Drinking Water", "Environmental Exposure", "Environmental Monitoring",
      "Environmental Pollutants", "Female", "Fluorocarbons", "Humans", "Infant", "Infant, Newborn",
      "Male", "Models, Theoretical", "Ohio", "Retrospective Studies", "West Virginia")),
    ("efetch_21860499.xml", "21860499", "title", "Nitrofen."),
    ("efetch_21860499.xml", "21860499", "abstract", ""),
    ("efetch_21860499.xml", "21860499", "authors", (Author(collective="National Toxicology Program"),)),
    ("efetch_21860499.xml", "21860499", "pub_date", "2011"),
    ("efetch_21860499.xml", "21860499", "doi", ""),
    ("efetch_21813142.xml", "21813142", "title",
     "[Hospitalized surgical patients comanaged by Internal Medicine specialists]."),
    ("efetch_21813142.xml", "21813142", "language", "spa"),
    ("efetch_21813142.xml", "21813142", "pub_date", "2012-02-25"),
    ("efetch_23878845_16080930.xml", "23878845", "pub_date", "2013"),  # <Season>Nov-Dec</Season>
    ("pubmed_12091962_9997.xml", "12091962", "pub_date", "1990"),  # <Season>Spring</Season>
    ("pubmed_12091962_9997.xml", "9997", "doi", "10.1016/0005-2795(76)90109-4"),  # ArticleIdList
    ("pubmed_12091962_9997.xml", "9997", "pub_date", "1976-09-28"),
    ("pubmedsample18n0001.xml.gz", "10188493", "pub_date", "1998"),  # 1998 Dec-1999 Jan
    ("pubmedsample18n0001.xml.gz", "10188493", "authors", (Author("Hyne", "J", "J"),)),
    ("pubmed20n1016.xml.gz", "30688251", "pub_date", "2019"),  # <MedlineDate>2019 Jan-Feb
    ("pubmed20n1016.xml.gz", "30688251", "abstract", ""),  # <AbstractText/>
    ("pubmed26n1335.xml.gz", "26228458", "pub_date", "2016-01"),
    ("pubmed26n1335.xml.gz", "26228458", "doi", "10.1038/ijo.2015.140"),
    ("pubmed26n1335.xml.gz", "26228458", "journal", "International journal of obesity (2005)"),
    ("pubmed26n1335.xml.gz", "26228458", "publication_types",
     ("Journal Article", "Research Support, N.I.H., Extramural", "Research Support, Non-U.S. Gov't")),
    ("pubmed26n1335.xml.gz", "26228458", "authors",  # raw UTF-8 é
     tuple(Author(*n) for n in [("Carrillo-Larco", "R M", "RM"), ("Bernabé-Ortiz", "A", "A"),
           ("Pillay", "T D", "TD"), ("Gilman", "R H", "RH"), ("Sanchez", "J F", "JF"),
           ("Poterico", "J A", "JA"), ("Quispe", "R", "R"), ("Smeeth", "L", "L"),
           ("Miranda", "J J", "JJ")])),
    # books: a whole book (publisher as journal, collective authors) and a chapter (editors dropped)
    ("efetch_book_26468569.xml", "26468569", "title",
     "Application of Modern Toxicology Approaches for Predicting Acute Toxicity for Chemical Defense"),
    ("efetch_book_26468569.xml", "26468569", "journal", "National Academies Press (US)"),
    ("efetch_book_26468569.xml", "26468569", "pub_date", "2015-09-01"),
    ("efetch_book_26468569.xml", "26468569", "doi", "10.17226/21775"),
    ("efetch_book_26468569.xml", "26468569", "publication_types", ("Review",)),
    ("efetch_book_26468569.xml", "26468569", "authors", tuple(Author(collective=c) for c in (
        "Committee on Predictive-Toxicology Approaches for Military Assessments of Acute Exposures",
        "Committee on Toxicology", "Board on Environmental Studies and Toxicology",
        "Board on Life Sciences", "Division on Earth and Life Studies",
        "The National Academies of Sciences, Engineering, and Medicine"))),
    ("efetch_book_20301382.xml", "20301382", "title", "Single Large-Scale Mitochondrial DNA Deletion Syndromes"),
    ("efetch_book_20301382.xml", "20301382", "journal", "GeneReviews®"),  # <sup>&#xae;</sup>
    ("efetch_book_20301382.xml", "20301382", "pub_date", "1993"),
    ("efetch_book_20301382.xml", "20301382", "year", 1993),
    ("efetch_book_20301382.xml", "20301382", "doi", ""),
    ("efetch_book_20301382.xml", "20301382", "authors",
     (Author("Goldstein", "Amy", "A"), Author("Falk", "Marni J", "MJ"))),
]


@pytest.mark.parametrize("name, pmid, field, expected", FIELDS)
def test_field_values_of_real_records(name, pmid, field, expected):
    article = _by_pmid(iter_pubmed_xml(FIXTURES / name))[pmid]
    assert getattr(article, field) == expected


# --- abstract text ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, pmid, labels", [
    ("efetch_21813367.xml", "21813367", ["BACKGROUND", "OBJECTIVES", "METHODS", "RESULTS", "CONCLUSIONS"]),
    ("efetch_23878845_16080930.xml", "23878845", ["OBJECTIVES", "METHOD AND MATERIALS", "RESULTS", "CONCLUSION"]),
    ("efetch_23878845_16080930.xml", "16080930",
     ["BACKGROUND/AIM", "MATERIAL AND METHODS", "RESULTS", "CONCLUSIONS"]),
    ("efetch_book_20301382.xml", "20301382", ["CLINICAL CHARACTERISTICS", "DIAGNOSIS/TESTING", "MANAGEMENT"]),
])
def test_structured_abstract_is_label_colon_text_joined_by_one_space(name, pmid, labels):
    abstract = _by_pmid(iter_pubmed_xml(FIXTURES / name))[pmid].abstract
    assert abstract.startswith(labels[0] + ": ")
    positions = [abstract.find(f" {label}: ") for label in labels[1:]]
    assert -1 not in positions and positions == sorted(positions)
    assert abstract.find(f". {labels[1]}: ") == positions[0] - 1  # one space after the text before


@pytest.mark.parametrize("name, pmid, field, expected", [
    ("efetch_27933116.xml", "27933116", "title",  # <i>Phoenix dactylifera</i> ... Cu<sub>2</sub>O
     "Phoenix dactylifera mediated green synthesis of Cu2O particles for arsenite uptake from water."),
    ("efetch_29186030.xml", "29186030", "abstract",
     "CYP353D1v2 is a cytochrome P450 related to imidacloprid resistance in Laodelphax striatellus. "),
    ("efetch_book_20301382.xml", "20301382", "abstract", "MANAGEMENT: Targeted therapy: Folinic acid"),
    ("efetch_book_20301382.xml", "20301382", "abstract", "such as coenzyme Q10 and antioxidants"),
    ("pubmed_28775130.xml", "28775130", "abstract", "normal TSH (0.4-<4.5 mIU/L)"),  # <u>&lt;</u>
    ("pubmed_30108519.xml", "30108519", "abstract",  # MathML, pretty-printed: one token per line
     "maximal oxygen uptake ( V . O 2 m a x ) 67.6 ± 4.1 ml·kg-1·min-1] homogeneous"),
    ("pubmed_30108519.xml", "30108519", "abstract", "predictors of V . O 2 m a x (r = 0.72-0.79; P < 0.001)"),
    ("pubmed_29963580.xml", "29963580", "abstract", "(1) inhaled He 3 / Xe 129 MRI ventilation"),
    ("pubmed_29963580.xml", "29963580", "abstract", "ultrashort echo-time H 1 MRI proton density"),
])
def test_inline_markup_and_mathml_keep_their_text(name, pmid, field, expected):
    article = _by_pmid(iter_pubmed_xml(FIXTURES / name))[pmid]
    assert expected in getattr(article, field)
    assert "mml" not in article.text and "<i>" not in article.text


@pytest.mark.parametrize("name, pmid, ends_with", [
    ("efetch_book_26468569.xml", "26468569", "suggests some initial steps for DOD investment."),
    ("pubmed20n1016.xml.gz", "31207565", "to address postural impairment in chronic spine "
                                         "musculoskeletal conditions."),
])
def test_copyright_is_not_part_of_the_abstract(name, pmid, ends_with):
    abstract = _by_pmid(iter_pubmed_xml(FIXTURES / name))[pmid].abstract
    assert abstract.endswith(ends_with) and "Copyright" not in abstract


def test_abstract_sections_other_abstract_and_unknown_elements():
    abstract = (b"<Abstract><AbstractText Label=\"AIM\">First <b>bold</b>.</AbstractText>"
                b"<AbstractText Label=\"\">Unlabelled.</AbstractText><AbstractText/>"
                b"<AbstractText Label=\"EMPTY\"></AbstractText><FutureThing>x</FutureThing>"
                b"<AbstractText>Last.</AbstractText><CopyrightInformation>(c) Me</CopyrightInformation>"
                b"</Abstract><OtherAbstract Type=\"Publisher\" Language=\"ger\"><AbstractText>Deutsch."
                b"</AbstractText></OtherAbstract><NewElement2030>ignored</NewElement2030>")
    data = _swap(_raw(ONE), b"</ArticleTitle>", b"</ArticleTitle>" + abstract)
    data = _swap(data, b"<PubmedArticle>", b"<UnknownTopLevel><PMID>1</PMID></UnknownTopLevel><PubmedArticle>")
    [article] = iter_pubmed_xml(data)
    assert article.abstract == "AIM: First bold. Unlabelled. Last."
    assert article.title == "Nitrofen."


# --- text normalisation and encodings -------------------------------------------------------------

@pytest.mark.parametrize("title_xml, expected", [
    ("Caf&#xe9; &#233;t&#xE9;", "Café été"),  # numeric references ...
    ("Café été", "Café été"),  # ... and raw UTF-8 decode alike
    ("<i>Na</i><sup>+</sup>/K<sup>+</sup>-ATPase", "Na+/K+-ATPase"),
    ("  two\n\t lines\r\n  here ", "two lines here"),
    ("no\u00a0break and\u2009thin", "no break and thin"),  # Unicode whitespace counts as whitespace
    ("a\x01b\x08c\x0bd\x1fe", "abcde"),  # raw C0 controls (forbidden in XML 1.0) removed
    ("a&#x1;b&#8;c&#X1F;d&#0031;e", "abcde"),  # references to C0 controls removed
    ("a\u0085b&#x9f;c\u007fd", "abcd"),  # C1 controls and DEL removed
    ("tab&#9;ok&#10;&#x1F600;", "tab ok \U0001f600"),  # allowed references kept
    ("<b/>", "Nitrofen."),  # empty ArticleTitle: falls back to the VernacularTitle below
])
def test_title_text_rules(title_xml, expected):
    data = _swap(_raw(ONE), b"<ArticleTitle>Nitrofen.</ArticleTitle>",
                 f"<ArticleTitle>{title_xml}</ArticleTitle><VernacularTitle>Nitrofen.</VernacularTitle>".encode())
    [article] = iter_pubmed_xml(data)
    assert article.title == expected


def test_named_entity_left_by_the_dtd_is_decoded():
    """A DOCTYPE with an unread DTD makes &eacute; an entity node; it decodes to its character."""
    [article] = _one_title(b"<ArticleTitle>Caf&eacute; &undefinedname;</ArticleTitle>")
    assert article.title == "Café &undefinedname;"


def test_a_file_declaring_another_encoding_is_decoded_by_the_parser():
    data = _swap(_raw(ONE), b"<?xml version=\"1.0\" ?>", b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>")
    data = _swap(data, b"Nitrofen.</ArticleTitle>", "Nitrofène.</ArticleTitle>".encode("latin-1"))
    [article] = iter_pubmed_xml(data)
    assert article.title == "Nitrofène."


def test_character_references_and_utf8_cut_by_read_chunks():
    """Titles longer than the parser's 32 KiB reads: references and UTF-8 split across reads."""
    title = ("&#xe9;&#x1;é" * 12_000).encode()
    [article] = _one_title(b"<ArticleTitle>" + title + b"</ArticleTitle>")
    assert article.title == "éé" * 12_000


# --- books, deletions, big files ----------------------------------------------------------------

def test_parse_article_on_a_single_element():
    tree = etree.parse(str(FIXTURES / "efetch_book_20301382.xml"), etree.XMLParser(no_network=True))
    article = parse_article(tree.getroot()[0])
    assert (article.pmid, article.source, article.journal) == ("20301382", "", "GeneReviews®")
    with pytest.raises(ValueError, match="PubmedArticle"):
        parse_article(tree.getroot())


@pytest.mark.parametrize("name, n_pmids, first, last, n_articles_before", [
    ("pubmed26n1335.xml.gz", 6, None, None, 30),
    ("pubmed20n1016.xml.gz", 262, "31034065", "31845705", 26),
])
def test_delete_citation_yields_one_deletion(name, n_pmids, first, last, n_articles_before):
    records = list(iter_pubmed_xml(FIXTURES / name))
    assert isinstance(records[-1], Deletion) and records[-1].source == str(FIXTURES / name)
    assert sum(isinstance(r, Deletion) for r in records) == 1
    assert sum(isinstance(r, Article) for r in records[:-1]) == n_articles_before
    deleted = re.findall(rb"<PMID[^>]*>(\d+)</PMID>", _raw(name).split(b"<DeleteCitation>")[1])
    assert records[-1].pmids == tuple(p.decode() for p in deleted)
    assert len(records[-1].pmids) == n_pmids
    if first:
        assert (records[-1].pmids[0], records[-1].pmids[-1]) == (first, last)


def test_nlm_2018_sample_yields_177_articles():
    articles = list(iter_pubmed_xml(FIXTURES / "pubmedsample18n0001.xml.gz"))
    assert len(articles) == 177 and all(isinstance(a, Article) for a in articles)
    assert len(re.findall(rb"<PubmedArticle>", _raw("pubmedsample18n0001.xml.gz"))) == 177


def test_path_bytes_and_file_objects_agree_and_name_the_source(tmp_path):
    name = "pubmed26n1334.xml.gz"
    path = FIXTURES / name
    plain = tmp_path / "pubmed26n1334.xml"  # same content, not compressed
    plain.write_bytes(_raw(name))
    with open(path, "rb") as handle:
        from_handle = list(iter_pubmed_xml(handle))
    runs = {
        str(path): list(iter_pubmed_xml(str(path))),
        "efetch": list(iter_pubmed_xml(path.read_bytes())),
        "baseline": list(iter_pubmed_xml(io.BytesIO(_raw(name)), source_name="baseline")),
        str(plain): list(iter_pubmed_xml(plain)),
        handle.name: from_handle,
    }
    expected = [a.pmid for a in runs[str(path)]]
    assert len(expected) == 30
    for source, records in runs.items():
        assert [a.pmid for a in records] == expected
        assert {a.source for a in records} == {source}
        assert [a.text for a in records] == [a.text for a in runs[str(path)]]


def test_prefect_task_body_returns_the_records_as_a_list():
    data = _raw(THREE)
    assert parse_pubmed_xml.fn(data) == list(iter_pubmed_xml(data))


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads resident memory from Linux /proc")
def test_30k_record_file_streams_in_flat_memory(tmp_path):
    """30,000 copies of a real 2 KB record (PMID 41590990) with new PMIDs, gzip'd: ~64 MB of XML.

    Resident memory is measured, not tracemalloc: libxml2 allocates its tree with malloc, which
    tracemalloc does not see (a 41 MB document parsed without clearing shows a tracemalloc peak of
    0.04 MB while the process grows by 58 MB). Without the clearing the parser does, this file
    grows the process by ~570 MB; with it, by ~2 MB.
    """
    raw = _raw("pubmed26n1334.xml.gz")
    record = re.search(rb"<PubmedArticle>(?:(?!</PubmedArticle>).)*>41590990<.*?</PubmedArticle>", raw, re.S).group()
    head = raw[: raw.index(b"<PubmedArticle>")]
    big = tmp_path / "pubmed99n0001.xml.gz"
    with gzip.open(big, "wb", compresslevel=1) as out:
        out.write(head)
        for n in range(30_000):
            out.write(record.replace(b">41590990</PMID>", b">%d</PMID>" % (50_000_000 + n), 1))
        out.write(b"</PubmedArticleSet>\n")
    before = peak = _resident_bytes()
    count, first, last = 0, None, None
    for article in iter_pubmed_xml(big):
        count += 1
        first = first or article
        last = article
        if count % 500 == 0:
            peak = max(peak, _resident_bytes())
    assert count == 30_000 and isinstance(last, Article)
    assert (first.pmid, last.pmid) == ("50000000", "50029999")
    assert last.title == first.title and last.abstract == first.abstract and first.title
    assert peak - before < 50 * 2**20, f"grew by {(peak - before) / 2**20:.0f} MiB"


# --- bad input -----------------------------------------------------------------------------------

def test_malformed_xml_mid_file_rejects_once_and_stops():
    data = _raw(THREE)
    third = data.index(b"<PubmedArticle>", data.index(b">18927361</PMID>"))
    line = data[:third].count(b"\n") + 1
    broken = data[:third] + _swap(data[third:], b"</ArticleTitle>", b"</ArticleTitel>")
    records = list(iter_pubmed_xml(broken, source_name="batch-7"))
    assert [type(r) for r in records] == [Article, Article, Reject]
    assert [r.pmid for r in records[:2]] == ["19008416", "18927361"]
    reject = records[-1]
    assert reject.source == "batch-7" and reject.pmid is None
    assert f"malformed XML at line {line}," in reject.reason and "kept the 2 record(s) before it" in reject.reason


@pytest.mark.parametrize("cut, reason", [
    (lambda data: gzip.compress(data)[: len(gzip.compress(data)) // 2], "truncated or corrupt"),
    (lambda data: data[: len(data) // 2], "malformed XML at line"),
])
def test_truncated_file_keeps_the_records_before_the_cut(tmp_path, cut, reason):
    path = tmp_path / "pubmed26n1334.xml.gz"
    path.write_bytes(cut(_raw("pubmed26n1334.xml.gz")))
    records = list(iter_pubmed_xml(path))
    assert 5 < len(records) < 30
    assert all(isinstance(r, Article) for r in records[:-1])
    assert isinstance(records[-1], Reject) and reason in records[-1].reason
    assert records[-1].source == str(path)


@pytest.mark.parametrize("old, new, pmid, reason", [
    (b"<PMID Version=\"1\">18927361</PMID>", b"", None, "no PMID"),
    (b"<PMID Version=\"1\">18927361</PMID>", b"<PMID Version=\"1\">PMC18927361</PMID>", None, "not a number"),
    (b"<ArticleTitle>Genetics. DNA test for breast cancer risk draws criticism.</ArticleTitle>",
     b"<ArticleTitle/>", "18927361", "no title and no abstract"),
    (b"DNA test for breast", b"DNA \xff\xfetest for breast", "18927361", "not valid UTF-8"),
    (b"DNA test for breast", b"DNA \xc3test for breast", "18927361", "not valid UTF-8"),  # cut sequence
])
def test_a_bad_record_becomes_a_reject_and_the_others_are_kept(old, new, pmid, reason):
    data = _raw(THREE)
    start = data.index(b">18927361</PMID>") - 200  # inside the 2nd record
    records = list(iter_pubmed_xml(data[:start] + _swap(data[start:], old, new)))
    assert [type(r) for r in records] == [Article, Reject, Article]
    assert [records[0].pmid, records[2].pmid] == ["19008416", "18787170"]
    assert records[1].pmid == pmid and reason in records[1].reason
    line = data[:start].count(b"\n") + 1
    assert f"line {line} " in records[1].reason and records[1].source == "efetch"


def test_invalid_utf8_in_a_field_not_stored_keeps_the_article():
    data = _swap(_raw(THREE), b"<Affiliation>Michigan Center", b"<Affiliation>Mich\xffigan Center")
    records = list(iter_pubmed_xml(data))
    assert [type(r) for r in records] == [Article, Article, Article]
    assert all(INVALID_BYTE_MARK not in a.text for a in records)


def test_record_variants_version_and_invalid_authors():
    data = _swap(_raw(ONE), b"<PMID Version=\"1\">21860499</PMID>", b"<PMID Version=\"2\">21860499</PMID>")
    data = _swap(data, b"<Author ValidYN=\"Y\">",
                 b"<Author ValidYN=\"N\"><LastName>Wrong</LastName></Author><Author ValidYN=\"Y\">"
                 b"<LastName>Smith</LastName><FirstName>Old</FirstName></Author><Author ValidYN=\"Y\">")
    [article] = iter_pubmed_xml(data)
    assert article.version == 2
    assert article.authors == (Author("Smith", "Old"), Author(collective="National Toxicology Program"))


@pytest.mark.parametrize("pub_date_xml, pub_date, year", [
    ("<Year>2011</Year><Month>Mar</Month><Day>7</Day>", "2011-03-07", 2011),
    ("<Year>2011</Year><Month>3</Month>", "2011-03", 2011),
    ("<Year>2011</Year><Month>12</Month><Day>05</Day>", "2011-12-05", 2011),
    ("<Year>2011</Year><Month>September</Month>", "2011-09", 2011),
    ("<Year>2011</Year><Month>Feb</Month><Day>30</Day>", "2011-02", 2011),  # no such day
    ("<Year>2011</Year><Month>Smarch</Month><Day>1</Day>", "2011", 2011),
    ("<Year>2011</Year><Season>Spring</Season>", "2011", 2011),
    ("<MedlineDate>1998 Dec-1999 Jan</MedlineDate>", "1998", 1998),
    ("<MedlineDate>Winter 2001-2002</MedlineDate>", "2001", 2001),
    ("<MedlineDate>unknown</MedlineDate>", "", None),
    ("", "", None),
])
def test_publication_date(pub_date_xml, pub_date, year):
    data = _swap(_raw(ONE), b"<PubDate><Year>2011</Year></PubDate>", f"<PubDate>{pub_date_xml}</PubDate>".encode())
    [article] = iter_pubmed_xml(data)
    assert (article.pub_date, article.year) == (pub_date, year)


@pytest.mark.parametrize("content, message", [
    (b"hello, not XML", "is not PubMed XML: malformed XML at line 1"),
    (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "is not PubMed XML"),
    (gzip.compress(b"plain text, gzip'd", mtime=0), "is not PubMed XML"),
    (b"\x1f\x8bnot really gzip", "truncated or corrupt"),
    (b"", "empty body"),
    (b'<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eFetchResult PUBLIC "-//NLM//DTD efetch '
     b'20131226//EN" "https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20131226/efetch.dtd">\n<eFetchResult>\n'
     b'\t<ERROR>Empty id list - nothing todo</ERROR>\n</eFetchResult>\n',
     "root element is <eFetchResult> saying 'Empty id list - nothing todo'"),
])
def test_input_that_is_not_pubmed_xml_raises_parse_error(tmp_path, content, message):
    with pytest.raises(ParseError, match=re.escape(message)) as raised:
        list(iter_pubmed_xml(content, source_name="efetch batch 3"))
    assert "efetch batch 3" in str(raised.value) or content == b""
    path = tmp_path / "pubmed26n9999.xml.gz"
    path.write_bytes(content)
    if content:
        with pytest.raises(ParseError, match=re.escape(str(path))):
            list(iter_pubmed_xml(path))


def test_missing_file_raises_parse_error_at_once(tmp_path):
    missing = tmp_path / "pubmed26n0001.xml.gz"
    with pytest.raises(ParseError, match=re.escape(str(missing)) + ".*does not exist.*ftp.ncbi.nlm.nih.gov"):
        iter_pubmed_xml(missing)  # no iteration needed
    with pytest.raises(ParseError, match="not a file"):
        iter_pubmed_xml(tmp_path)
    with pytest.raises(ParseError, match="pass the XML as bytes"):
        iter_pubmed_xml("<PubmedArticleSet></PubmedArticleSet>")
    with open(FIXTURES / ONE, encoding="utf-8") as text_mode, pytest.raises(ParseError, match="'rb'"):
        list(iter_pubmed_xml(text_mode))
