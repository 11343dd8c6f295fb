"""The DuckDB store: bulk idempotent loads per batch, deletions, and the runs log (schema.py
holds the tables and their migrations)."""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa

from litmine.errors import StoreError
from litmine.settings import get_settings
from litmine.tasks.records import (Article, Deletion, DocumentFailure, Mention, Pair, Reject,
                                   Relation, Sentence)

#: Tables whose rows derive from an article (removed with it on DeleteCitation).
DERIVED_TABLES = ("sentences", "entities", "pairs", "abbreviations", "passages", "relations")
#: Tables made from an article's text by other flows (classify, summarize; embed's
#: embeddings_<dim>, which exist once a model of that size has embedded something): their rows
#: go when the article is deleted or its title/abstract changes.
TEXT_DERIVED_TABLES = ("classifications", "summaries")
TEXT_DERIVED_PREFIXES = ("embeddings_",)
#: Tables whose rows are replaced per (pmid, model) when a batch is loaded again.
MODEL_TABLES = ("entities", "pairs", "relations")


def _now() -> datetime:
    return datetime.now(timezone.utc)


#: Test hook, off unless set: LITMINE_TEST_CRASH_AT=commit:N (Settings.test_crash_at) SIGKILLs this
#: process inside its Nth batch transaction, after the rows are written and before COMMIT
#: (tests/integration/test_crash.py).
CRASH_ENV = "LITMINE_TEST_CRASH_AT"
_crash_counts: dict[str, int] = {}


def _crash_point(stage: str) -> None:
    spec = get_settings().test_crash_at
    if spec.startswith(stage + ":"):
        _crash_counts[stage] = _crash_counts.get(stage, 0) + 1
        if _crash_counts[stage] == int(spec.split(":", 1)[1]):
            os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Batch:
    """Everything one batch of articles produced, loaded in one transaction."""

    articles: list[Article] = field(default_factory=list)
    sentences: list[Sentence] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    pairs: list[Pair] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    abbreviations: list = field(default_factory=list)  # tasks.abbreviations.Abbreviation
    relations: list[Relation] = field(default_factory=list)  # typed (BioRED) relations
    #: Documents a per-document stage raised on (tasks/isolation.py): `reject_failed` drops them.
    failures: list[DocumentFailure] = field(default_factory=list)

    def reject_failed(self, rejects: Sequence[Reject]) -> None:
        """Drop every row of the documents `rejects` name (none is half-stored) and keep the
        rejects to store with the batch."""
        gone = {r.pmid for r in rejects}
        if not gone:
            return
        self.articles = [a for a in self.articles if a.pmid not in gone]
        self.sentences = [s for s in self.sentences if s.pmid not in gone]
        self.mentions = [m for m in self.mentions if m.pmid not in gone]
        self.pairs = [p for p in self.pairs if p.pmid not in gone]
        self.abbreviations = [a for a in self.abbreviations if a.pmid not in gone]
        self.relations = [r for r in self.relations if r.pmid not in gone]
        self.rejects = [*self.rejects, *rejects]


def _latest_versions(articles: Iterable[Article]) -> list[Article]:
    """One article per PMID (the highest version, else the last seen): DuckDB upserts keep the first."""
    best: dict[str, Article] = {}
    for article in articles:
        kept = best.get(article.pmid)
        if kept is None or article.version >= kept.version:
            best[article.pmid] = article
    return list(best.values())


def _articles_table(articles: Sequence[Article], run_id: str, at: datetime) -> pa.Table:
    return pa.table({
        "pmid": [a.pmid for a in articles],
        "version": pa.array([a.version for a in articles], pa.int32()),
        "title": [a.title for a in articles],
        "abstract": [a.abstract for a in articles],
        "journal": [a.journal for a in articles],
        "pub_date": [a.pub_date for a in articles],
        "year": pa.array([a.year for a in articles], pa.int32()),
        "doi": [a.doi for a in articles],
        "publication_types": pa.array([list(a.publication_types) for a in articles], pa.list_(pa.string())),
        "mesh_headings": pa.array([list(a.mesh_headings) for a in articles], pa.list_(pa.string())),
        "language": [a.language for a in articles],
        "authors": pa.array([[x.display for x in a.authors] for a in articles], pa.list_(pa.string())),
        "source": [a.source for a in articles],
        "run_id": [run_id] * len(articles),
        "loaded_at": pa.array([at] * len(articles), pa.timestamp("us", tz="UTC")),
    })


