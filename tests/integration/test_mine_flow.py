"""The mine flow over files, as real Prefect flow runs: PubTator input, deletions, bad input."""

from __future__ import annotations

import duckdb
import pytest

from litmine.errors import LitmineError
from litmine.flows.mine import mine
from litmine.tasks.sources.pubtator import iter_pubtator

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
    # mine's last step: the keyword index holds exactly the stored articles
    assert rows(db, "SELECT count(*) FROM keyword_documents d JOIN articles a USING (pmid, "
                    "loaded_at)") == [(30,)]
    assert rows(db, "SELECT count(*) FROM keyword_documents") == [(30,)]
    assert rows(db, f"SELECT count(*) FROM keyword_postings WHERE pmid = '{DELETED_IN_UPDATE}'") == [(0,)]


def test_parameters_are_validated(tmp_path, prefect_harness, tiny_ner_model):
    with pytest.raises(LitmineError, match="exactly one of query or files"):
        mine(db=str(tmp_path / "x.duckdb"), model=str(tiny_ner_model))
    with pytest.raises(LitmineError, match="max_results must be at least 1"):
        mine(files=["x"], max_results=0, db=str(tmp_path / "x.duckdb"), model=str(tiny_ner_model))
    with pytest.raises(LitmineError, match="does not exist"):
        mine(files=[str(tmp_path / "missing.xml")], db=str(tmp_path / "x.duckdb"), model=str(tiny_ner_model))


def test_mine_links_mesh_ids_and_scores_cid_relations_by_default(tmp_path, prefect_harness, fixtures_dir):
    """The shipped NER model, lexicon and CID model on six BC5CDR development abstracts (their
    PMIDs were excluded from the lexicon and from training), then `export` and the CDR scorer."""
    import io

    from litmine.settings import get_settings
    from litmine.tasks.sources.pubtator import read_pubtator
    from litmine.tasks.store.query import export_pubtator
    from litmine.tasks.relations.evaluation import score_relations

    gold_file = fixtures_dir / "corpora" / "bc5cdr_dev_sample.pubtator"
    db = tmp_path / "x.duckdb"
    result = mine(files=[str(gold_file)], db=str(db), device="cpu")
    assert result["relations"] == rows(db, "SELECT count(*) FROM pairs WHERE relation = 'CID'")[0][0] > 0
    # "no ID" is NULL (as in pairs), never '': IS NOT NULL counts exactly the linked mentions,
    # and link_status says how each was linked or why not
    assert result["linked"] == rows(db, "SELECT count(*) FILTER (WHERE concept_id IS NOT NULL) "
                                        "FROM entities")[0][0] > 0
    assert rows(db, "SELECT count(*) FROM entities WHERE concept_id = '' OR link_status IS NULL") == [(0,)]
    statuses = dict(rows(db, "SELECT concept_id IS NOT NULL, list(DISTINCT link_status) FROM entities "
                             "WHERE type IN ('Chemical', 'Disease') GROUP BY 1"))
    assert set(statuses[True]) <= {"exact", "normalised", "composite", "rewritten", "fuzzy",
                                  "abbreviation"}
    assert statuses[False] and set(statuses[False]) <= {"no-match", "below-threshold", "empty"}
    assert set(statuses[True]) & {"exact", "normalised"}
    texts = dict(rows(db, "SELECT pmid, title || ' ' || abstract FROM articles"))
    scored = rows(db, "SELECT pmid, chemical_id, disease_id, evidence, relation, n_sentences "
                      "FROM pairs WHERE method <> 'cooccurrence'")
    for pmid, chem, dis, evidence, relation, n_sentences in scored:
        # every candidate is scored; one without a sentence (pair) mentioning both has no
        # evidence and is judged on document features alone (the linear model)
        assert chem and dis and len(evidence) <= 3 and relation in ("CID", "none")
        assert bool(evidence) == (n_sentences > 0)
        # every scored pair's IDs are IDs of that document's entities; evidence is its text
        ids = {i for (c,) in rows(db, f"SELECT concept_id FROM entities WHERE pmid = '{pmid}' "
                                      "AND concept_id IS NOT NULL") for i in c.split("|")}
        assert {chem, dis} <= ids
        for sentence in evidence:
            plain = sentence.replace("@", "").replace("#", "")
            assert len(plain) > 10
    for pmid, short, long_, s0, s1, l0, l1 in rows(db, "SELECT * EXCLUDE (run_id) FROM abbreviations"):
        assert texts[pmid][s0:s1] == short and texts[pmid][l0:l1] == long_
    assert rows(db, "SELECT json_extract_string(parameters, '$.relation_model') FROM runs")[0][0].endswith(
        "litmine-cid-bc5cdr")

    out = io.StringIO()
    export_pubtator(db, out, model=get_settings().model)
    exported, _ = read_pubtator(io.StringIO(out.getvalue()))
    gold, _ = read_pubtator(gold_file)
    predicted = [(d.pmid, a, b) for d in exported for t, a, b in d.relations if t == "CID"]
    assert len(predicted) == result["relations"]
    scores = score_relations(gold, predicted).per_type["CID"]
    assert scores.tp >= 3, scores  # the known relations it finds in these six abstracts
    linked = [m for d in exported for m in d.mentions if m.concept_id not in ("", "-")]
    assert len(linked) == result["linked"]

    # `evaluate` through the pipeline and `evaluate --predicted` on mine's export agree exactly
    from litmine.flows.evaluate import evaluate

    exported_file = tmp_path / "exported.pubtator"
    exported_file.write_text(out.getvalue(), encoding="utf-8")
    direct = evaluate(gold=[str(gold_file)], model=get_settings().model, device="cpu",
                      relations=True, show=False)
    via_export = evaluate(gold=[str(gold_file)], predicted=[str(exported_file)],
                          types=["Chemical", "Disease"], relations=True, show=False)
    assert direct["micro"] == via_export["micro"] and direct["per_type"] == via_export["per_type"]
    for level in ("concepts", "cid"):
        assert (direct["relations"]["end_to_end"][level]["per_type"]
                == via_export["relations"]["predicted_files"][level]["per_type"])
    assert via_export["relations"]["predicted_files"]["cid"]["per_type"]["CID"]["tp"] == scores.tp
    assert (via_export["relations"]["predicted_files"]["cid_reach"]
            == direct["relations"]["end_to_end"]["cid_reach"])

    # --no-relations: the same PMIDs' rows are replaced by NER mentions and co-occurrence only
    again = mine(files=[str(gold_file)], db=str(db), device="cpu", relations=False)
    assert "relations" not in again
    assert rows(db, "SELECT DISTINCT method FROM pairs") == [("cooccurrence",)]
    assert rows(db, "SELECT DISTINCT concept_id, link_status FROM entities") == [(None, "not-run")]
    assert rows(db, "SELECT count(*) FROM abbreviations") == [(0,)]  # found by the relation step


def test_a_missing_lexicon_or_relation_model_is_named(tmp_path, prefect_harness, tiny_ner_model, fixtures_dir):
    source = [str(fixtures_dir / "sentences" / "hard_mentions.PubTator")]
    with pytest.raises(LitmineError, match="MeSH lexicon .*nowhere.tsv.gz not found.*--no-relations"):
        mine(files=source, db=str(tmp_path / "x.duckdb"), model=str(tiny_ner_model),
             lexicon=str(tmp_path / "nowhere.tsv.gz"))
    with pytest.raises(LitmineError, match="CID relation model .* not found .*train-relations"):
        mine(files=source, db=str(tmp_path / "x.duckdb"), model=str(tiny_ner_model),
             relation_model=str(tmp_path))
