"""PubMed search + fetch against a real local E-utilities server (tests/support/eutils_server.py)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from datetime import date, timedelta
from pathlib import Path

import pytest

from litmine.errors import EutilsError
from litmine.settings import Settings
from litmine.tasks.sources import entrez
from litmine.tasks.sources.entrez import (
    EutilsClient,
    fetch_batch,
    iter_fetch,
    parse_esearch,
    plan_search,
    pmids_of,
    redact,
)
from tests.support.eutils_server import EutilsServer, busiest_second, load_records

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eutils"
KEY = "k3y-0123456789abcdef"
#: Entry dates a week apart, for the 60 corpus records (shapes the EDAT windows).
WEEKLY = [date(2019, 1, 1) + timedelta(days=7 * i) for i in range(60)]


@pytest.fixture(scope="session")
def corpus():
    """60 records of NLM's 2018 baseline sample."""
    return load_records(FIXTURES / "pubmedsample18n0001_first60.xml.gz")


@pytest.fixture(scope="session")
def extra():
    """3 more real efetch records (one a PubmedBookArticle), not in `corpus`."""
    return load_records(FIXTURES / "efetch_book_26468569.xml", FIXTURES / "efetch_utf8_23878845_16080930.xml")


@pytest.fixture
def server(corpus):
    with EutilsServer(corpus, rate=150, rate_with_key=150, retry_after="0.05", stall_seconds=1.0) as srv:
        yield srv


@pytest.fixture
def make_settings(monkeypatch):
    """Settings for a test server, untouched by the developer's own NCBI_* / LITMINE_* variables."""
    for var in list(os.environ):
        if var.startswith(("LITMINE_", "NCBI_")):
            monkeypatch.delenv(var)

    def make(srv: EutilsServer, rate: float | None = 100, **overrides) -> Settings:
        values = dict(eutils_url=srv.url, fetch_batch_size=10, backoff_base=0.01, max_retries=3,
                      http_timeout=5.0)
        values.update(overrides)
        # Above NCBI's 10/s (which Settings refuses) to keep the suite fast: pacing itself is
        # tested at NCBI's real 3/s, against a server that enforces it.
        return Settings(**values).model_copy(update={"requests_per_second": rate})

    return make


def fetch_all(client: EutilsClient, batches, threads: int = 1) -> list[str]:
    with ThreadPoolExecutor(threads) as pool:
        return [p for xml in pool.map(lambda b: fetch_batch(client, b), batches) for p in pmids_of(xml)]


# -- plain functions -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        (f"https://eutils/esearch.fcgi?db=pubmed&api_key={KEY}&term=x", KEY),
        (f"db=pubmed&API_KEY={KEY}", KEY),
        (f'{{"error":"API rate limit exceeded","api-key":"{KEY}","count":"4","limit":"10"}}', KEY),
        (f"api_key%3D{KEY}&x=1", KEY),
    ],
)
def test_redact_removes_api_key_values(text, hidden):
    out = redact(text)
    assert hidden not in out and "***" in out


def test_redact_removes_a_known_secret_anywhere():
    assert redact(f"WebEnv={KEY}x", [KEY]) == "WebEnv=***x"


def test_parse_esearch_reads_a_recorded_ncbi_answer():
    result = parse_esearch((FIXTURES / "esearch_history_biopython.xml").read_bytes(), "cancer")
    assert (result.count, result.query_key, result.webenv) == (42249, "1", "MCID_6927d6e7fee3e90f880ec190")
    assert len(result.ids) == 100 and result.ids[0] == "41297076"


def test_prefect_tasks_do_not_cache_or_retry():
    for t in (entrez.search_pubmed, entrez.fetch_articles):
        assert t.retries == 0 and t.cache_policy is entrez.NO_CACHE


# -- search and fetch ------------------------------------------------------------------------
def test_search_and_fetch_everything_in_batches(server, make_settings, extra):
    server.add_records(extra)
    with EutilsClient(make_settings(server)) as client:
        batches = plan_search(client, "all[sb]")
        got = fetch_all(client, batches)
    assert [b.retmax for b in batches] == [10] * 6 + [3]
    assert got == server.pmids  # search order, each record once, the book included
    assert "26468569" in got
    fetches = server.requests("efetch")
    assert [r.params["retstart"] for r in fetches] == [str(i) for i in range(0, 70, 10)]
    assert {r.params["WebEnv"] for r in fetches} == {batches[0].webenv}