def _passages_table(articles: Sequence[Article], run_id: str) -> pa.Table:
    rows = [(a.pmid, i, p) for a in articles for i, p in enumerate(a.passages)]
    return pa.table({
        "pmid": [pmid for pmid, _, _ in rows],
        "passage_index": pa.array([i for _, i, _ in rows], pa.int32()),
        "start_offset": pa.array([p.start for _, _, p in rows], pa.int32()),
        "end_offset": pa.array([p.end for _, _, p in rows], pa.int32()),
        "title_end": pa.array([p.title_end for _, _, p in rows], pa.int32()),
        "type": pa.array([p.type for _, _, p in rows], pa.string()),
        "run_id": [run_id] * len(rows),
    })


def _sentences_table(sentences: Sequence[Sentence], run_id: str) -> pa.Table:
    return pa.table({
        "pmid": [s.pmid for s in sentences],
        "sentence_index": pa.array([s.index for s in sentences], pa.int32()),
        "start_offset": pa.array([s.start for s in sentences], pa.int32()),
        "end_offset": pa.array([s.end for s in sentences], pa.int32()),
        "text": [s.text for s in sentences],
        "run_id": [run_id] * len(sentences),
    })


def link_status(mention: Mention) -> str:
    """`entities.link_status` of a mention (schema.LINK_STATUSES): the linker's word, else
    "not-run" when no linker looked at it."""
    if mention.link_status:
        return mention.link_status
    return "linked" if mention.concept_id else "not-run"


def _entities_table(mentions: Sequence[Mention], model: str, run_id: str) -> pa.Table:
    unique = {(m.pmid, m.start, m.end, m.type): m for m in mentions}
    rows = [unique[k] for k in sorted(unique)]
    return pa.table({
        "pmid": [m.pmid for m in rows],
        "model": [model] * len(rows),
        "start_offset": pa.array([m.start for m in rows], pa.int32()),
        "end_offset": pa.array([m.end for m in rows], pa.int32()),
        "text": [m.text for m in rows],
        "type": [m.type for m in rows],
        "score": pa.array([float(m.score) for m in rows], pa.float64()),
        "sentence_index": pa.array([m.sentence_index for m in rows], pa.int32()),
        "concept_id": pa.array([m.concept_id or None for m in rows], pa.string()),
        "run_id": [run_id] * len(rows),
        "link_status": [link_status(m) for m in rows],
    })


def _pairs_table(pairs: Sequence[Pair], model: str, run_id: str) -> pa.Table:
    unique = {(p.pmid, p.method, p.chemical_id or "", p.disease_id or "", p.chemical, p.disease): p
              for p in pairs}
    rows = [unique[k] for k in sorted(unique)]
    return pa.table({
        "pmid": [p.pmid for p in rows],
        "model": [model] * len(rows),
        "method": [p.method for p in rows],
        "chemical": [p.chemical for p in rows],
        "disease": [p.disease for p in rows],
        "n_sentences": pa.array([p.n_sentences for p in rows], pa.int32()),
        "sentence_indexes": pa.array([list(p.sentence_indexes) for p in rows], pa.list_(pa.int32())),
        "run_id": [run_id] * len(rows),
        "chemical_id": pa.array([p.chemical_id for p in rows], pa.string()),
        "disease_id": pa.array([p.disease_id for p in rows], pa.string()),
        "relation": pa.array([p.relation for p in rows], pa.string()),
        "score": pa.array([p.score for p in rows], pa.float64()),
        "evidence": pa.array([list(p.evidence) if p.relation is not None else None for p in rows],
                             pa.list_(pa.string())),
    })


def _relations_table(relations: Sequence[Relation], model: str, run_id: str) -> pa.Table:
    unique = {(r.pmid, r.type1, r.id1, r.type2, r.id2): r for r in relations}
    rows = [unique[k] for k in sorted(unique)]
    return pa.table({
        "pmid": [r.pmid for r in rows],
        "model": [model] * len(rows),
        "relation_model": [r.model for r in rows],
        "type1": [r.type1 for r in rows], "id1": [r.id1 for r in rows],
        "name1": [r.name1 for r in rows],
        "type2": [r.type2 for r in rows], "id2": [r.id2 for r in rows],
        "name2": [r.name2 for r in rows],
        "relation": [r.relation for r in rows], "novel": [r.novel for r in rows],
        "score": pa.array([float(r.score) for r in rows], pa.float64()),
        "novel_score": pa.array([float(r.novel_score) for r in rows], pa.float64()),
        "sentence_indexes": pa.array([list(r.sentence_indexes) for r in rows],
                                     pa.list_(pa.int32())),
        "evidence": pa.array([list(r.evidence) for r in rows], pa.list_(pa.string())),
        "run_id": [run_id] * len(rows),
    })


