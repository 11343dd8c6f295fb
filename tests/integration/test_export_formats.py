"""`litmine export` in PubTator, BioC XML and BioC JSON, and `litmine info`'s per-type tables, from a
real DuckDB file holding mentions of all six entity types (one unlinked), bracketed and Greek text
and a CID relation (typed relations too, for `info`). The BioC files are read back with the `bioc`
package."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from bioc import biocjson, biocxml

from litmine.tasks.records import Article, Mention, Pair, Relation, Sentence
from litmine.tasks.sources.pubtator import read_pubtator
from litmine.tasks.store.access import open_store
from litmine.tasks.store.database import Batch
from litmine.tasks.store.query import describe, export_documents, export_pubtator

TITLE = "β-catenin and benzo[a]pyrene in BRAF V600E melanoma."
ABSTRACT = "HeLa cells and mice carrying rs113488022 were exposed to benzo[a]pyrene; TP53 was lost."
#: (text, type, concept ID, occurrence) of the mentions stored for PMID 1; "" = unlinked.
MENTIONS = [
    ("β-catenin", "Gene", "1499", 0),
    ("benzo[a]pyrene", "Chemical", "D001564", 0),
    ("BRAF", "Gene", "673", 0),
    ("V600E", "Variant", "p|SUB|V|600|E", 0),
    ("melanoma", "Disease", "D008545", 0),
    ("HeLa", "CellLine", "CVCL_0030", 0),
    ("mice", "Species", "10090", 0),
    ("rs113488022", "Variant", "rs113488022", 0),
    ("benzo[a]pyrene", "Chemical", "D001564", 1),
    ("TP53", "Gene", "", 0),  # unlinked: no concept ID
]


def find(text: str, needle: str, occurrence: int) -> int:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(needle, start + 1)
    return start


@pytest.fixture
def db(tmp_path) -> Path:
    """A litmine database with one six-type document and one without mentions."""
    article = Article(pmid="1", title=TITLE, abstract=ABSTRACT)
    text = article.text
    mentions = [Mention("1", (s := find(text, t, k)), s + len(t), t, kind, 0.9, 0, concept_id=cid,
                        link_status="exact" if cid else "no-match")
                for t, kind, cid, k in MENTIONS]
    batch = Batch(articles=[article, Article(pmid="2", title="Nothing here.", abstract="")],
                  sentences=[Sentence("1", 0, 0, len(text), text)], mentions=mentions,
                  pairs=[Pair("1", "benzo[a]pyrene", "melanoma", 1, (0,), method="document",
                              chemical_id="D001564", disease_id="D008545", relation="CID", score=0.9)])
    path = tmp_path / "litmine.duckdb"
    with open_store(path) as store:
        store.load_batch(batch, model="tagger[v2]", run_id="r1")
    return path


def test_pubtator_export_writes_ids_of_every_type_and_a_dash_when_unlinked(db):
    out = io.StringIO()
    assert export_pubtator(db, out) == 2
    lines = [line.split("\t") for line in out.getvalue().splitlines() if "\t" in line]
    ids = {(line[3], line[4]): line[5] for line in lines if len(line) == 6}
    assert ids[("β-catenin", "Gene")] == "1499" and ids[("mice", "Species")] == "10090"
    assert ids[("V600E", "Variant")] == "p|SUB|V|600|E" and ids[("HeLa", "CellLine")] == "CVCL_0030"
    assert ids[("TP53", "Gene")] == "-"
    assert ["1", "CID", "D001564", "D008545"] in lines
    docs, _ = read_pubtator(io.StringIO(out.getvalue()))
    assert {m.type for m in docs[0].mentions} == {"Gene", "Chemical", "Disease", "Species", "Variant",
                                                  "CellLine"}
    for m in docs[0].mentions:
        assert docs[0].text[m.start:m.end] == m.text


@pytest.mark.parametrize("fmt, module", [("bioc-xml", biocxml), ("bioc-json", biocjson)])
def test_bioc_export_round_trips_through_the_bioc_package(db, fmt, module):
    out = io.StringIO()
    assert export_documents(db, out, fmt) == 2
    collection = module.loads(out.getvalue())
    assert collection.source == "litmine" and collection.infons["model"] == "tagger[v2]"
    assert [d.id for d in collection.documents] == ["1", "2"]
    doc, empty = collection.documents
    title, abstract = doc.passages
    assert (title.infons["type"], title.offset, title.text) == ("title", 0, TITLE)
    assert (abstract.infons["type"], abstract.offset, abstract.text) == ("abstract", len(TITLE) + 1, ABSTRACT)
    assert [p.infons["type"] for p in empty.passages] == ["title"] and not empty.passages[0].annotations
    text = TITLE + " " + ABSTRACT
    annotations = [a for p in doc.passages for a in p.annotations] + doc.annotations
    assert len(annotations) == len(MENTIONS) and len({a.id for a in annotations}) == len(MENTIONS)
    for passage in doc.passages:  # offsets are document-level and each lies in its passage
        for a in passage.annotations:
            (loc,) = a.locations
            assert text[loc.offset:loc.offset + loc.length] == a.text
            assert passage.offset <= loc.offset and loc.end <= passage.offset + len(passage.text)
    got = {(a.text, a.total_span.offset): (a.infons["type"], a.infons["identifier"]) for a in annotations}
    want = {(t, find(text, t, k)): (kind, cid or "-") for t, kind, cid, k in MENTIONS}
    assert got == want
    assert {a.infons["model"] for a in annotations} == {"tagger[v2]"}
    (relation,) = doc.relations
    assert relation.infons["type"] == "CID"
    assert (relation.infons["Chemical"], relation.infons["Disease"]) == ("D001564", "D008545")
    by_id = {a.id: a for a in annotations}
    nodes = sorted((n.role, by_id[n.refid].text) for n in relation.nodes)
    assert nodes == [("Chemical", "benzo[a]pyrene"), ("Chemical", "benzo[a]pyrene"), ("Disease", "melanoma")]


def test_bioc_xml_keeps_offsets_when_the_text_has_characters_xml_cannot_hold(tmp_path):
    path = tmp_path / "x.duckdb"
    article = Article(pmid="7", title="Aspirin\x0b.", abstract="Asthma.")
    with open_store(path) as store:
        store.load_batch(Batch(articles=[article], mentions=[
            Mention("7", 10, 16, "Asthma", "Disease", concept_id="D001249")]), model="m", run_id="r")
    out = io.StringIO()
    export_documents(path, out, "bioc-xml")
    doc = biocxml.loads(out.getvalue()).documents[0]
    assert doc.passages[0].text == "Aspirin ." and doc.passages[1].offset == 10
    assert doc.passages[1].annotations[0].locations[0].offset == 10


def test_export_command_writes_bioc_json_to_a_file(run_litmine, db, tmp_path):
    target = tmp_path / "out.json"
    code, out, err = run_litmine("export", "--db", str(db), "--format", "bioc-json",
                                  "--out", str(target))
    assert code == 0, err
    assert "wrote 2 documents" in " ".join((out + err).split())
    data = json.loads(target.read_text(encoding="utf-8"))  # plain JSON too, not only bioc's reader
    assert data["documents"][0]["passages"][0]["annotations"][0]["text"] == "β-catenin"
    code, out, _ = run_litmine("export", "--db", str(db), "--format", "bioc-xml")
    assert code == 0 and biocxml.loads(out).documents[0].id == "1"


def test_info_counts_mentions_linked_and_concepts_per_type(run_litmine, db):
    rows = {r["type"]: (r["mentions"], r["linked"], r["concepts"]) for r in describe(db)["types"]}
    assert rows == {"Gene": (3, 2, 2), "Chemical": (2, 2, 1), "Variant": (2, 2, 2), "Disease": (1, 1, 1),
                    "Species": (1, 1, 1), "CellLine": (1, 1, 1)}
    code, out, err = run_litmine("info", "--db", str(db))
    assert code == 0, err
    cells = [[c.strip() for c in line.strip("│┃ ").split("│")] for line in out.splitlines()]
    table = {c[0]: c[1:] for c in cells if len(c) == 4 and c[0] in rows}
    assert table["Gene"] == ["3", "2", "2"] and table["Species"] == ["1", "1", "1"]
    assert "tagger[v2]" in out  # the models line keeps the brackets


def test_info_counts_typed_relations_per_entity_pair_and_type(run_litmine, tmp_path):
    """`litmine info` (and `describe`): typed relations per entity-type pair and relation type,
    how many are novel and in how many documents; each model's apart."""
    def relation(pmid, type1, id1, type2, id2, kind, novel, model):
        return Relation(pmid, type1, id1, id1, type2, id2, id2, kind, novel, 0.9, 0.8,
                        model=model)

    articles = {p: Article(pmid=p, title=f"Title {p}.", abstract="Abstract.") for p in "123"}
    rows = [relation("1", "Chemical", "D001564", "Disease", "D008545", "Positive_Correlation",
                     "Novel", "typed"),
            relation("2", "Chemical", "D001564", "Disease", "D008545", "Positive_Correlation",
                     "No", "typed"),
            relation("2", "Disease", "D008545", "Gene", "673", "Association", "Novel", "typed"),
            relation("3", "Disease", "D008545", "Variant", "rs113488022", "Positive_Correlation",
                     "Novel", "given")]
    path = tmp_path / "relations.duckdb"
    with open_store(path) as store:
        store.load_batch(Batch(articles=[articles["1"], articles["2"]], relations=rows[:3]),
                         model="tagger", run_id="r1")
        store.load_batch(Batch(articles=[articles["3"]], relations=rows[3:]), model="given",
                         run_id="r2")
    counts = [(r["model"], r["entities"], r["relation"], r["relations"], r["novel"], r["documents"])
              for r in describe(path)["relation_types"]]
    assert counts == [("tagger", "Chemical-Disease", "Positive_Correlation", 2, 1, 2),
                      ("tagger", "Disease-Gene", "Association", 1, 1, 1),
                      ("given", "Disease-Variant", "Positive_Correlation", 1, 1, 1)]
    code, out, err = run_litmine("info", "--db", str(path))
    assert code == 0, err
    assert "typed relations per type" in out
    rows = [line.split() for line in out.splitlines()]
    assert ["tagger", "Chemical-Disease", "Positive_Correlation", "2", "1", "2"] in rows
    assert ["given", "Disease-Variant", "Positive_Correlation", "1", "1", "1"] in rows
