import duckdb
import pytest

from litmine.errors import StoreError
from litmine.tasks.records import Article, Author, Deletion, Mention, Pair, Reject, Sentence
from litmine.tasks.store.database import Batch
from litmine.tasks.store.access import open_store
from litmine.tasks.store.schema import SCHEMA_VERSION


def batch_for(pmid: str, title="Cisplatin nephrotoxicity.", version=1) -> Batch:
    article = Article(pmid=pmid, title=title, abstract="Rats got cisplatin.", version=version,
                      authors=(Author(last_name="Smith", fore_name="Jane"),),
                      publication_types=("Journal Article",))
    text = article.text
    return Batch(
        articles=[article],
        sentences=[Sentence(pmid, 0, 0, len(title), title),
                   Sentence(pmid, 1, len(title) + 1, len(text), article.abstract)],
        mentions=[Mention(pmid, 0, 9, "Cisplatin", "Chemical", 0.9, 0),
                  Mention(pmid, 10, 24, "nephrotoxicity", "Disease", 0.8, 0),
                  Mention(pmid, 10, 24, "nephrotoxicity", "Disease", 0.8, 0)],  # duplicate in input
        pairs=[Pair(pmid, "cisplatin", "nephrotoxicity", 1, (0,))],
        rejects=[Reject(source="f.xml", reason="no PMID")],
    )


def table_rows(store, name):
    return store.con.execute(f"SELECT * EXCLUDE (run_id) FROM {name} ORDER BY ALL").fetchall()


def test_load_is_idempotent_and_keeps_other_models(tmp_path):
    with open_store(tmp_path / "x.duckdb") as store:
        run = store.begin_run("mine", {"files": ["f.xml"]}, model="m1")
        written = store.load_batch(batch_for("1"), model="m1", run_id=run)
        assert written == {"articles": 1, "sentences": 2, "entities": 2, "pairs": 1, "rejects": 1,
                           "abbreviations": 0, "typed_relations": 0,
                           "passages": 0}
        store.load_batch(batch_for("1"), model="m2", run_id=run)
        first = {n: store.con.execute(f"SELECT count(*) FROM {n}").fetchone()[0]
                 for n in ("articles", "sentences", "entities", "pairs")}
        assert first == {"articles": 1, "sentences": 2, "entities": 4, "pairs": 2}
        snapshot = {n: table_rows(store, n) for n in ("articles", "sentences", "entities", "pairs")}
        store.load_batch(batch_for("1"), model="m1", run_id="second")
        again = {n: table_rows(store, n) for n in ("articles", "sentences", "entities", "pairs")}
        # loaded_at changes; everything else is identical
        assert [r[:-1] for r in again["articles"]] == [r[:-1] for r in snapshot["articles"]]
        for name in ("sentences", "entities", "pairs"):
            assert again[name] == snapshot[name]
        assert store.con.execute("SELECT DISTINCT run_id FROM entities WHERE model='m1'").fetchall() == [("second",)]


def test_revised_record_replaces_old_one_and_highest_version_wins(tmp_path):
    with open_store(tmp_path / "x.duckdb") as store:
        store.load_batch(batch_for("1", title="Old title."), model="m", run_id="r1")
        both = batch_for("1", title="Version two.", version=2)
        both.articles.append(Article(pmid="1", title="Version one again.", version=1))
        store.load_batch(both, model="m", run_id="r2")
        assert store.con.execute("SELECT title, version FROM articles").fetchall() == [("Version two.", 2)]


def test_deletion_removes_article_and_derived_rows(tmp_path):
    with open_store(tmp_path / "x.duckdb") as store:
        store.load_batch(batch_for("1"), model="m", run_id="r")
        store.load_batch(batch_for("2"), model="m", run_id="r")
        assert store.apply_deletion(Deletion(pmids=("1", "99")), run_id="r") == 1
        counts = store.counts()
        assert counts["articles"] == 1 and counts["deletions"] == 2
        for name in ("articles", "sentences", "entities", "pairs"):
            assert store.con.execute(f"SELECT DISTINCT pmid FROM {name}").fetchall() == [("2",)]


