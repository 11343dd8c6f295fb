import duckdb
import pytest

from litmine.errors import StoreError
from litmine.tasks.records import Article, Author, Deletion, Mention, Pair, Reject, Sentence
from litmine.tasks.store import Batch, Store


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
    with Store(tmp_path / "x.duckdb") as store:
        run = store.begin_run("mine", {"files": ["f.xml"]}, model="m1")
        written = store.load_batch(batch_for("1"), model="m1", run_id=run)
        assert written == {"articles": 1, "sentences": 2, "entities": 2, "pairs": 1, "rejects": 1}
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
    with Store(tmp_path / "x.duckdb") as store:
        store.load_batch(batch_for("1", title="Old title."), model="m", run_id="r1")
        both = batch_for("1", title="Version two.", version=2)
        both.articles.append(Article(pmid="1", title="Version one again.", version=1))
        store.load_batch(both, model="m", run_id="r2")
        assert store.con.execute("SELECT title, version FROM articles").fetchall() == [("Version two.", 2)]


def test_deletion_removes_article_and_derived_rows(tmp_path):
    with Store(tmp_path / "x.duckdb") as store:
        store.load_batch(batch_for("1"), model="m", run_id="r")
        store.load_batch(batch_for("2"), model="m", run_id="r")
        assert store.apply_deletion(Deletion(pmids=("1", "99")), run_id="r") == 1
        counts = store.counts()
        assert counts["articles"] == 1 and counts["deletions"] == 2
        for name in ("articles", "sentences", "entities", "pairs"):
            assert store.con.execute(f"SELECT DISTINCT pmid FROM {name}").fetchall() == [("2",)]


def test_failed_load_rolls_back(tmp_path):
    with Store(tmp_path / "x.duckdb") as store:
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
    Store(path).close()
    holder = subprocess.Popen([sys.executable, "-c",
                               f"import duckdb,time; c=duckdb.connect({str(path)!r}); print('ok', flush=True); time.sleep(30)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(StoreError, match="another process"):
            Store(path)
    finally:
        holder.kill()
        holder.wait()


def test_schema_version_recorded_and_newer_refused(tmp_path):
    path = tmp_path / "x.duckdb"
    Store(path).close()
    con = duckdb.connect(str(path))
    assert con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("1",)
    con.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    con.close()
    with pytest.raises(StoreError, match="newer"):
        Store(path)