def _abbreviations_table(abbreviations: Sequence, pmids: set[str], run_id: str) -> pa.Table:
    unique = {(a.pmid, a.short_start, a.short_end, a.long_start, a.long_end): a
              for a in abbreviations if a.pmid in pmids}
    rows = [unique[k] for k in sorted(unique)]
    return pa.table({
        "pmid": [a.pmid for a in rows],
        "short": [a.short for a in rows],
        "long": [a.long for a in rows],
        "short_start": pa.array([a.short_start for a in rows], pa.int32()),
        "short_end": pa.array([a.short_end for a in rows], pa.int32()),
        "long_start": pa.array([a.long_start for a in rows], pa.int32()),
        "long_end": pa.array([a.long_end for a in rows], pa.int32()),
        "run_id": [run_id] * len(rows),
    })


class Store:
    """A litmine DuckDB file and what litmine does with it (open it with `open_store`).

    `con` is the open connection. A writing store can let go of the file between units of work
    (`release`; the next use of `con` opens it again), so that readers can open it meanwhile,
    while its run lock keeps other writing runs out until `close` (see locking.py).
    """

    def __init__(self, path: str | Path, con: duckdb.DuckDBPyConnection, *,
                 reopen: Callable[[], duckdb.DuckDBPyConnection] | None = None,
                 on_close: Callable[[], None] | None = None):
        """Wrap an open connection; `reopen` makes a new one after `release`, `on_close` runs
        once on `close` (tasks/store/access.py's `open_store` gives all three)."""
        self.path = Path(path)
        self._con: duckdb.DuckDBPyConnection | None = con
        self._reopen = reopen
        self._on_close = on_close

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The connection, opened again if `release` closed it."""
        if self._con is None:
            if self._reopen is None:
                raise StoreError(f"store: {self.path} is closed; open it again with open_store")
            self._con = self._reopen()
        return self._con

    def release(self) -> None:
        """Let go of the file until `con` is used again: close the connection (DuckDB writes
        the committed data into the file as it closes), so that readers can open it. Call it
        between transactions only: one left open is rolled back."""
        if self._con is not None:
            con, self._con = self._con, None
            con.close()

    # -- schema ---------------------------------------------------------------------------
    def _text_derived_tables(self) -> list[str]:
        """The optional text-derived tables present in this file (see TEXT_DERIVED_TABLES)."""
        names = [r[0] for r in self.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall()]
        return sorted(n for n in names if n in TEXT_DERIVED_TABLES
                      or n.startswith(TEXT_DERIVED_PREFIXES))

    def close(self) -> None:
        """Close the connection and let go of the run lock (a writing store); it cannot be
        opened again."""
        self._reopen = None
        try:
            self.release()
        finally:
            on_close, self._on_close = self._on_close, None
            if on_close is not None:
                on_close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- runs -----------------------------------------------------------------------------
    def begin_run(self, flow: str, parameters: dict, model: str = "", run_id: str | None = None) -> str:
        """Record a run as `running` and return its id."""
        run_id = run_id or str(uuid.uuid4())
        self.con.execute(
            "INSERT OR REPLACE INTO runs (run_id, flow, status, started_at, parameters, model) "
            "VALUES (?, ?, 'running', ?, ?, ?)",
            [run_id, flow, _now(), json.dumps(parameters, default=str), model])
        return run_id

    def finish_run(self, run_id: str, status: str, counts: dict, timings: dict,
                   error: str | None = None) -> None:
        """Close a run with its final status, counts and timings."""
        self.con.execute(
            "UPDATE runs SET status = ?, finished_at = ?, counts = ?, timings = ?, error = ? "
            "WHERE run_id = ?",
            [status, _now(), json.dumps(counts), json.dumps(timings), error, run_id])

    # -- loads ----------------------------------------------------------------------------
    def load_batch(self, batch: Batch, *, model: str, run_id: str) -> dict[str, int]:
        """Replace the batch's PMIDs (articles, sentences, this model's entities and pairs)
        in one transaction; returns the rows written per table."""
        at = _now()
        articles = _latest_versions(batch.articles)
        pmids = pa.table({"pmid": [a.pmid for a in articles]})
        tables = {
            "articles": _articles_table(articles, run_id, at),
            "sentences": _sentences_table(batch.sentences, run_id),
            "entities": _entities_table(batch.mentions, model, run_id),
            "pairs": _pairs_table(batch.pairs, model, run_id),
            "abbreviations": _abbreviations_table(batch.abbreviations,
                                                  {a.pmid for a in articles}, run_id),
            "relations": _relations_table(batch.relations, model, run_id),
            "passages": _passages_table(articles, run_id),
        }
        con = self.con
        text_tables = self._text_derived_tables()
        con.begin()
        try:
            con.register("batch_pmids", pmids)
            if text_tables:  # a revised title/abstract makes vectors, labels and summaries stale
                con.register("batch_texts", tables["articles"].select(["pmid", "title", "abstract"]))
                con.execute("CREATE OR REPLACE TEMP TABLE changed_pmids AS SELECT a.pmid FROM "
                            "articles a JOIN batch_texts b USING (pmid) WHERE a.title IS DISTINCT "
                            "FROM b.title OR a.abstract IS DISTINCT FROM b.abstract")
                for name in text_tables:
                    con.execute(f"DELETE FROM {name} WHERE pmid IN (SELECT pmid FROM changed_pmids)")
                con.unregister("batch_texts")
            for name in ("articles", *(t for t in DERIVED_TABLES if t not in MODEL_TABLES)):
                con.execute(f"DELETE FROM {name} WHERE pmid IN (SELECT pmid FROM batch_pmids)")
            for name in MODEL_TABLES:
                con.execute(f"DELETE FROM {name} WHERE model = ? AND pmid IN "
                            "(SELECT pmid FROM batch_pmids)", [model])
            # A PMID loaded again is no longer deleted (PubMed revives records, rarely).
            con.execute("DELETE FROM deletions WHERE pmid IN (SELECT pmid FROM batch_pmids)")
            for name, table in tables.items():
                con.register(f"batch_{name}", table)
                con.execute(f"INSERT INTO {name} SELECT * FROM batch_{name}")
                con.unregister(f"batch_{name}")
            con.unregister("batch_pmids")
            self._insert_rejects(batch.rejects, run_id, at)
            _crash_point("commit")
            con.commit()
        except Exception:
            con.rollback()
            raise
        # "relations" would collide with `mine`'s count of CID relations: the typed ones are
        # "typed_relations".
        return ({("typed_relations" if name == "relations" else name): table.num_rows
                 for name, table in tables.items()} | {"rejects": len(batch.rejects)})

    def _insert_rejects(self, rejects: Sequence[Reject], run_id: str, at: datetime) -> None:
        if not rejects:
            return
        table = pa.table({
            "source": [r.source for r in rejects],
            "pmid": [r.pmid for r in rejects],
            "reason": [r.reason for r in rejects],
            "run_id": [run_id] * len(rejects),
            "rejected_at": pa.array([at] * len(rejects), pa.timestamp("us", tz="UTC")),
            "stage": [r.stage for r in rejects],
        })
        self.con.register("batch_rejects", table)
        self.con.execute("INSERT INTO rejects SELECT * FROM batch_rejects")
        self.con.unregister("batch_rejects")

    def add_rejects(self, rejects: Sequence[Reject], run_id: str) -> None:
        """Store records that were skipped, with their reasons."""
        self._insert_rejects(rejects, run_id, _now())

    def apply_deletion(self, deletion: Deletion, run_id: str) -> int:
        """Remove deleted PMIDs and every row derived from them; returns articles removed."""
        if not deletion.pmids:
            return 0
        pmids = pa.table({"pmid": sorted(set(deletion.pmids))})
        con = self.con
        con.begin()
        try:
            con.register("deleted_pmids", pmids)
            removed = con.execute(
                "SELECT count(*) FROM articles WHERE pmid IN (SELECT pmid FROM deleted_pmids)"
            ).fetchone()[0]
            for name in ("articles", *DERIVED_TABLES, *self._text_derived_tables()):
                con.execute(f"DELETE FROM {name} WHERE pmid IN (SELECT pmid FROM deleted_pmids)")
            con.execute(
                "INSERT OR REPLACE INTO deletions SELECT pmid, ?, ?, ? FROM deleted_pmids",
                [deletion.source, run_id, _now()])
            con.unregister("deleted_pmids")
            con.commit()
        except Exception:
            con.rollback()
            raise
        return int(removed)

    # -- reads ----------------------------------------------------------------------------
    def stored_pmids(self, pmids: Sequence[str], model: str, model_id: str | None = None) -> set[str]:
        """Those of `pmids` whose article was loaded by a run of `model` (and, when given, of the
        model fingerprint `model_id` the mine flow keeps in the run's parameters)."""
        if not pmids:
            return set()
        rows = self.con.execute(
            "SELECT a.pmid FROM articles a JOIN runs r USING (run_id) WHERE r.model = ? AND "
            "(?::VARCHAR IS NULL OR json_extract_string(r.parameters, '$.model_id') = ?) "
            "AND a.pmid IN (SELECT unnest(?::VARCHAR[]))",
            [model, model_id, model_id, list(pmids)]).fetchall()
        return {r[0] for r in rows}

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        names = ("articles", "sentences", "entities", "pairs", "rejects", "deletions", "runs")
        return {n: int(self.con.execute(f"SELECT count(*) FROM {n}").fetchone()[0]) for n in names}

    def models(self) -> list[str]:
        """Models that have entities in the store, most rows first."""
        rows = self.con.execute(
            "SELECT model FROM entities GROUP BY model ORDER BY count(*) DESC, model").fetchall()
        return [r[0] for r in rows]