def test_failed_load_rolls_back(tmp_path):
    with open_store(tmp_path / "x.duckdb") as store:
        store.load_batch(batch_for("1"), model="m", run_id="r")
        # Make the last insert of the transaction fail (pairs gets a column the batch lacks).
        store.con.execute("ALTER TABLE pairs ADD COLUMN extra INTEGER")
        with pytest.raises(duckdb.Error):
            store.load_batch(batch_for("1", title="New title."), model="m", run_id="r2")
        assert store.con.execute("SELECT title, run_id FROM articles").fetchall() == [
            ("Cisplatin nephrotoxicity.", "r")]
        assert store.counts()["entities"] == 2
        assert store.counts()["rejects"] == 1


def test_second_writer_gets_a_clear_error(tmp_path):
    import subprocess
    import sys
    path = tmp_path / "x.duckdb"
    open_store(path).close()
    holder = subprocess.Popen([sys.executable, "-c",
                               f"import duckdb,time; c=duckdb.connect({str(path)!r}); print('ok', flush=True); time.sleep(30)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(StoreError, match="another process"):
            open_store(path)
    finally:
        holder.kill()
        holder.wait()


def test_schema_version_recorded_and_newer_refused(tmp_path):
    path = tmp_path / "x.duckdb"
    open_store(path).close()
    con = duckdb.connect(str(path))
    assert con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (str(SCHEMA_VERSION),)
    con.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    con.close()
    with pytest.raises(StoreError, match="newer"):
        open_store(path)


#: The schema of litmine's first release (version 1), to test the upgrade of an existing file.
V1_SCHEMA = """
CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE runs (run_id VARCHAR PRIMARY KEY, flow VARCHAR, status VARCHAR,
    started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, parameters JSON, model VARCHAR, counts JSON,
    timings JSON, error VARCHAR);
CREATE TABLE articles (pmid VARCHAR PRIMARY KEY, version INTEGER, title VARCHAR, abstract VARCHAR,
    journal VARCHAR, pub_date VARCHAR, year INTEGER, doi VARCHAR, publication_types VARCHAR[],
    mesh_headings VARCHAR[], language VARCHAR, authors VARCHAR[], source VARCHAR, run_id VARCHAR,
    loaded_at TIMESTAMPTZ);
CREATE TABLE sentences (pmid VARCHAR, sentence_index INTEGER, start_offset INTEGER,
    end_offset INTEGER, text VARCHAR, run_id VARCHAR);
CREATE TABLE entities (pmid VARCHAR, model VARCHAR, start_offset INTEGER, end_offset INTEGER,
    text VARCHAR, type VARCHAR, score DOUBLE, sentence_index INTEGER, concept_id VARCHAR, run_id VARCHAR);
CREATE TABLE pairs (pmid VARCHAR, model VARCHAR, method VARCHAR, chemical VARCHAR, disease VARCHAR,
    n_sentences INTEGER, sentence_indexes INTEGER[], run_id VARCHAR);
CREATE TABLE rejects (source VARCHAR, pmid VARCHAR, reason VARCHAR, run_id VARCHAR, rejected_at TIMESTAMPTZ);
CREATE TABLE deletions (pmid VARCHAR PRIMARY KEY, source VARCHAR, run_id VARCHAR, deleted_at TIMESTAMPTZ);
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO pairs VALUES ('7', 'm', 'cooccurrence', 'lithium', 'tremor', 1, [0], 'old');
"""


def test_a_version_1_file_is_upgraded_in_place_keeping_its_rows(tmp_path):
    path = tmp_path / "v1.duckdb"
    con = duckdb.connect(str(path))
    con.execute(V1_SCHEMA)
    con.close()
    with open_store(path) as store:
        assert store.con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (str(SCHEMA_VERSION),)
        assert store.con.execute("SELECT chemical, relation, evidence FROM pairs").fetchall() == [
            ("lithium", None, None)]
        store.load_batch(batch_for("1"), model="m", run_id="new")
        assert store.counts()["pairs"] == 2
        assert store.con.execute("SELECT count(*) FROM abbreviations").fetchone() == (0,)
    with open_store(path) as store:  # opening again changes nothing
        assert store.counts()["pairs"] == 2


def test_cid_pairs_keep_ids_scores_and_evidence_beside_cooccurrence(tmp_path):
    from litmine.tasks.text.abbreviations import Abbreviation

    batch = batch_for("1")
    batch.pairs.append(Pair("1", "cisplatin", "nephrotoxicity", 1, (0,), method="cid-linear",
                            chemical_id="D002945", disease_id="D007674", relation="CID", score=0.91,
                            evidence=("Cisplatin nephrotoxicity.",)))
    batch.abbreviations = [Abbreviation(pmid="1", short="CP", long="cisplatin", short_start=40,
                                        short_end=42, long_start=29, long_end=38),
                           Abbreviation(pmid="9", short="X", long="not in batch", short_start=0,
                                        short_end=1, long_start=3, long_end=9)]
    with open_store(tmp_path / "x.duckdb") as store:
        store.load_batch(batch, model="m", run_id="r")
        store.load_batch(batch, model="m", run_id="r2")  # idempotent
        assert store.con.execute(
            "SELECT method, chemical_id, disease_id, relation, score, evidence FROM pairs "
            "ORDER BY method").fetchall() == [
            ("cid-linear", "D002945", "D007674", "CID", 0.91, ["Cisplatin nephrotoxicity."]),
            ("cooccurrence", None, None, None, None, None)]
        assert store.con.execute("SELECT pmid, short, long, run_id FROM abbreviations").fetchall() == [
            ("1", "CP", "cisplatin", "r2")]
        store.apply_deletion(Deletion(pmids=("1",)), run_id="d")
        assert store.counts()["pairs"] == 0
        assert store.con.execute("SELECT count(*) FROM abbreviations").fetchone() == (0,)


def test_text_derived_rows_go_when_the_text_changes_or_the_article_is_deleted(tmp_path):
    with open_store(tmp_path / "x.duckdb") as store:
        store.load_batch(batch_for("1"), model="m", run_id="r")
        store.load_batch(batch_for("2"), model="m", run_id="r")
        store.con.execute("CREATE TABLE embeddings_4 (pmid VARCHAR, level VARCHAR, sentence_index "
                          "INTEGER, model VARCHAR, text_md5 VARCHAR, vector FLOAT[4], run_id VARCHAR)")
        for pmid in ("1", "2"):
            store.con.execute("INSERT INTO classifications VALUES (?, 'c', 'zero-shot', 'review', 0.5, 'r')", [pmid])
            store.con.execute("INSERT INTO embeddings_4 VALUES (?, 'abstract', NULL, 'e', '', [1,0,0,0], 'r')", [pmid])

        def pmids(table):
            return [r[0] for r in store.con.execute(f"SELECT pmid FROM {table} ORDER BY 1").fetchall()]

        store.load_batch(batch_for("1"), model="m", run_id="same-text")  # same text: rows kept
        assert pmids("classifications") == pmids("embeddings_4") == ["1", "2"]
        store.load_batch(batch_for("1", title="Revised title.", version=2), model="m", run_id="rev")
        assert pmids("classifications") == pmids("embeddings_4") == ["2"]
        store.apply_deletion(Deletion(pmids=("2",)), run_id="d")
        assert pmids("classifications") == pmids("embeddings_4") == []


def test_no_id_is_stored_as_null_with_why(tmp_path):
    """Entities without an ID hold NULL, as pairs do, and link_status says why."""
    batch = batch_for("1")
    batch.mentions = [Mention("1", 0, 9, "Cisplatin", "Chemical", 0.9, 0, "D002945", "exact"),
                      Mention("1", 10, 24, "nephrotoxicity", "Disease", 0.8, 0, "", "below-threshold"),
                      Mention("1", 29, 33, "Rats", "Species", 0.8, 1)]  # no linker looked at it
    with open_store(tmp_path / "x.duckdb") as store:
        store.load_batch(batch, model="m", run_id="r")
        assert store.con.execute("SELECT text, concept_id, link_status FROM entities "
                                 "ORDER BY start_offset").fetchall() == [
            ("Cisplatin", "D002945", "exact"), ("nephrotoxicity", None, "below-threshold"),
            ("Rats", None, "not-run")]
