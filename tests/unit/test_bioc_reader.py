"""BioC XML and JSON input: a document is an Article whose passages sit at their BioC offsets;
every bad input is a reject naming what was wrong, or one error line for a file that is no BioC."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from bioc import biocxml

from litmine.errors import ParseError
from litmine.tasks.records import Article, Reject
from litmine.tasks.sources.bioc import write_bioc
from litmine.tasks.sources.bioc_reader import iter_bioc_json, iter_bioc_xml
from litmine.tasks.sources.files import iter_file_items, sniff_format
from litmine.tasks.text.sentences import split_article

FULLTEXT = Path(__file__).resolve().parents[1] / "fixtures" / "fulltext"
XML = FULLTEXT / "pmc_fulltext_sample.bioc.xml"
JSON = FULLTEXT / "pmc_fulltext_sample.bioc.json"


def _split(items) -> tuple[list[Article], list[Reject]]:
    items = list(items)
    return [i for i in items if isinstance(i, Article)], [i for i in items if isinstance(i, Reject)]


def _collection(*documents: dict) -> dict:
    return {"source": "test", "date": "", "key": "", "infons": {}, "documents": list(documents)}


def _doc(id_: str, *passages: tuple, infons: dict | None = None) -> dict:
    """A BioC JSON document; passages are (offset, text[, infons])."""
    return {"id": id_, "infons": infons or {}, "relations": [],
            "passages": [{"offset": p[0], "text": p[1], "infons": p[2] if len(p) > 2 else {},
                          "sentences": [], "annotations": [], "relations": []} for p in passages]}


def _read_json(tmp_path: Path, value) -> tuple[list[Article], list[Reject]]:
    path = tmp_path / "in.json"
    path.write_text(json.dumps(value), encoding="utf-8")
    return _split(iter_file_items(path))


def test_xml_and_json_fixtures_give_the_same_articles_each_passage_at_its_bioc_offset():
    from_xml, rejects_xml = _split(iter_file_items(XML))
    from_json, rejects_json = _split(iter_file_items(JSON))
    assert [_fields(a, "source") for a in from_xml] == [_fields(a, "source") for a in from_json]
    assert [a.pmid for a in from_xml] == ["90000011", "90000012", "90000013"]
    with open(XML, encoding="utf-8") as handle:  # the bioc package's own reading is the oracle
        given = {d.id: d for d in biocxml.load(handle).documents}
    for article, doc_id in zip(from_xml, ["9000101", "90000012", "90000013"]):
        for passage in given[doc_id].passages:
            assert article.text[passage.offset:passage.offset + len(passage.text)] == passage.text
        assert article.title == given[doc_id].passages[0].text
    full = from_xml[0]  # PMC: the PMID from the front passage's article-id_pmid infon
    assert [(p.start, p.type) for p in full.passages] == [
        (p.offset, p.infons["type"]) for p in given["9000101"].passages]
    assert all(p.title_end == p.end for p in full.passages)
    assert (full.doi, full.year, full.pub_date) == ("10.0000/litmine.fixture.1", 2019, "2019")
    assert full.text[60:61] == " " and full.text[173:174] == "\n"  # the title's space, then line breaks
    for rejects in (rejects_xml, rejects_json):
        assert [(r.pmid, r.stage) for r in rejects] == [(None, "parse")]
        assert "(id 'PMC9000199'): its id is not a PMID" in rejects[0].reason


def _fields(article: Article, *leave_out: str) -> dict:
    return {k: getattr(article, k) for k in Article.__slots__ if k not in leave_out}


def test_a_title_and_abstract_is_stored_as_an_abstract_and_a_wider_gap_keeps_its_offsets():
    articles, _ = _split(iter_bioc_xml(XML))
    by_pmid = {a.pmid: a for a in articles}
    abstract = by_pmid["90000013"]
    assert abstract.passages == () and abstract.text == (
        "Aspirin and Reye syndrome. Aspirin use in children with influenza was associated with Reye syndrome.")
    counted_in_bytes = by_pmid["90000012"]  # "naïve" is 2 bytes: the next passages start 1 later
    assert [p.start for p in counted_in_bytes.passages] == [0, 39, 102, 113]
    assert counted_in_bytes.text[100:102] == "\n\n" and counted_in_bytes.text[102:112] == "Discussion"


def test_no_sentence_spans_two_passages():
    articles, _ = _split(iter_bioc_xml(XML))
    for article in (a for a in articles if a.passages):
        sentences = split_article(article)
        assert sentences[0].text == article.title
        for s in sentences:
            assert any(p.start <= s.start and s.end <= p.end for p in article.passages), s


@pytest.mark.parametrize("fmt", ["bioc-xml", "bioc-json"])
def test_litmine_export_reads_back_to_the_same_articles(tmp_path, fmt):
    articles, _ = _split(iter_bioc_json(JSON))
    path = tmp_path / f"out.{fmt}"
    with open(path, "w", encoding="utf-8") as handle:
        write_bioc([(a, []) for a in articles], handle, fmt)
    back, rejects = _split(iter_file_items(path))
    assert rejects == [] and sniff_format(path) == fmt
    keep = ("pmid", "title", "abstract", "passages")
    assert [[getattr(a, k) for k in keep] for a in back] == [[getattr(a, k) for k in keep] for a in articles]


GOOD = _doc("42", (0, "A good title."), (14, "A good abstract."))


@pytest.mark.parametrize("document, pmid, reason", [
    (_doc("7"), "7", "it has no passages"),
    (_doc("abc", (0, "Title.")), None, "(id 'abc'): its id is not a PMID (not a number)"),
    (_doc("PMC123", (0, "Title.", {"article-id_pmc": "123"})), None, "no article-id_pmid infon gives one"),
    (_doc("123", (0, "Title.", {"article-id_pmid": "n/a"})), None,
     "the article-id_pmid infon of its first passage is 'n/a', not a number"),
    (_doc("7", (5, "Title.")), "7", "its first passage starts at offset 5, not 0"),
    (_doc("7", (0, "Title."), (3, "Abstract.")), "7", "passage 2 starts at offset 3, inside passage 1 (0-6)"),
    (_doc("7", (0, "Title."), (6, "Abstract.")), "7", "right where passage 1 ends"),
    (_doc("7", (0, "Title."), (10**9, "Abstract.")), "7", "a wrong offset?"),
    (_doc("7", (0, "Title."), ("x", "Abstract.")), None, "passage 2's offset is 'x', not a number"),
    (_doc("7", (0, "Title."), (None, "Abstract.")), None, "passage 2's offset is missing"),
    (_doc("7", (0, "Title."), (7, 12)), None, "passage 2's text is 12, not a string"),
    (_doc("7", (0, ""), (1, " ")), "7", "its 2 passage(s) hold no text"),
    ({"id": "7", "passages": [{"offset": 0, "text": "Title.", "infons": {}},
        {"offset": 7, "infons": {}, "sentences": [{"offset": 7, "text": "A sentence."}]}]},
     "7", "passage 2 holds sentences but no passage text"),
], ids=["no-passages", "id-not-a-number", "pmc-id-without-pmid", "pmid-infon-not-a-number",
        "first-offset-not-0", "overlap", "no-gap", "huge-gap", "offset-not-a-number", "offset-missing",
        "text-not-a-string", "no-text", "sentences-only"])
def test_a_bad_document_is_a_reject_naming_what_is_wrong_and_the_next_one_is_read(
        tmp_path, document, pmid, reason):
    articles, rejects = _read_json(tmp_path, _collection(document, GOOD))
    assert [a.pmid for a in articles] == ["42"]
    assert len(rejects) == 1 and (rejects[0].pmid, rejects[0].stage) == (pmid, "parse")
    assert reason in rejects[0].reason and "BioC document #1" in rejects[0].reason
    assert rejects[0].reason.endswith("skipped")


def test_a_repeated_pmid_keeps_the_first_document_and_rejects_the_next(tmp_path):
    pmc = _doc("9000042", (0, "Full text title.", {"article-id_pmid": "42"}), (17, "Body."))
    articles, rejects = _read_json(tmp_path, _collection(GOOD, pmc, GOOD))
    assert [a.title for a in articles] == ["A good title."]
    assert [(r.pmid, "appears again" in r.reason) for r in rejects] == [("42", True), ("42", True)]


@pytest.mark.parametrize("shape", ["ncbi-bioc-api-list", "pubtator3-api", "json-lines", "one-document"])
def test_the_json_shapes_bioc_is_served_in_are_read(tmp_path, shape):
    other = _doc("43", (0, "Another title."))
    path = tmp_path / "in.json"
    if shape == "json-lines":
        path.write_text(json.dumps(GOOD) + "\n\n" + json.dumps(_collection(other)) + "\n")
    else:
        value = {"ncbi-bioc-api-list": [_collection(GOOD), _collection(other)],
                 "pubtator3-api": {"PubTator3": [GOOD, other]},
                 "one-document": [GOOD, other]}[shape]
        path.write_text(json.dumps(value))
    articles, rejects = _split(iter_file_items(path))
    assert [a.pmid for a in articles] == ["42", "43"] and rejects == []


def test_malformed_json_is_a_reject_and_a_bad_json_line_costs_only_itself(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"documents": [' + json.dumps(GOOD) + ', {"id": "43", "passages": [}]}')
    articles, rejects = _split(iter_file_items(path))
    assert articles == [] and len(rejects) == 1 and rejects[0].source == str(path)
    assert "malformed JSON at line 1, column" in rejects[0].reason and "no document" in rejects[0].reason
    path.write_text(json.dumps(GOOD) + "\n{\"id\": \"43\", \n" + json.dumps(_doc("44", (0, "T."))) + "\n")
    articles, rejects = _split(iter_file_items(path))
    assert [a.pmid for a in articles] == ["42", "44"]
    assert len(rejects) == 1 and "malformed JSON at line 2" in rejects[0].reason


def test_json_that_is_no_bioc_fails_in_one_line_before_any_document(tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps([_collection(GOOD), {"results": [1, 2]}]))
    with pytest.raises(ParseError, match=r"is JSON but not BioC: in item 2 is an object with keys \['results'\]"):
        list(iter_file_items(path))


def test_malformed_xml_keeps_the_documents_before_it_and_names_the_line(tmp_path):
    text = XML.read_text(encoding="utf-8")
    cut = text.index("<document>", text.index("<document>") + 1)  # break the second document
    path = tmp_path / "broken.xml"
    path.write_text(text[:cut] + "<document><id>5</id><passage><offset>0</offset>"
                    "<text>Cut</passage></document></collection>", encoding="utf-8")
    articles, rejects = _split(iter_file_items(path))
    assert [a.pmid for a in articles] == ["90000011"]
    assert len(rejects) == 1 and "malformed XML at line" in rejects[0].reason
    assert "kept the 1 document(s) before it" in rejects[0].reason


def test_a_cut_gzip_file_keeps_the_documents_before_the_cut(tmp_path):
    data = gzip.compress(XML.read_bytes())
    path = tmp_path / "cut.xml.gz"
    path.write_bytes(data[:len(data) * 2 // 3])
    articles, rejects = _split(iter_bioc_xml(path))
    assert [a.pmid for a in articles] == ["90000011"]
    assert len(rejects) == 1 and "Premature end of data" in rejects[0].reason


def test_an_xml_offset_that_is_not_a_number_is_a_reject_naming_the_line(tmp_path):
    path = tmp_path / "bad.xml"
    path.write_text("<?xml version='1.0'?>\n<!DOCTYPE collection SYSTEM 'BioC.dtd'>\n<collection>"
                    "<source>x</source>\n<document><id>5</id><passage><offset>zero</offset>"
                    "<text>T.</text></passage></document>\n<document><id>6</id><passage>"
                    "<offset>0</offset><text>T.</text></passage></document></collection>")
    articles, rejects = _split(iter_file_items(path))
    assert [a.pmid for a in articles] == ["6"]
    assert rejects[0].reason.startswith("parse: BioC document at line 4 (id '5'): passage 1's offset is 'zero'")


def test_xml_that_is_no_bioc_is_an_error(tmp_path):
    path = tmp_path / "other.xml"
    path.write_text("<root><document><id>5</id></document></root>")
    with pytest.raises(ParseError, match="is XML but not BioC"):
        list(iter_bioc_xml(path))


@pytest.mark.parametrize("head, gzipped, fmt", [
    ((b"<?xml version='1.0'?>\n<!-- <PubmedArticleSet> -->\n<!DOCTYPE collection SYSTEM 'BioC.dtd'>"
      b"<collection><source>PMC</source>"), False, "bioc-xml"),
    (b"<collection>", True, "bioc-xml"),
    ((b'<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle//EN" '
      b'"pubmed_250101.dtd">\n<PubmedArticleSet>'), False, "pubmed-xml"),
    (b'\xef\xbb\xbf {"source": "PMC", "documents": []}', False, "bioc-json"),
    (b'[{"documents": []}]', True, "bioc-json"),
    (b"123|t|A title.\n123|a|An abstract.\n", False, "pubtator"),
], ids=["bioc-xml", "bioc-xml-gz", "pubmed-xml", "bioc-json", "bioc-json-list-gz", "pubtator"])
def test_sniff_format_tells_the_input_formats_apart(tmp_path, head, gzipped, fmt):
    path = tmp_path / "input"
    path.write_bytes(gzip.compress(head) if gzipped else head)
    assert sniff_format(path) == fmt


def test_gzipped_bioc_is_read(tmp_path):
    for source in (XML, JSON):
        path = tmp_path / (source.name + ".gz")
        path.write_bytes(gzip.compress(source.read_bytes()))
        articles, rejects = _split(iter_file_items(path))
        assert [a.pmid for a in articles] == ["90000011", "90000012", "90000013"] and len(rejects) == 1


def test_bioc_objects_from_the_bioc_package_map_the_same_way():
    """`read_bioc_document` takes any BioCDocument (here: bioc's own XML reader)."""
    from litmine.tasks.sources.bioc_reader import read_bioc_document

    with open(XML, encoding="utf-8") as handle:
        documents = biocxml.load(handle).documents
    articles, _ = _split(iter_bioc_xml(XML))
    mapped = [read_bioc_document(d, str(XML)) for d in documents]
    assert mapped[:3] == articles and isinstance(mapped[3], Reject)


def test_entity_annotations_are_read_where_their_text_is(tmp_path, caplog):
    """PubTator3's annotations (type and identifier infons, one location each) become the
    Article's annotations, types mapped as PubTator's are; one with two locations or whose text
    is not the document's at its offset is left out with a warning naming the document."""
    title, abstract = "Aspirin and asthma.", "BRCA1 in mice."
    doc = _doc("123", (0, title, {"type": "title"}),
               (len(title) + 1, abstract, {"type": "abstract"}))
    start = len(title) + 1

    def ann(kind, ident, offset, text, locations=None):
        return {"id": "1", "infons": {"type": kind, "identifier": ident}, "text": text,
                "locations": locations or [{"offset": offset, "length": len(text)}]}

    doc["passages"][0]["annotations"] = [ann("Chemical", "MESH:D001241", 0, "Aspirin"),
                                         ann("Disease", "MESH:D001249", 12, "asthmas")]
    doc["passages"][1]["annotations"] = [
        ann("GeneOrGeneProduct", "672", start, "BRCA1"),
        ann("Species", "10090", start + 9, "mice",
            [{"offset": start + 9, "length": 2}, {"offset": start + 11, "length": 2}])]
    with caplog.at_level("WARNING"):
        articles, rejects = _read_json(tmp_path, _collection(doc))
    assert not rejects
    assert [(m.start, m.text, m.type, m.concept_id) for m in articles[0].annotations] == [
        (0, "Aspirin", "Chemical", "MESH:D001241"), (start, "BRCA1", "Gene", "672")]
    assert "(id '123'): 2 annotations left out" in caplog.text
    from litmine.tasks.sources.annotations import given_id

    assert [given_id(m.type, m.concept_id) for m in articles[0].annotations] == ["D001241", "672"]
