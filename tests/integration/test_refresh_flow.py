"""The refresh flow run for real (Prefect API, E-utilities server, tiny model, DuckDB files):
one rate limit for two runs at once, a failed window keeps its watermark, update files revise
and delete records, finished files are skipped, a bad checksum stops the run."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from uuid import UUID

import duckdb
import pytest

from litmine.errors import LitmineError
from litmine.flows.refresh import refresh
from litmine.settings import get_settings
from litmine.tasks.sources.entrez import shared_client
from litmine.tasks.store.access import open_store
from litmine.tasks.sources.watches import add_watch
from tests.support.eutils_server import EutilsServer, busiest_second, load_records

ROOT = Path(__file__).resolve().parents[1] / "fixtures"
BASELINE = "pubmed26n1334.xml.gz"


@pytest.fixture(scope="module")
def corpus():
    return load_records(ROOT / "eutils" / "pubmedsample18n0001_first60.xml.gz")


@pytest.fixture
def configure(monkeypatch, prefect_harness):
    """Set LITMINE_*/NCBI_* for the flow (nothing else from the developer's environment)."""
    for var in list(os.environ):
        if var.startswith(("LITMINE_", "NCBI_")):
            monkeypatch.delenv(var)

    def apply(**values):
        for key, value in values.items():
            monkeypatch.setenv(key, str(value))
        get_settings(fresh=True)

    yield apply
    monkeypatch.undo()
    get_settings(fresh=True)


def new_watch(db: Path, name: str = "all", query: str = "all[sb]") -> None:
    with open_store(db) as store:
        add_watch(store.con, name, query)


def test_two_refreshes_at_once_share_one_rate_limit(tmp_path, corpus, configure, tiny_ner_model):
    """NCBI's 3 requests/s without a key: two flow runs in one process, each fetching 4 batches
    at once, send at most 3 requests in any second together.

    Measured where the limiter works, as httpx sends each request: the test server's arrival
    times also carry its own thread scheduling, which on a loaded 2-core machine bunched
    requests sent 1.1 s apart into one second (it answers 429 then, and the client retries).
    """
    dbs = [tmp_path / "a.duckdb", tmp_path / "b.duckdb"]
    for db in dbs:
        new_watch(db)
    with EutilsServer(corpus, rate=3, retry_after="0.05") as server:
        configure(LITMINE_EUTILS_URL=server.url, LITMINE_FETCH_BATCH_SIZE=10, LITMINE_BACKOFF_BASE=0.05,
                  NCBI_EMAIL="tests@litmine.invalid")
        sent: list[tuple[float, str]] = []
        client = shared_client(get_settings())  # the one both runs use: same settings, same process
        client._http.event_hooks["request"].append(lambda r: sent.append((time.monotonic(), r.url.path)))
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda db: refresh(db=str(db), model=str(tiny_ner_model)), dbs))
        log = server.requests()
    assert [r["articles"] for r in results] == [60, 60]
    assert len(sent) == len(log) >= 14  # 2 esearch + 2 x 6 efetch (+ a retry for any 429)
    assert sorted(r.endpoint for r in log if r.status == 200) == ["efetch"] * 12 + ["esearch"] * 2
    assert busiest_second([t for t, _ in sent]) <= 3


def test_a_failed_window_keeps_the_watermark_until_a_run_stores_it(tmp_path, corpus, configure, tiny_ner_model):
    db = tmp_path / "f.duckdb"
    new_watch(db)
    with EutilsServer(corpus, enforce_rate=False) as server:
        configure(LITMINE_EUTILS_URL=server.url, LITMINE_FETCH_BATCH_SIZE=10, LITMINE_MAX_RETRIES=0,
                  LITMINE_REQUESTS_PER_SECOND=10)
        server.fail_next("500", times=4, endpoint="efetch")  # the first 4 batches, fetched at once
        with pytest.raises(LitmineError, match=r"1 of 1 watches failed.*all: .*efetch"):
            refresh(db=str(db), model=str(tiny_ner_model))
        con = duckdb.connect(str(db), read_only=True)
        assert con.execute("SELECT watermark, last_run_id FROM watches").fetchall() == [(None, None)]
        assert con.execute("SELECT status FROM runs").fetchall() == [("failed",)]
        con.close()

        result = refresh(db=str(db), model=str(tiny_ner_model))
    assert result["articles"] == 60
    con = duckdb.connect(str(db), read_only=True)
    watermark, last_run = con.execute("SELECT watermark, last_run_id FROM watches").fetchone()
    assert watermark is not None and last_run == result["units"][0]["run_id"]
    assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == 60
    con.close()