def test_word_query_finds_only_matching_records(server, make_settings):
    with EutilsClient(make_settings(server)) as client:
        search = client.esearch("hospital", retmax=100)
        got = fetch_all(client, plan_search(client, "hospital"))
    assert 0 < search.count < 60 and got == list(search.ids)


def test_long_query_is_posted(server, make_settings):
    query = " OR ".join(["hospital"] + [f"nosuchword{i}" for i in range(300)])
    with EutilsClient(make_settings(server)) as client:
        result = client.esearch(query)
    assert result.count > 0 and server.requests("esearch")[0].method == "POST"


def test_credentials_sent_with_every_request(server, make_settings):
    settings = make_settings(server, NCBI_API_KEY=KEY, NCBI_EMAIL="dev@example.org", tool="litmine-test")
    with EutilsClient(settings) as client:
        fetch_all(client, plan_search(client, "all[sb]", max_results=20))
    assert len(server.requests()) == 3
    for request in server.requests():
        assert (request.params["api_key"], request.params["email"], request.params["tool"]) == (
            KEY, "dev@example.org", "litmine-test")
        assert request.params["db"] == "pubmed"


def test_rate_never_exceeded_by_four_threads_on_two_clients(corpus, make_settings):
    with EutilsServer(corpus, rate=3) as srv:
        settings = make_settings(srv, rate=None, fetch_batch_size=8)
        with EutilsClient(settings) as one, EutilsClient(settings) as two:
            batches = plan_search(one, "all[sb]")
            with ThreadPoolExecutor(4) as pool:
                xmls = list(pool.map(lambda ib: fetch_batch((one, two)[ib[0] % 2], ib[1]), enumerate(batches)))
        assert sorted(p for x in xmls for p in pmids_of(x)) == sorted(srv.pmids)
        log = srv.requests()
    assert len(log) == 1 + len(batches) == 9
    assert busiest_second([r.time for r in log]) <= 3
    assert all(r.status == 200 for r in log)


def _crowd(spans: list[tuple[float, float]], window: float) -> int:
    """The most requests that could arrive within one `window`, each anywhere in its (start, end)."""
    return max(sum(s <= t < e + window for s, e in spans) for t, _ in spans)


@pytest.mark.parametrize("rate", [2, 2.5])
def test_limiter_keeps_late_arrivals_apart(rate):
    """However late within its run a request reaches the server, no N + 1 do within N / rate s.

    Requests of 0.05-0.35 s from 4 threads: counting starts only (as before this limiter) lets N
    start together and the next N / rate s later, when the first may still be arriving.
    """
    limiter, spans = entrez.RateLimiter(rate), []

    def request(i: int) -> None:
        with limiter.slot():
            start = time.monotonic()
            time.sleep(0.05 + 0.1 * (i % 4))
            spans.append((start, time.monotonic()))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(request, range(8)))
    n = int(rate)
    assert len(spans) == 8 and _crowd(spans, n / rate) <= n


def test_limiter_frees_the_slot_of_a_failed_request():
    limiter = entrez.RateLimiter(1)
    with pytest.raises(OSError), limiter.slot():
        raise OSError("connection reset")
    with limiter.slot() as waited:  # one request per second: this one waits for the failed one's
        pass
    assert waited > 0.9


def test_a_forked_child_does_not_wait_for_the_parents_request_in_flight():
    limiter = entrez.get_limiter("http://fork.test/", 1)  # one request per second
    started, release = threading.Event(), threading.Event()

    def parent_request() -> None:
        with limiter.slot():
            started.set()
            release.wait(10)

    thread = threading.Thread(target=parent_request)
    thread.start()
    started.wait(5)
    pid = os.fork()
    if pid == 0:  # the child: its only limiter slot is held by a thread it does not have
        signal.alarm(5)  # a child that would wait forever dies of SIGALRM instead
        with limiter.slot() as waited:
            os._exit(0 if waited < 2 else 1)
    _, status = os.waitpid(pid, 0)
    release.set()
    thread.join()
    assert os.waitstatus_to_exitcode(status) == 0


