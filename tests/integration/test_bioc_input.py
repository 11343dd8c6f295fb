"""BioC XML and BioC JSON through `mine` and `export`: each document is one article whose passages
are stored at their BioC offsets and exported back (BioC XML, BioC JSON, PubTator) passage for
passage, every text and offset as in the input; a document without a PMID is a reject. A real
mine flow run (tiny NER model) into a real DuckDB file, then the real CLI export; the `bioc`
package's own reader is the oracle for what the input holds.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from bioc import biocjson, biocxml

from litmine.flows.mine import mine

FULLTEXT = Path(__file__).resolve().parents[1] / "fixtures" / "fulltext"
XML = FULLTEXT / "pmc_fulltext_sample.bioc.xml"
JSON = FULLTEXT / "pmc_fulltext_sample.bioc.json"


def _given() -> dict[str, list[tuple[int, str, str]]]:
    """PMID -> (offset, text, type) of each passage of the fixture, as `bioc` reads it."""
    with open(XML, encoding="utf-8") as handle:
        documents = biocxml.load(handle).documents
    out = {}
    for d in documents:
        pmid = d.passages[0].infons.get("article-id_pmid") or d.id
        if pmid.isdigit():
            out[pmid] = [(p.offset, p.text, p.infons["type"]) for p in d.passages]
    return out


@pytest.mark.parametrize("source", [XML, JSON], ids=["bioc-xml", "bioc-json"])
def test_bioc_goes_through_mine_and_export_with_every_passage_and_offset(
        tmp_path, prefect_harness, busy_tiny_ner_model, run_litmine, source):
    db = tmp_path / "x.duckdb"
    result = mine(files=[str(source)], db=str(db), model=str(busy_tiny_ner_model), relations=False,
                  batch_size=2, device="cpu")
    assert result["articles"] == 3 and result["rejects"] == 1
    con = duckdb.connect(str(db), read_only=True)
    rejects = con.execute("SELECT pmid, stage, reason FROM rejects").fetchall()
    assert [(pmid, stage) for pmid, stage, _ in rejects] == [(None, "parse")]
    assert "(id 'PMC9000199'): its id is not a PMID" in rejects[0][2]
    assert con.execute("SELECT pmid, count(*) FROM passages GROUP BY pmid ORDER BY pmid").fetchall() == [
        ("90000011", 8), ("90000012", 4)]  # 90000013 is a title and abstract: stored as one
    crossing = con.execute(
        "SELECT s.pmid, s.sentence_index FROM sentences s WHERE s.pmid IN (SELECT pmid FROM passages) "
        "AND NOT EXISTS (SELECT 1 FROM passages p WHERE p.pmid = s.pmid AND p.start_offset <= "
        "s.start_offset AND s.end_offset <= p.end_offset)").fetchall()
    n_entities = con.execute("SELECT count(*) FROM entities").fetchone()[0]
    doi, year = con.execute("SELECT doi, year FROM articles WHERE pmid = '90000011'").fetchone()
    con.close()
    assert crossing == []  # no sentence spans two passages
    assert n_entities > 0 and (doi, year) == ("10.0000/litmine.fixture.1", 2019)
    given = _given()

    for fmt, load in (("bioc-xml", biocxml.loads), ("bioc-json", biocjson.loads)):
        code, exported, err = run_litmine("export", "--db", str(db), "--format", fmt)
        assert code == 0, err
        documents = load(exported).documents
        assert {d.id: [(p.offset, p.text, p.infons["type"]) for p in d.passages] for d in documents} == given
        n_annotations = 0
        for d in documents:
            for p in d.passages:
                for ann in p.annotations:
                    loc = ann.locations[0]
                    assert p.text[loc.offset - p.offset:loc.end - p.offset] == ann.text
                    n_annotations += 1
        assert n_annotations == n_entities

    code, exported, err = run_litmine("export", "--db", str(db), "--format", "pubtator")
    assert code == 0, err
    entries: dict[str, list[tuple[str, str]]] = {}
    n_mentions = 0
    for block in (b for b in exported.split("\n\n") if b.strip()):
        lines = block.split("\n")
        pmid, _, title = lines[0].split("|", 2)
        abstract = lines[1].split("|", 2)[2]
        entries.setdefault(pmid, []).append((title, abstract))
        for line in lines[2:]:
            fields = line.split("\t")
            if len(fields) == 6:  # a mention: offsets relative to its passage's entry
                assert (title + " " + abstract)[int(fields[1]):int(fields[2])] == fields[3]
                n_mentions += 1
    assert n_mentions == n_entities
    assert entries["90000011"] == [(text, "") for _, text, _ in given["90000011"]]  # a passage an entry
    assert entries["90000012"] == [(text, "") for _, text, _ in given["90000012"]]
    assert entries["90000013"] == [(given["90000013"][0][1], given["90000013"][1][1])]
