"""Keyword search (BM25 index in the store file), reciprocal rank fusion, and the search modes:
real DuckDB files under tmp_path, articles loaded the way `mine` loads them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from litmine.errors import LitmineError
from litmine.tasks.records import Article, Deletion, Hit
from litmine.tasks.semantic.fusion import fuse_hits, fuse_ranks
from litmine.tasks.semantic.keywords import (keyword_index_lag, query_terms, search_keywords,
                                             sync_keyword_index)
from litmine.tasks.semantic.lookup import find_abstracts
from litmine.tasks.store.access import open_store
from litmine.tasks.store.database import Batch

ARTICLES = [
    Article("1", "Statins and the liver", "Hepatotoxicity was rare among patients on statins."),
    Article("2", "A cohort study of asthma", "Children exposed to ozone wheezed more often."),
    Article("3", "Tumours of the skin", "Melanoma incidence rose; IL-6 levels were measured."),
    Article("4", "Heart failure outcomes", "Digoxin lowered admissions for heart failure."),
]


def load(db, articles, run_id="r1"):
    with open_store(db) as store:
        store.load_batch(Batch(articles=list(articles)), model="none", run_id=run_id)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "k.duckdb"
    load(path, ARTICLES)
    return path


def keyword_pmids(db, query, k=10):
    return [h.pmid for h in find_abstracts(db, query, k=k, mode="keyword").hits]


# -- reciprocal rank fusion ---------------------------------------------------------------------

def test_rrf_sums_one_over_k_plus_rank():
    fused = fuse_ranks([["a", "b", "c"], ["c", "a", "d"]], k=60)
    assert [item for item, _ in fused] == ["a", "c", "b", "d"]
    assert dict(fused) == pytest.approx({"a": 1 / 61 + 1 / 62, "c": 1 / 63 + 1 / 61,
                                         "b": 1 / 62, "d": 1 / 63})


def test_rrf_ties_go_to_the_better_best_rank_then_the_id():
    # x: ranks 3 and 1, y: ranks 1 and 3 (equal sums: the id decides); z: rank 2 twice, and
    # 2/62 = 0.032258 < 1/61 + 1/63 = 0.032266, so z comes last.
    fused = fuse_ranks([["y", "z", "x"], ["x", "z", "y"]])
    assert [item for item, _ in fused] == ["x", "y", "z"]


def test_fused_hits_keep_their_texts_and_take_rrf_scores():
    keyword = [Hit(1, 9.0, "a", "A", 2001, "J"), Hit(2, 5.0, "b", "B", 2002, "J")]
    semantic = [Hit(1, 0.8, "b", "B", 2002, "J"), Hit(2, 0.7, "c", "C", 2003, "J")]
    fused = fuse_hits([keyword, semantic], limit=2)
    assert [(h.rank, h.pmid, h.title) for h in fused] == [(1, "b", "B"), (2, "a", "A")]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)


# -- the keyword index --------------------------------------------------------------------------

def test_a_word_only_in_the_abstract_finds_its_article(db):
    assert keyword_pmids(db, "digoxin") == ["4"]
    assert keyword_pmids(db, "ozone exposure")[0] == "2"


@pytest.mark.parametrize("query, expected", [
    ("tumour", ["3"]),                    # Porter: "Tumours" and "tumour" share a stem
    ("hepatotoxicity statin", ["1"]),     # one article holds both words
    ("IL-6", ["3"]),                      # digits are kept: "il" and "6"
    ("mélanoma", ["3"]),                  # accents stripped
])
def test_keyword_matching(db, query, expected):
    assert keyword_pmids(db, query) == expected


def test_stop_words_alone_match_nothing(db):
    assert keyword_pmids(db, "the of and") == []


def test_bm25_ranks_the_repeated_term_first(db):
    load(db, [Article("5", "Heart", "Heart heart heart: the heart in heart failure.")], "r2")
    hits = find_abstracts(db, "heart", mode="keyword").hits
    assert [h.pmid for h in hits] == ["5", "4"] and hits[0].score > hits[1].score > 0


def test_an_index_made_before_new_articles_were_mined_is_refreshed(db):
    assert keyword_pmids(db, "digoxin") == ["4"]  # the first search builds the index
    with open_store(db, "read") as store:
        assert keyword_index_lag(store.con) == (0, 0)
    load(db, [Article("6", "Bradycardia on digoxin", "A case of digitalis toxicity.")], "r2")
    with open_store(db, "read") as store:
        assert keyword_index_lag(store.con) == (1, 0)
    found = find_abstracts(db, "digitalis", mode="keyword")
    assert [h.pmid for h in found.hits] == ["6"]
    assert found.notes == [f"keyword index of {db} updated: 1 articles indexed, 0 removed"]
    assert sorted(keyword_pmids(db, "digoxin")) == ["4", "6"]


def test_search_never_waits_for_a_writer(db):
    """Another process is writing (a mine run between batches: its run lock held, the file let
    go of): search reads the file, uses the index as it stands, says what it misses, and the
    writer keeps its lock."""
    keyword_pmids(db, "digoxin")
    load(db, [Article("6", "Bradycardia on digoxin", "A case of digitalis toxicity.")], "r2")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from litmine.tasks.store.access import open_store; "
         "store = open_store(sys.argv[1]); store.release(); print('ready', flush=True); "
         "time.sleep(60)", str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        found = find_abstracts(db, "digoxin", mode="keyword")
        assert [h.pmid for h in found.hits] == ["4"]
        assert found.notes == [f"the keyword index of {db} misses 1 new or changed articles while "
                               "another process writes the file; the next search after that run "
                               "adds them"]
        assert holder.poll() is None
    finally:
        holder.kill()
        holder.wait()
    assert sorted(keyword_pmids(db, "digoxin")) == ["4", "6"]  # the writer gone: indexed


def test_revised_and_deleted_articles_leave_the_index(db):
    keyword_pmids(db, "ozone")
    load(db, [Article("2", "A cohort study of asthma", "Children exposed to smoke wheezed.")], "r2")
    with open_store(db) as store:
        store.apply_deletion(Deletion(pmids=("4",), source="test"), run_id="r3")
        assert sync_keyword_index(store.con) == {"indexed": 1, "dropped": 2}
        assert keyword_index_lag(store.con) == (0, 0)
        assert store.con.execute("SELECT count(*) FROM keyword_postings WHERE pmid = '4'"
                                 ).fetchone() == (0,)
    assert keyword_pmids(db, "ozone") == [] and keyword_pmids(db, "smoke") == ["2"]
    assert keyword_pmids(db, "digoxin") == []


def test_query_terms_are_stemmed_once_each(db):
    with open_store(db, "read") as store:
        assert query_terms(store.con, "Running runs, the RUNNER!") == ["run", "runner"]


# -- modes --------------------------------------------------------------------------------------

def test_hybrid_without_vectors_falls_back_to_keyword_with_a_note(db):
    found = find_abstracts(db, "digoxin")
    assert found.mode == "keyword" and [h.pmid for h in found.hits] == ["4"]
    assert any("no abstract embeddings" in n and "litmine embed" in n for n in found.notes)


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "fuzzy"}, "unknown mode 'fuzzy'; use one of hybrid, keyword, semantic"),
    ({"mode": "keyword", "level": "sentence"}, "--mode keyword ranks abstracts"),
    ({"mode": "hybrid", "level": "sentence"}, "or --mode semantic to rank sentences"),
])
def test_mode_errors_say_what_to_do(db, kwargs, message):
    with pytest.raises(LitmineError, match=message.replace("(", r"\(")):
        find_abstracts(db, "digoxin", **kwargs)


def test_search_keywords_bad_input(db):
    with open_store(db) as store:
        sync_keyword_index(store.con)
        with pytest.raises(LitmineError, match="the query is empty"):
            search_keywords(store.con, "  ")
        with pytest.raises(LitmineError, match="k must be at least 1"):
            search_keywords(store.con, "heart", k=0)