def test_max_results_limits_the_run(server, make_settings):
    with EutilsClient(make_settings(server)) as client:
        batches = plan_search(client, "all[sb]", max_results=25)
        got = fetch_all(client, batches)
    assert [b.retmax for b in batches] == [10, 10, 5]
    assert got == server.pmids[:25]


def test_empty_result_plans_no_batches(server, make_settings, caplog):
    caplog.set_level(logging.INFO, logger="litmine.tasks.sources.entrez")
    with EutilsClient(make_settings(server)) as client:
        assert plan_search(client, "xyzzyplugh") == []
        assert plan_search(client, "all[sb]", max_results=0) == []
    assert len(server.requests()) == 1
    assert "0 records" in caplog.text and "No items found" in caplog.text


# -- failures that pass ----------------------------------------------------------------------
PASSING = ["500", "502", "503", "429", "reset", "stall", "truncate", "error"]


@pytest.mark.parametrize(("kind", "endpoint"),
                         [(k, e) for k in PASSING for e in ("esearch", "efetch")] + [("expired", "efetch")])
def test_passing_failure_is_recovered(server, make_settings, kind, endpoint):
    server.fail_next(kind, times=2, endpoint=endpoint)
    settings = make_settings(server, http_timeout=0.4 if kind == "stall" else 5.0)
    with EutilsClient(settings) as client:
        got = fetch_all(client, plan_search(client, "all[sb]", max_results=20))
    assert got == server.pmids[:20]
    faulted = [r for r in server.requests(endpoint) if r.fault]
    assert [r.fault for r in faulted] == [kind, kind]
    assert server.requests(endpoint)[-1].status == 200


def test_expired_webenv_is_searched_again_once_for_all_batches(server, make_settings):
    with EutilsClient(make_settings(server)) as client:
        batches = plan_search(client, "all[sb]")
        server.expire_sessions()
        got = fetch_all(client, batches, threads=3)
    assert sorted(got) == sorted(server.pmids) and len(got) == 60
    assert len(server.requests("esearch")) == 2


def test_iter_fetch_yields_each_pmid_once_when_a_new_search_shifts_pages(server, make_settings, extra, caplog):
    batches = iter_fetch("all[sb]", settings=make_settings(server))
    first = pmids_of(next(batches))
    server.add_records(extra, entry_date=date.today())  # newest first: pushes every page down 3
    server.expire_sessions()
    rest = [p for xml in batches for p in pmids_of(xml)]
    assert first == server.pmids[3:13]
    assert len(first + rest) == len(set(first + rest))
    assert "now has 63 records (was 60)" in caplog.text


# -- failures that do not pass ---------------------------------------------------------------
@pytest.mark.parametrize("endpoint", ["esearch", "efetch"])
@pytest.mark.parametrize("kind", ["503", "429"])
def test_spent_retry_budget_raises_eutils_error_without_the_key(server, make_settings, caplog, kind, endpoint):
    caplog.set_level(logging.DEBUG)
    server.fail_next(kind, times=100, endpoint=endpoint)
    with EutilsClient(make_settings(server, NCBI_API_KEY=KEY, max_retries=2)) as client:
        with pytest.raises(EutilsError) as caught:
            fetch_batch(client, plan_search(client, "all[sb]")[0])
    message = str(caught.value)
    assert message.startswith(f"{endpoint}: {server.url}{endpoint}.fcgi?")
    assert f"HTTP {kind}" in message and "failed 3 times" in message
    assert ("LITMINE_REQUESTS_PER_SECOND" in message) == (kind == "429")
    assert KEY not in message and KEY not in caplog.text
    assert len(server.requests(endpoint)) == 3


def test_refusal_is_not_retried(server, make_settings):
    server.cap = 20  # the client believes NCBI's 9,999: its third page starts past this cap
    with EutilsClient(make_settings(server)) as client:
        batches = plan_search(client, "all[sb]")
        with pytest.raises(EutilsError, match=r"efetch: .* was refused: HTTP 400 .<ERROR>.*cannot be larger than 19"):
            fetch_batch(client, batches[2])
    assert len(server.requests("efetch")) == 1


#: RFC 2606 reserves the .invalid TLD: this name never resolves, online or not.
UNRESOLVABLE = "http://eutils.litmine.invalid/entrez/eutils/"


