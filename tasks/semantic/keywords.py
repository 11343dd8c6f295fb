"""Keyword search: BM25 over article titles and abstracts, from an index kept in the store file.

DuckDB's `fts` extension (PRAGMA create_fts_index) would do this, but none loads in the DuckDB
litmine runs on: the PyPI wheels `duckdb-ext-fts` are built for DuckDB 1.4.4 (a 2.0 process
refuses them, and crashes when told to ignore the version), and `INSTALL fts` downloads from
DuckDB's own server. So the same index, built the same way in plain SQL, with nothing to load:

- tokens: the title and abstract, lower-cased, accents stripped, split on anything that is not
  a-z or 0-9 (fts's default pattern `(\\.|[^a-z])+` drops digits too; biomedical names keep
  theirs: IL-6, COVID-19, H1N1); Snowball's English stop words dropped; Porter-stemmed (fts's
  default stemmer, through the Snowball `porter` algorithm that fts compiles in).
- tables (schema migration 7): `keyword_postings` (term, pmid, tf) and `keyword_documents` (pmid,
  the article's `loaded_at`, length in tokens); collection statistics (N, average length,
  document frequency) are counted at query time, so an update touches only changed articles.
- score: Okapi BM25 (Robertson & Zaragoza 2009, "The Probabilistic Relevance Framework: BM25
  and Beyond"), k1 = 1.2, b = 0.75 and idf = ln((N - df + 0.5) / (df + 0.5) + 1), fts's
  `match_bm25` defaults; query terms count once each.

The index knows what it is missing: an article whose (pmid, loaded_at) has no document row was
mined (or revised) since, a document row without its article was deleted or revised.
`sync_keyword_index` fixes exactly those rows: `mine` runs it as its last step (holding its own
run lock), and lookup.py before a keyword search (for files written otherwise or earlier).
"""

from __future__ import annotations

from functools import lru_cache

import duckdb
import pyarrow as pa
import snowballstemmer

from litmine.errors import LitmineError
from litmine.tasks.records import Hit

#: BM25 parameters: DuckDB fts's `match_bm25` defaults (Robertson & Zaragoza 2009, section 3.3).
K1 = 1.2
B = 0.75

#: Snowball's English stop word list (snowballstem.org/algorithms/english/stop.txt), without the
#: contractions, which the tokenizer splits anyway.
STOP_WORDS = frozenset("""
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she
her hers herself it its itself they them their theirs themselves what which who whom this that
these those am is are was were be been being have has had having do does did doing would should
could ought cannot a an the and but if or because as until while of at by for with about against
between into through during before after above below to from up down in out on off over under
again further then once here there when where why how all any both each few more most other some
such no nor not only own same so than too very s t
""".split())


def tokens_sql(text: str) -> str:
    """SQL for the list of raw tokens of the VARCHAR expression `text` (before stop words and
    stems): one expression for documents and queries, so both split alike."""
    return f"regexp_split_to_array(lower(strip_accents(coalesce({text}, ''))), '[^a-z0-9]+')"


DOCUMENT_TOKENS = tokens_sql("a.title || ' ' || coalesce(a.abstract, '')")

_STEMMER = snowballstemmer.stemmer("porter")


@lru_cache(maxsize=1_000_000)
def stem(word: str) -> str:
    """The Porter stem of a lower-case word."""
    return _STEMMER.stemWord(word)


def index_terms(words: list[str]) -> dict[str, str]:
    """word -> term for the words that are indexed (not empty, not stop words)."""
    return {w: stem(w) for w in words if w and w not in STOP_WORDS}


def query_terms(con: duckdb.DuckDBPyConnection, query: str) -> list[str]:
    """The distinct index terms of `query`, in order of first use."""
    words = con.execute(f"SELECT {tokens_sql('$q')}", {"q": query}).fetchone()[0]
    return list(dict.fromkeys(stem(w) for w in words if w and w not in STOP_WORDS))


