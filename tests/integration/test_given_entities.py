"""`litmine mine --entities given`: the input's own entity annotations (PubTator or BioC) stored
and related instead of NER's, with the shipped NER model (its pass feeds the relation head),
relation head, pair typer and lexicon, in real DuckDB files through real flow runs."""

from __future__ import annotations

import io
import json
from pathlib import Path

import duckdb
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DEV = FIXTURES / "corpora" / "biored_relations_dev.pubtator"
PUBMED_XML = FIXTURES / "pubmed" / "pubmed_28775130.xml"
ENTITY_ROWS = ("SELECT pmid, start_offset, end_offset, text, type, coalesce(concept_id, ''), "
               "link_status FROM entities WHERE model = 'given' ORDER BY ALL")
RELATION_ROWS = ("SELECT pmid, id1, id2, relation, novel, score FROM relations "
                 "WHERE model = 'given' ORDER BY ALL")


def _rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def given_db(tmp_path_factory, prefect_harness):
    from litmine.flows.mine import mine

    db = tmp_path_factory.mktemp("given") / "given.duckdb"
    return db, mine(files=[str(DEV)], db=str(db), device="cpu", entities="given")


def test_the_files_annotations_are_stored_with_their_ids(given_db):
    from litmine.tasks.relations.typed_gold import canonical_mentions
    from litmine.tasks.sources.annotations import given_id
    from litmine.tasks.sources.pubtator import read_pubtator

    db, result = given_db
    docs = read_pubtator(DEV)[0]
    gold = sorted((m.pmid, m.start, m.end, m.text, m.type, given_id(m.type, m.concept_id),
                   "given" if m.concept_id else "given-none")
                  for d in docs for m in canonical_mentions(d))
    assert _rows(db, ENTITY_ROWS) == gold
    assert result["model"] == "given" and result["given_entities"] == len(gold)
    assert result["entities"] == len(gold) and result["typed_relations"] > 0
    with duckdb.connect(str(db), read_only=True) as con:
        parameters, model = con.execute("SELECT parameters, model FROM runs").fetchone()
        sentence_of = con.execute(
            "SELECT count(*) FROM entities e JOIN sentences s USING (pmid, sentence_index) "
            "WHERE e.start_offset >= s.start_offset AND e.start_offset < s.end_offset").fetchone()
    assert model == "given" and json.loads(parameters)["entities"] == "given"
    assert sentence_of[0] == len(gold)  # every mention in the sentence it starts in


def test_relations_are_those_of_the_model_on_the_gold_entities_at_its_given_threshold(given_db):
    """What `evaluate --relations` scores as "gold_ids" is what this mode stores."""
    from litmine.settings import DEFAULT_TYPED_RELATION_MODEL
    from litmine.tasks.relations.registry import load_typed_model
    from litmine.tasks.relations.typed_gold import canonical_mentions
    from litmine.tasks.sources.pubtator import read_pubtator

    db, _ = given_db
    typed = load_typed_model(DEFAULT_TYPED_RELATION_MODEL, device="cpu")
    assert typed.given_threshold != typed.threshold  # the shipped typer has both
    stored = {(p, a, b, r, n) for p, a, b, r, n, _ in _rows(db, RELATION_ROWS)}
    expected = set()
    for doc in read_pubtator(DEV)[0]:
        for r in typed.predict_document(doc.text, canonical_mentions(doc),
                                        typed.given_threshold, title_length=len(doc.title)):
            expected.add((doc.pmid, r.first[1], r.second[1], r.relation, r.novel))
    assert stored == expected and stored
    assert all(s >= typed.given_threshold - 1e-4 for *_, s in _rows(db, RELATION_ROWS))


def test_a_rerun_replaces_the_given_rows_and_a_tagged_run_keeps_its_own(given_db, tmp_path,
                                                                        prefect_harness):
    import shutil

    from litmine.flows.mine import mine

    db = tmp_path / "both.duckdb"
    shutil.copy(given_db[0], db)
    entities, relations = _rows(db, ENTITY_ROWS), _rows(db, RELATION_ROWS)
    mine(files=[str(DEV)], db=str(db), device="cpu", entities="given")
    assert _rows(db, ENTITY_ROWS) == entities and _rows(db, RELATION_ROWS) == relations
    tagged = mine(files=[str(DEV)], db=str(db), device="cpu")
    assert tagged["model"] != "given"
    assert _rows(db, ENTITY_ROWS) == entities and _rows(db, RELATION_ROWS) == relations
    models = dict(_rows(db, "SELECT model, count(*) FROM entities GROUP BY model"))
    assert models == {"given": len(entities), tagged["model"]: tagged["entities"]}


def test_bioc_annotations_are_read_as_pubtator_ones(given_db, tmp_path, prefect_harness):
    """litmine's BioC export of the given rows, mined again as given: the same entities and
    relations (BioC XML and JSON)."""
    from litmine.flows.mine import mine
    from litmine.tasks.store.query import export_documents

    db, _ = given_db
    for fmt, name in (("bioc-xml", "given.xml"), ("bioc-json", "given.json")):
        path = tmp_path / name
        with open(path, "w", encoding="utf-8") as handle:
            export_documents(db, handle, fmt, model="given")
        again = tmp_path / f"{fmt}.duckdb"
        mine(files=[str(path)], db=str(again), device="cpu", entities="given")
        assert _rows(again, ENTITY_ROWS) == _rows(db, ENTITY_ROWS)
        assert _rows(again, RELATION_ROWS) == _rows(db, RELATION_ROWS)