def _update_file(path: Path, record_xml: str, deleted_pmid: str) -> None:
    body = (f'<?xml version="1.0" encoding="utf-8"?>\n<PubmedArticleSet>{record_xml}<DeleteCitation>'
            f'<PMID Version="1">{deleted_pmid}</PMID></DeleteCitation></PubmedArticleSet>\n')
    path.write_bytes(gzip.compress(body.encode("utf-8")))


def test_update_files_revise_and_delete_and_loaded_files_are_skipped(tmp_path, configure, tiny_ner_model):
    configure()
    root = tmp_path / "pubmed"
    (root / "baseline").mkdir(parents=True)
    (root / "updatefiles").mkdir()
    for suffix in ("", ".md5"):
        shutil.copy(ROOT / "pubmed" / f"{BASELINE}{suffix}", root / "baseline" / f"{BASELINE}{suffix}")
    text = gzip.decompress((ROOT / "pubmed" / BASELINE).read_bytes()).decode("utf-8")
    records = re.findall(r"<PubmedArticle>.*?</PubmedArticle>", text, re.S)
    pmids = [re.search(r"<PMID[^>]*>(\d+)</PMID>", r).group(1) for r in records]
    revised = re.sub(r"<ArticleTitle>.*?</ArticleTitle>", "<ArticleTitle>Revised title.</ArticleTitle>",
                     records[0], count=1, flags=re.S)
    _update_file(root / "updatefiles" / "pubmed26n1336.xml.gz", revised, pmids[1])  # no .md5: not checked
    db = tmp_path / "u.duckdb"

    first = refresh(files=str(root), db=str(db), model=str(tiny_ner_model), batch_size=8)
    assert (first["files_loaded"], first["articles_seen"], first["deleted"]) == (2, 31, 1)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == 29
    assert con.execute("SELECT title, source FROM articles WHERE pmid = ?", [pmids[0]]).fetchone() == (
        "Revised title.", "pubmed26n1336.xml.gz")
    for table in ("articles", "sentences", "entities", "pairs"):
        assert con.execute(f"SELECT count(*) FROM {table} WHERE pmid = ?", [pmids[1]]).fetchone()[0] == 0
    assert con.execute("SELECT source FROM deletions WHERE pmid = ?", [pmids[1]]).fetchone() == ("pubmed26n1336.xml.gz",)
    files = con.execute("SELECT name, kind, status, records, deleted FROM files ORDER BY name").fetchall()
    assert files == [(BASELINE, "baseline", "done", 30, 0), ("pubmed26n1336.xml.gz", "updatefiles", "done", 1, 1)]
    tables = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("sentences", "entities", "pairs")}
    # The run brought keyword search's index up to date: the revised title, not the deleted one.
    indexed = {p for (p,) in con.execute("SELECT pmid FROM keyword_documents").fetchall()}
    assert len(indexed) == 29 and pmids[0] in indexed and pmids[1] not in indexed
    assert con.execute("SELECT count(*) FROM keyword_postings WHERE pmid = ? AND term = 'revis'",
                       [pmids[0]]).fetchone()[0] == 1
    con.close()

    again = refresh(files=str(root), db=str(db), model=str(tiny_ner_model), batch_size=8)
    assert (again["files_skipped"], again.get("files_loaded", 0), again.get("articles", 0)) == (2, 0, 0)

    # A file whose download is broken stops the run before it is loaded.
    bad = root / "updatefiles" / "pubmed26n1337.xml.gz"
    _update_file(bad, records[2], pmids[3])
    (root / "updatefiles" / "pubmed26n1337.xml.gz.md5").write_text(f"MD5({bad.name})= {'0' * 32}\n")
    with pytest.raises(LitmineError, match="pubmed26n1337.xml.gz has MD5 .* says 0000"):
        refresh(files=str(root), db=str(db), model=str(tiny_ner_model), batch_size=8)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM files").fetchone()[0] == 2
    assert {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables} == tables
    runs = con.execute("SELECT status, counts FROM runs ORDER BY started_at").fetchall()
    assert [r[0] for r in runs] == ["completed", "completed", "failed"]
    assert json.loads(runs[1][1]) == {"files_skipped": 2}
    con.close()

    # The first run left its report as an artifact of its flow run.
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(first["flow_run_id"])])))
    (report,) = [a for a in artifacts if a.key == "refresh-report"]
    assert "## files `" in report.data and "| deleted | 1 |" in report.data and "### New pairs" in report.data