def has_keyword_index(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the file has the index tables (schema 7: an older file gains them on its next
    opening for writing)."""
    return con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = "
                       "current_database() AND table_name IN ('keyword_documents', "
                       "'keyword_postings')").fetchone()[0] == 2


def keyword_index_lag(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """(articles to index, document rows to drop): (0, 0) when the index is current."""
    if not has_keyword_index(con):
        return int(con.execute("SELECT count(*) FROM articles").fetchone()[0]), 0
    return con.execute("""
        SELECT (SELECT count(*) FROM articles a WHERE NOT EXISTS (
                    SELECT 1 FROM keyword_documents d
                    WHERE d.pmid = a.pmid AND d.loaded_at IS NOT DISTINCT FROM a.loaded_at)),
               (SELECT count(*) FROM keyword_documents d WHERE NOT EXISTS (
                    SELECT 1 FROM articles a
                    WHERE a.pmid = d.pmid AND a.loaded_at IS NOT DISTINCT FROM d.loaded_at))
        """).fetchone()


def sync_keyword_index(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Bring the index of a file open for writing up to date with its articles, in one
    transaction: drop the rows of deleted or revised articles, index the new or revised ones.
    Returns {"indexed": articles added, "dropped": document rows removed}."""
    stale = ("NOT EXISTS (SELECT 1 FROM articles a WHERE a.pmid = keyword_documents.pmid "
             "AND a.loaded_at IS NOT DISTINCT FROM keyword_documents.loaded_at)")
    todo = "FROM articles a WHERE a.pmid NOT IN (SELECT pmid FROM keyword_documents)"
    con.begin()
    try:
        con.execute(f"DELETE FROM keyword_postings WHERE pmid IN "
                    f"(SELECT pmid FROM keyword_documents WHERE {stale})")
        dropped = con.execute(f"DELETE FROM keyword_documents WHERE {stale}").fetchone()[0]
        # Postings of an article indexed before but with no document row (none, unless a
        # file was edited by hand) would count twice: start its rows afresh.
        con.execute(f"DELETE FROM keyword_postings WHERE pmid IN (SELECT a.pmid {todo})")
        words = [r[0] for r in con.execute(
            f"SELECT DISTINCT unnest({DOCUMENT_TOKENS}) {todo}").fetchall()]
        terms = index_terms(words)
        con.register("keyword_terms", pa.table({"word": list(terms), "term": list(terms.values())}))
        con.execute(f"""
            INSERT INTO keyword_postings
            SELECT t.term, w.pmid, count(*)::INTEGER
            FROM (SELECT a.pmid, unnest({DOCUMENT_TOKENS}) AS word {todo}) w
            JOIN keyword_terms t USING (word) GROUP BY t.term, w.pmid""")
        con.unregister("keyword_terms")
        indexed = con.execute(f"""
            INSERT INTO keyword_documents
            SELECT a.pmid, a.loaded_at, coalesce(
                (SELECT sum(p.tf) FROM keyword_postings p WHERE p.pmid = a.pmid), 0)::INTEGER
            {todo}""").fetchone()[0]
        con.commit()
    except Exception:
        con.rollback()
        raise
    return {"indexed": int(indexed), "dropped": int(dropped)}


def search_keywords(con: duckdb.DuckDBPyConnection, query: str, *, k: int = 10) -> list[Hit]:
    """The k stored abstracts that best match the words of `query` by BM25, best first."""
    if not query or not query.strip():
        raise LitmineError('search: the query is empty; give words to search for, e.g. '
                           '`litmine search "drug-induced liver injury"`')
    if k < 1:
        raise LitmineError(f"search: k must be at least 1, got {k}")
    terms = query_terms(con, query)
    if not terms:
        return []  # only stop words or punctuation: nothing to match
    rows = con.execute(f"""
        WITH stats AS (SELECT count(*) AS n, avg(length) AS avgdl FROM keyword_documents),
        df AS (SELECT term, count(*) AS df FROM keyword_postings
               WHERE term IN (SELECT unnest($terms::VARCHAR[])) GROUP BY term),
        scored AS (
            SELECT p.pmid, sum(ln((stats.n - df.df + 0.5) / (df.df + 0.5) + 1)
                               * p.tf * ({K1} + 1)
                               / (p.tf + {K1} * (1 - {B} + {B} * d.length / stats.avgdl))) AS score
            FROM keyword_postings p JOIN df USING (term) JOIN keyword_documents d USING (pmid), stats
            GROUP BY p.pmid)
        SELECT s.score, s.pmid, a.title, a.year, a.journal, a.abstract
        FROM scored s JOIN articles a USING (pmid)
        ORDER BY s.score DESC, s.pmid LIMIT $k""", {"terms": terms, "k": k}).fetchall()
    return [Hit(rank=i + 1, score=float(r[0]), pmid=r[1], title=r[2] or "", year=r[3],
                journal=r[4] or "", text=r[5] or "") for i, r in enumerate(rows)]