def test_mentions_without_ids_are_linked_by_the_lexicon(tmp_path, prefect_harness):
    """A PubTator file of mentions only (no ID column): the lexicon links them, and pairs are
    kept at the threshold for NER's mentions."""
    from litmine.flows.mine import mine

    lines = []
    for line in DEV.read_text().splitlines():
        parts = line.split("\t")
        if len(parts) == 6:
            lines.append("\t".join(parts[:5]))
        elif len(parts) != 5:  # relation lines go too
            lines.append(line)
    bare = tmp_path / "bare.pubtator"
    bare.write_text("\n".join(lines) + "\n")
    db = tmp_path / "bare.duckdb"
    mine(files=[str(bare)], db=str(db), device="cpu", entities="given")
    statuses = dict(_rows(db, "SELECT link_status, count(*) FROM entities GROUP BY ALL"))
    assert "given" not in statuses and "given-none" not in statuses
    assert statuses.get("exact", 0) > 0
    assert _rows(db, "SELECT count(*) FROM entities WHERE concept_id IS NOT NULL")[0][0] > 0


def test_documents_without_annotations_are_counted_and_warned_of(tmp_path, prefect_harness,
                                                                 caplog, capfd):
    from litmine.flows.mine import mine

    first = DEV.read_text().split("\n\n")[0].splitlines()
    bare = tmp_path / "one-bare.pubtator"
    bare.write_text("\n".join(first[:2]) + "\n\n" + DEV.read_text().split("\n\n", 1)[1])
    with caplog.at_level("WARNING"):
        result = mine(files=[str(bare)], db=str(tmp_path / "bare.duckdb"), device="cpu",
                      entities="given")
    assert result["given_unannotated"] == 1 and result["articles"] == 4
    # Prefect's run logger prints to the console and, once configured, to the root logger
    shown = caplog.text + "".join(capfd.readouterr())
    assert "1 document carried no entity annotations, so it is stored with no entities" in shown
    pmid = first[0].split("|")[0]
    assert _rows(tmp_path / "bare.duckdb",
                 f"SELECT count(*) FROM entities WHERE pmid = '{pmid}'") == [(0,)]


def test_without_relations_ner_does_not_run(given_db, tmp_path, prefect_harness):
    """No relation head reads NER's pass: the given mentions are stored as with relations,
    and the NER model never runs (its stage timings stay 0)."""
    from litmine.flows.mine import mine

    db = tmp_path / "no-relations.duckdb"
    result = mine(files=[str(DEV)], db=str(db), device="cpu", entities="given", relations=False)
    assert result["entities"] == given_db[1]["entities"]
    spans = "SELECT pmid, start_offset, end_offset, type FROM entities ORDER BY ALL"
    assert _rows(db, spans) == _rows(given_db[0], spans)
    timings = json.loads(_rows(db, "SELECT timings FROM runs")[0][0])
    assert timings["ner_model"] == 0 and timings["ner_tokenise"] == 0


@pytest.mark.parametrize("kwargs, message", [
    ({"query": "aspirin", "entities": "given"}, "--entities given reads the entity annotations "
                                                "of input files.*give --files"),
    ({"files": [str(PUBMED_XML)], "entities": "given"}, "pubmed_28775130.xml is PubMed XML, "
                                                        "which has none"),
    ({"files": [str(DEV)], "entities": "found"}, "entities must be one of tagged, given, "
                                                 "got 'found'"),
])
def test_given_entities_need_annotated_files(kwargs, message, tmp_path, prefect_harness):
    from litmine.errors import LitmineError
    from litmine.flows.mine import mine

    with pytest.raises(LitmineError, match=message):
        mine(db=str(tmp_path / "x.duckdb"), device="cpu", **kwargs)
    assert not (tmp_path / "x.duckdb").exists()


def test_the_cli_takes_entities_given(run_litmine, tmp_path, prefect_harness):
    db = tmp_path / "cli.duckdb"
    code, out, err = run_litmine("mine", "--files", str(DEV), "--entities", "given", "--db",
                                 str(db), "--no-progress", "--device", "cpu")
    assert code == 0, err
    assert "typed_relations" in out and "given_entities" in out and "given_unannotated" in out
    assert _rows(db, "SELECT DISTINCT model FROM entities") == [("given",)]
    code, out, err = run_litmine("mine", "--files", str(DEV), "--entities", "gold", "--db",
                                 str(db))
    assert code != 0 and "'gold' is not one of 'tagged', 'given'" in (out + err)


def test_the_readme_example_gives_the_rows_it_shows(tmp_path, run_litmine, prefect_harness):
    """README, "Relations over your own entities": its mine command on the shipped BC5CDR
    sample, then its SQL, answer the rows the README prints."""
    import re
    import shlex

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Relations over your own entities", 1)[1]
    block = re.search(r"```console\n(.*?)\n```", section, re.S).group(1)
    commands = [shlex.split(line[2:]) for line in block.splitlines() if line.startswith("$ ")]
    shown = [tuple(cell.strip() for cell in line.strip("│").split("│"))
             for line in block.splitlines() if line.startswith("│")]
    mine_args, sql_args = (args[1:] for args in commands)  # without ".venv/bin/litmine"
    assert mine_args[0] == "mine" and "--entities" in mine_args and sql_args[0] == "sql"
    db = tmp_path / "given.duckdb"
    mine_args = [str(root / a) if a.startswith("data/") else a for a in mine_args]
    mine_args[mine_args.index("--db") + 1] = str(db)
    code, out, err = run_litmine(*mine_args, "--device", "cpu")
    assert code == 0, err
    sql_args[sql_args.index("--db") + 1] = str(db)
    code, out, err = run_litmine(*sql_args, "--format", "csv")
    assert code == 0, err
    rows = [tuple(row.split(",")) for row in out.strip().splitlines()[1:]]
    assert rows == shown and len(shown) == 4