def test_unresolvable_host_fails_at_once_naming_the_host_and_the_setting(make_settings, caplog):
    caplog.set_level(logging.DEBUG, logger=entrez.__name__)
    settings = make_settings(SimpleNamespace(url=UNRESOLVABLE), max_retries=5, backoff_base=1.0)
    with EutilsClient(settings) as client:
        with pytest.raises(EutilsError) as caught:
            plan_search(client, "aspirin")
    message = str(caught.value)
    assert message.startswith("esearch: cannot look up the host name 'eutils.litmine.invalid'")
    assert f"LITMINE_EUTILS_URL (now {UNRESOLVABLE!r})" in message and "Not retried" in message
    assert "NCBI may be down" not in message
    assert "retry" not in caplog.text  # no attempt after the first


def test_refused_connection_is_still_retried(make_settings, caplog):
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = make_settings(SimpleNamespace(url=f"http://127.0.0.1:{port}/"), max_retries=2)
    with EutilsClient(settings) as client:
        with pytest.raises(EutilsError, match=r"failed 3 times; last answer: connection failed \(ConnectError") as caught:
            plan_search(client, "aspirin")
    assert "NCBI may be down" in str(caught.value)
    assert [r.getMessage().split(" in ")[0] for r in caplog.records if "retry" in r.getMessage()] == [
        "esearch: retry 1", "esearch: retry 2"]


@pytest.mark.parametrize(("email", "warnings"), [("", 1), ("dev@litmine.invalid", 0)])
def test_a_missing_ncbi_email_is_warned_about_once(server, make_settings, caplog, monkeypatch, email, warnings):
    monkeypatch.setattr(entrez, "_email_warned", False, raising=False)  # another test of this process may have warned
    for _ in range(2):
        with EutilsClient(make_settings(server, ncbi_email=email)) as client:
            plan_search(client, "all[sb]", max_results=1)
    said = [r for r in caplog.records if r.levelno == logging.WARNING and "NCBI_EMAIL" in r.getMessage()]
    assert len(said) == warnings
    assert {r.params.get("email") for r in server.requests()} == {email or None}


# -- PubMed's 9,999-record cap ---------------------------------------------------------------
def test_search_over_the_cap_is_split_into_entry_date_windows(server, make_settings):
    server.cap = 20
    server.set_entry_dates(dict(zip(server.pmids, WEEKLY)))
    with EutilsClient(make_settings(server), cap=20) as client:
        batches = plan_search(client, "all[sb]")  # from 1781/01/01 to tomorrow
        got = fetch_all(client, batches, threads=2)
    assert sorted(got) == sorted(server.pmids) and len(got) == 60  # every record exactly once
    windows = sorted({(b.mindate, b.maxdate, b.count) for b in batches})
    assert len(windows) >= 3 and all(count <= 20 for _, _, count in windows)
    for (_, end, _), (start, _, _) in zip(windows, windows[1:]):
        assert date.fromisoformat(start.replace("/", "-")) == date.fromisoformat(end.replace("/", "-")) + timedelta(days=1)
    assert all(r.status == 200 for r in server.requests())


def test_max_results_stops_the_window_search_early(server, make_settings):
    server.cap = 20
    server.set_entry_dates(dict(zip(server.pmids, WEEKLY)))
    span = dict(mindate="2019/01/01", maxdate="2020/12/31")
    with EutilsClient(make_settings(server), cap=20) as client:
        got = fetch_all(client, plan_search(client, "all[sb]", max_results=30, **span))
        searches = len(server.requests("esearch"))
        plan_search(client, "all[sb]", **span)
    assert len(got) == len(set(got)) == 30 and set(got) <= set(server.pmids)
    assert searches < len(server.requests("esearch")) - searches


def test_single_day_over_the_cap_fails_unless_partial_is_allowed(server, make_settings):
    server.cap = 20
    server.set_entry_dates({p: date(2020, 5, 17) if i < 25 else WEEKLY[i] for i, p in enumerate(server.pmids)})
    span = dict(mindate="2019/01/01", maxdate="2020/12/31")
    with EutilsClient(make_settings(server), cap=20) as client:
        with pytest.raises(EutilsError, match="25 records of 'all\\[sb\\]' have the Entrez date 2020/05/17"):
            plan_search(client, "all[sb]", **span)
        got = fetch_all(client, plan_search(client, "all[sb]", allow_partial=True, **span))
    assert len(got) == len(set(got)) == 35 + 20
