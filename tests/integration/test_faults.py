"""The mine flow against a real E-utilities server on 127.0.0.1 that fails on purpose.

Every fault kind of the test server (HTTP 500/502/503 with HTML bodies, NCBI's 429, a TCP reset, a
stall past the client timeout, truncated XML, an <ERROR> in a 200 body, an expired WebEnv) is
injected into one run, which must still store every record of the corpus exactly once. Then a
request that fails for good: the run fails naming the stage and the request, its runs row says
failed, and a rerun fetches only the PMIDs that are not stored yet (checked in the server's log).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from litmine.errors import EutilsError
from litmine.settings import get_settings
from litmine.tasks.sources.pubmed_xml import iter_pubmed_xml
from litmine.tasks.records import Article
from tests.support.eutils_server import FAULTS, EutilsServer

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "pubmedsample18n0001.xml.gz"
#: The sample's records, by PMID (177 journal articles, all valid).
CORPUS = {a.pmid: a for a in iter_pubmed_xml(SAMPLE) if isinstance(a, Article)}


class BrokenPageServer(EutilsServer):
    """The test server, answering 503 to every efetch of the pages (retstart) in `broken`."""

    broken: set[str] = set()

    def answer(self, entry):
        if entry.endpoint == "efetch" and entry.params.get("retstart") in self.broken:
            with self._lock:  # the fault is queued and taken by this very request
                self.fail_next("503", 1, "efetch")
                return super().answer(entry)
        return super().answer(entry)


@pytest.fixture
def configure(monkeypatch, tiny_ner_model):
    """Point litmine at a server: configure(server, **LITMINE_ settings) -> Settings."""

    def apply(server: EutilsServer, **overrides) -> None:
        env = {"LITMINE_EUTILS_URL": server.url, "LITMINE_FETCH_BATCH_SIZE": "50",
               "LITMINE_BACKOFF_BASE": "0.01", "LITMINE_HTTP_TIMEOUT": "1",
               "LITMINE_MAX_RETRIES": "10", "LITMINE_REQUESTS_PER_SECOND": "10",
               "LITMINE_MODEL": str(tiny_ner_model), "NCBI_EMAIL": "tests@litmine.invalid"}
        env.update({f"LITMINE_{k.upper()}": str(v) for k, v in overrides.items()})
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("NCBI_API_KEY", raising=False)
        get_settings(fresh=True)

    yield apply
    monkeypatch.undo()
    get_settings(fresh=True)


def run_mine(db: Path, **kw) -> dict:
    from litmine.flows.mine import mine

    return mine(query="all[sb]", db=str(db), batch_size=64, device="cpu", **kw)


def stored_texts(db: Path) -> dict[str, str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return dict(con.execute("SELECT pmid, title || ' ' || abstract FROM articles").fetchall())


def duplicates(db: Path) -> dict[str, int]:
    """Rows that share a key in each table (0 everywhere when every record is stored once)."""
    keys = {"sentences": "pmid, sentence_index", "entities": "pmid, model, start_offset, end_offset, type",
            "pairs": "pmid, model, method, chemical_id, disease_id, chemical, disease",
            "articles": "pmid"}
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: con.execute(f"SELECT count(*) FROM (SELECT {k} FROM {t} GROUP BY ALL "
                               "HAVING count(*) > 1)").fetchone()[0] for t, k in keys.items()}


def runs(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT status, error, counts FROM runs ORDER BY started_at").fetchall()


def page(server: EutilsServer, request) -> list[str]:
    """The PMIDs one logged efetch asked for (by id, or a page of the one search)."""
    if request.params.get("id"):
        return request.params["id"].split(",")
    start, size = int(request.params["retstart"]), int(request.params["retmax"])
    return server.pmids[start:start + size]


def test_every_fault_kind_is_survived_and_every_record_is_stored_once(prefect_harness, configure, tmp_path):
    with EutilsServer([SAMPLE], rate=10, stall_seconds=3) as server:
        configure(server)
        server.fail_next("503", endpoint="esearch")
        server.fail_next("reset", endpoint="esearch")
        for kind in FAULTS:  # each once, in this order, to whichever efetch comes next
            server.fail_next(kind, endpoint="efetch")
        result = run_mine(tmp_path / "faults.duckdb")
        log = server.requests()

    injected = [r.fault for r in log if r.fault]
    assert sorted(injected) == sorted([*FAULTS, "503", "reset"])  # every fault was served ...
    assert stored_texts(tmp_path / "faults.duckdb") == {p: a.text for p, a in CORPUS.items()}  # ... and survived
    assert duplicates(tmp_path / "faults.duckdb") == dict.fromkeys(("sentences", "entities", "pairs", "articles"), 0)
    assert result["articles"] == len(CORPUS) == 177
    # Each page was answered well exactly once; the expired WebEnv was searched again.
    fetched = [r for r in log if r.endpoint == "efetch" and r.status == 200 and not r.fault]
    assert sorted(int(r.params["retstart"]) for r in fetched) == [0, 50, 100, 150]
    expired_at = next(i for i, r in enumerate(log) if r.fault == "expired")
    assert any(r.endpoint == "esearch" and r.status == 200 for r in log[expired_at:])
    assert [status for status, _, _ in runs(tmp_path / "faults.duckdb")] == ["completed"]


def test_a_spent_retry_budget_fails_the_run_and_a_rerun_fetches_only_what_is_missing(
        prefect_harness, configure, tmp_path):
    db = tmp_path / "resume.duckdb"
    with BrokenPageServer([SAMPLE], rate=10, enforce_rate=False) as server:
        server.broken = {"100"}  # the third page of 50 fails every time
        configure(server, max_retries=2)
        with pytest.raises(EutilsError) as failed:
            run_mine(db)
        message = str(failed.value)
        first_run = server.requests("efetch")
        before = set(stored_texts(db))

        # The message names the stage and the request, and what to do.
        assert message.startswith("efetch: http://127.0.0.1:")
        assert "retstart=100" in message and "failed 3 times" in message and "HTTP 503" in message
        assert "LITMINE_MAX_RETRIES" in message
        assert sum(r.params.get("retstart") == "100" for r in first_run) == 3  # 1 try + 2 retries
        [(status, error, _)] = runs(db)
        assert status == "failed" and error == message
        assert 0 < len(before) < len(CORPUS) and before <= set(server.pmids[:100])

        # The rerun pages by 40 now: pages wholly stored are skipped, one partly stored page is
        # fetched by id (only its missing PMIDs), the rest by WebEnv page as usual.
        server.broken = set()
        server.clear_log()
        configure(server, fetch_batch_size=40)
        result = run_mine(db)
        second_run = server.requests("efetch")

    refetched = [pmid for r in second_run for pmid in page(server, r)]
    assert set(refetched).isdisjoint(before)  # nothing stored was fetched again ...
    assert sorted(refetched) == sorted(set(CORPUS) - before)  # ... and everything missing was, once
    assert any("id" in r.params for r in second_run) == (len(before) % 40 != 0)
    assert result["skipped_stored"] == len(before)
    assert result["articles"] == len(CORPUS) - len(before)
    assert stored_texts(db) == {p: a.text for p, a in CORPUS.items()}
    assert duplicates(db) == dict.fromkeys(("sentences", "entities", "pairs", "articles"), 0)
    assert [status for status, _, _ in runs(db)] == ["failed", "completed"]


def test_an_unresolvable_host_fails_the_run_at_once_and_names_the_setting(prefect_harness, configure, tmp_path, caplog):
    """Offline (or a wrong LITMINE_EUTILS_URL) is this machine's problem: no retries, no blaming NCBI."""
    url = "http://eutils.litmine.invalid/entrez/eutils/"  # RFC 2606: .invalid never resolves
    db = tmp_path / "offline.duckdb"
    configure(SimpleNamespace(url=url), max_retries=6, backoff_base=1)
    with pytest.raises(EutilsError) as failed:
        run_mine(db)
    message = str(failed.value)
    assert message.startswith("esearch: cannot look up the host name 'eutils.litmine.invalid'")
    assert "LITMINE_EUTILS_URL" in message and "NCBI may be down" not in message
    assert not [r for r in caplog.records if "retry" in r.getMessage()]
    [(status, error, _)] = runs(db)
    assert status == "failed" and error == message
