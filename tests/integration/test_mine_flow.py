"""The mine flow over files, as real Prefect flow runs: PubTator input, deletions, bad input."""

from __future__ import annotations

import duckdb
import pytest

from litmine.errors import LitmineError
from litmine.flows.mine import mine
from litmine.tasks.pubtator import iter_pubtator

DELETED_IN_UPDATE = "41456105"  # one of pubmed26n1335.xml.gz's <DeleteCitation> PMIDs


def rows(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_pubtator_input_keeps_text_and_offsets(tmp_path, prefect_harness, tiny_ner_model, fixtures_dir):
    source = fixtures_dir / "sentences" / "bc5cdr_sample.PubTator"
    db = tmp_path / "x.duckdb"
    result = mine(files=[str(source)], db=str(db), model=str(tiny_ner_model), batch_size=7)
    docs = {d.pmid: d for d in iter_pubtator(source)}
    assert result["articles"] == len(docs)
    stored = dict(rows(db, "SELECT pmid, title || ' ' || abstract FROM articles"))
    assert stored == {p: d.text for p, d in docs.items()}
    for pmid, start, end, text in rows(db, "SELECT pmid, start_offset, end_offset, text FROM entities"):
        assert stored[pmid][start:end] == text
    # sentence 0 starts the title; every sentence is the slice it claims to be
    for pmid, index, start, end, text in rows(db, "SELECT pmid, sentence_index, start_offset, end_offset, text FROM sentences"):
        assert stored[pmid][start:end] == text
        if index == 0:
            assert start == 0


def test_update_file_deletes_citations_and_their_rows(tmp_path, prefect_harness, tiny_ner_model, fixtures_dir):
    doc = tmp_path / "doomed.PubTator"
    doc.write_text(f"{DELETED_IN_UPDATE}|t|Cisplatin nephrotoxicity in rats.\n"
                   f"{DELETED_IN_UPDATE}|a|Cisplatin caused acute renal failure.\n\n")
    db = tmp_path / "x.duckdb"
    mine(files=[str(doc)], db=str(db), model=str(tiny_ner_model))
    assert rows(db, "SELECT pmid FROM articles") == [(DELETED_IN_UPDATE,)]
    result = mine(files=[str(fixtures_dir / "pubmed" / "pubmed26n1335.xml.gz")], db=str(db),
                  model=str(tiny_ner_model))
    assert result["deleted"] == 1
    for table in ("articles", "sentences", "entities", "pairs"):
        assert rows(db, f"SELECT count(*) FROM {table} WHERE pmid = '{DELETED_IN_UPDATE}'") == [(0,)]
    assert rows(db, "SELECT count(*) FROM deletions") == [(6,)]
    assert rows(db, "SELECT count(*) FROM articles") == [(30,)]


def test_parameters_are_validated(tmp_path, prefect_harness, tiny_ner_model):
    with pytest.raises(LitmineError, match="exactly one of query or files"):
        mine(db=str(tmp_path / "x.duckdb"), model=str(tiny_ner_model))
    with pytest.raises(LitmineError, match="max_results must be at least 1"):
        mine(files=["x"], max_results=0, db=str(tmp_path / "x.duckdb"), model=str(tiny_ner_model))
    with pytest.raises(LitmineError, match="does not exist"):
        mine(files=[str(tmp_path / "missing.xml")], db=str(tmp_path / "x.duckdb"), model=str(tiny_ner_model))
