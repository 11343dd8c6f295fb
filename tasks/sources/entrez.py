"""Search PubMed and fetch its records as PubMed XML through NCBI E-utilities (esearch + efetch).

The plan: one esearch on NCBI's history server (``usehistory=y``) gives a WebEnv/query_key; efetch
then pages through it in batches of ``Settings.fetch_batch_size``. PubMed lets one search page
through only its first 9,999 records, so a larger search is split into Entrez-date (EDAT)
windows, halving the date range until each window fits; every window is its own search. A single
day over the cap cannot be split further: `plan_search` fails, or with ``allow_partial=True``
fetches that day's first 9,999 records and logs a warning.

Requests are paced by a limiter shared by every thread of the process (3 requests/s, 10 with an
API key, or ``LITMINE_REQUESTS_PER_SECOND``). NCBI counts per API key (per IP without one), so
several *processes* that share a key must split the rate between them: set
``LITMINE_REQUESTS_PER_SECOND`` = rate / number of processes in each.

Failures that pass (HTTP 429 and 5xx, timeouts, dropped connections, truncated XML, a backend
<ERROR> in a 200 answer) are retried with exponential backoff; an expired WebEnv is searched
again. A host name that does not resolve (offline, or a wrong LITMINE_EUTILS_URL) is this machine's
problem, not NCBI's: it fails at once, naming the host and the setting; only the resolver's own
"try again later" (EAI_AGAIN) is retried. The API key never appears in a message or a log line (`redact`).
"""

from __future__ import annotations

import logging
import os
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

import httpx
from lxml import etree
from prefect import task
from prefect.cache_policies import NO_CACHE

from litmine.errors import EutilsError
from litmine.settings import Settings, get_settings

log = logging.getLogger(__name__)

#: PubMed serves only the first 9,999 records of a search: "'retstart' cannot be larger than
#: 9998. For PubMed, ESearch can only retrieve the first 9,999 records" (NCBI's error text;
#: E-utilities book NBK25499, "ESearch").
PUBMED_CAP = 9999
#: First Entrez date of a window search: before any PubMed record (coverage reaches back "very
#: selectively to 1809", Wikipedia "PubMed", 2023); an empty range costs one esearch. The last is
#: tomorrow: EDAT is never later than today, and tomorrow allows for NCBI's US time zone.
EARLIEST = date(1781, 1, 1)
#: getaddrinfo's "try again later" (EAI_AGAIN, getaddrinfo(3)): the one name-lookup failure that
#: may pass, so it is retried like a dropped connection; every other one fails at once.
_DNS_MAY_PASS = {getattr(socket, "EAI_AGAIN", -3)}
#: Times one batch may search again after NCBI forgot its WebEnv ("Unable to obtain query #1").
MAX_RESEARCHES = 3
#: Above this many characters of parameters, send a POST: NCBI asks for POST when a request is
#: long (E-utilities book NBK25499, EFetch: "more than about 200 UIDs"); 2,000 characters stays
#: under the URL lengths servers and proxies commonly accept.
MAX_GET_CHARS = 2000
_DATE = "%Y/%m/%d"
_KEY = re.compile(r"""(api[_-]key["']?\s*(?:=|:|%3D)\s*["']?)([^&"'\s,;}<]+)""", re.IGNORECASE)


def redact(text: object, secrets: Sequence[str] = ()) -> str:
    """`text` with every api_key value (URL, form, NCBI's 429 JSON) and each secret as ***."""
    out = _KEY.sub(r"\1***", str(text))
    for secret in secrets:
        if secret:
            out = out.replace(secret, "***")
    return out


class _RedactHttpxLog(logging.Filter):
    """httpx logs each request URL at INFO: keep the api_key out of it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        return True


logging.getLogger("httpx").addFilter(_RedactHttpxLog())


class RateLimiter:
    """At most N = int(rate) requests of this process reach NCBI in any N / rate seconds.

    NCBI counts arrivals, which a client cannot see: a request reaches NCBI some time after it
    starts (a loaded machine, another thread holding the GIL, the network), but always before its
    answer comes back. So a request holds a slot from its start until its answer (or failure) and
    for N / rate seconds after, whichever thread sends it, and starts only while fewer than N slots
    are held. Then no N + 1 requests can arrive within N / rate seconds, however late each one
    arrives: the last of them to start would have found the other N holding their slots. (Counting
    starts instead, with 10% and then 25% headroom, let a 4th request land within one second of
    three in fresh-clone test runs on a loaded 2-core machine; the server answered 429.)
    """

    def __init__(self, rate: float):
        self.rate = rate
        self._changed = threading.Condition()
        self._running = 0  # requests started and not yet answered
        self._ended: list[float] = []  # when recent requests were answered

    @contextmanager
    def slot(self) -> Iterator[float]:
        """Hold a slot while one request runs (wait for one first); yields the seconds waited."""
        began = time.monotonic()
        with self._changed:
            while True:
                n = max(1, int(self.rate))
                window, now = n / self.rate, time.monotonic()
                self._ended = [t for t in self._ended if t + window > now]
                if self._running + len(self._ended) < n:
                    break
                # until the oldest answered slot frees, or a running request is answered
                self._changed.wait(min(self._ended) + window - now if self._ended else None)
            self._running += 1
        try:
            yield now - began
        finally:
            with self._changed:
                self._running -= 1
                self._ended.append(time.monotonic())
                self._changed.notify_all()

    def after_fork(self) -> None:
        """In a forked child: the parent's requests in flight are not the child's (their threads
        did not come along), so their slots are let go, and the lock is new (a parent's thread
        may have held it at the fork)."""
        self._changed = threading.Condition()
        self._running = 0


_LIMITERS: dict[str, RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def get_limiter(base_url: str, rate: float) -> RateLimiter:
    """The process-wide limiter of one E-utilities base URL (the latest client's rate applies)."""
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.setdefault(base_url, RateLimiter(rate))
        limiter.rate = rate
        return limiter


def _limiters_after_fork() -> None:
    global _LIMITERS_LOCK
    _LIMITERS_LOCK = threading.Lock()
    for limiter in _LIMITERS.values():
        limiter.after_fork()


# A child forked while a request ran (multiprocessing's default on Linux) would wait forever for
# that request's slot: it never ends there.
os.register_at_fork(after_in_child=_limiters_after_fork)


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One esearch on the history server: how many records match and where NCBI keeps them."""

    count: int
    webenv: str
    query_key: str
    ids: tuple[str, ...] = ()
    query: str = ""
    mindate: str | None = None  # Entrez-date window, "YYYY/MM/DD", both or neither
    maxdate: str | None = None


@dataclass(frozen=True, slots=True)
class FetchBatch:
    """One efetch to make: records [retstart, retstart + retmax) of one search (or window)."""

    query: str
    webenv: str
    query_key: str
    retstart: int
    retmax: int
    count: int  # records in the search this batch pages through
    mindate: str | None = None
    maxdate: str | None = None
    #: The PMIDs esearch listed for this page ("" if not known); with `by_id`, efetch asks for
    #: exactly these (id=...) instead of paging the WebEnv -- a rerun fetching what is missing.
    pmids: tuple[str, ...] = ()
    by_id: bool = False

    @property
    def search(self) -> SearchResult:
        return SearchResult(self.count, self.webenv, self.query_key, (), self.query, self.mindate, self.maxdate)


class WebEnvExpired(EutilsError):
    """NCBI no longer holds the search a batch pages through; search again (fetch_batch does)."""


class _Retry(Exception):  # an answer worth asking again for
    pass


class _Fail(Exception):  # an answer that asking again will not change
    pass


def unresolved_host(exc: BaseException) -> socket.gaierror | None:
    """The name-lookup failure under an httpx error (httpx -> httpcore -> socket.gaierror), if any."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, socket.gaierror):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


_email_warned = False
_email_lock = threading.Lock()


def warn_if_no_email(settings: Settings) -> None:
    """Log once per process that NCBI_EMAIL is unset (NCBI asks every client for a contact)."""
    global _email_warned
    if settings.ncbi_email:
        return
    with _email_lock:
        if _email_warned:
            return
        _email_warned = True
    # E-utilities book NBK25497, "Usage Guidelines and Requirements": tool and email are to be
    # sent with every request, so NCBI can reach a developer before it blocks an IP.
    log.warning("NCBI_EMAIL is not set: NCBI asks every E-utilities client for a contact e-mail "
                "(sent as &email=), so it can write before blocking a misbehaving tool. "
                "Set NCBI_EMAIL=you@example.org.")


def _format_date(value: date | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.strftime(_DATE)


def _parse_xml(body: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise _Retry(f"body is not well-formed XML (truncated?): {exc}") from None
    if root is None:
        raise _Retry("empty body")
    return root


def _raise_error(text: str) -> None:
    """Classify an <ERROR> of NCBI's."""
    if "Unable to obtain query" in text:
        raise WebEnvExpired(text)
    if "cannot be larger than" in text or "Invalid" in text:
        raise _Fail(f"<ERROR>{text}</ERROR>")
    raise _Retry(f"<ERROR>{text}</ERROR>")  # backend failures ("Search Backend failed: ...") pass


def parse_esearch(body: bytes, query: str = "", mindate: str | None = None, maxdate: str | None = None) -> SearchResult:
    """The SearchResult in an esearch answer (raises on an <ERROR> or an unreadable body)."""
    root = _parse_xml(body)
    if root.tag != "eSearchResult":
        raise _Retry(f"root element <{root.tag}>, not <eSearchResult>")
    if root.find("ERROR") is not None:
        _raise_error(root.findtext("ERROR") or "")
    count = (root.findtext("Count") or "").strip()
    if not count.isdigit():
        raise _Retry("no <Count>")
    for path in ("ErrorList/*", "WarningList/*"):
        for el in root.iterfind(path):
            log.info("esearch %r: %s %s", query, el.tag, el.text)
    ids = tuple(i.text.strip() for i in root.iterfind("IdList/Id") if i.text)
    return SearchResult(int(count), root.findtext("WebEnv") or "", root.findtext("QueryKey") or "",
                        ids, query, mindate, maxdate)


def check_efetch(body: bytes, expected: int = 0) -> bytes:
    """`body` if it is a readable PubmedArticleSet (raises on an <ERROR> or an unreadable body)."""
    root = _parse_xml(body)
    if root.tag == "eFetchResult":
        _raise_error(root.findtext("ERROR") or "")
    if root.tag != "PubmedArticleSet":
        raise _Retry(f"root element <{root.tag}>, not <PubmedArticleSet>")
    got = sum(1 for el in root if el.tag in _RECORDS)
    if got < expected:  # NCBI leaves out UIDs it has nothing for; asking again returns the same
        log.warning("efetch returned %d of %d records asked for", got, expected)
    return body


class EutilsClient:
    """E-utilities for PubMed: one httpx connection pool and the process's rate limiter."""

    def __init__(self, settings: Settings | None = None, client: httpx.Client | None = None, *,
                 cap: int = PUBMED_CAP):
        self.settings = s = settings or get_settings()
        self.base_url = s.eutils_url.rstrip("/") + "/"
        self.cap = cap
        self._key = s.ncbi_api_key.get_secret_value() if s.ncbi_api_key else ""
        self._own = client is None
        self._http = client or httpx.Client(timeout=s.http_timeout, follow_redirects=True)
        self._limiter = get_limiter(self.base_url, s.rate)
        warn_if_no_email(s)
        self._renewed: dict[tuple[str, str], SearchResult] = {}
        self._renew_lock = threading.Lock()

    def __enter__(self) -> EutilsClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._own:
            self._http.close()

    def redact(self, text: object) -> str:
        return redact(text, [self._key])

    def _params(self, **params) -> dict[str, str]:
        out = {"db": "pubmed", "tool": self.settings.tool}
        if self.settings.ncbi_email:
            out["email"] = self.settings.ncbi_email
        if self._key:
            out["api_key"] = self._key
        out.update({k: str(v) for k, v in params.items() if v is not None})
        return out

    def esearch(self, query: str, *, mindate: date | str | None = None, maxdate: date | str | None = None,
                retmax: int = 0) -> SearchResult:
        """Search PubMed (within an Entrez-date window if given) and keep the result on NCBI."""
        lo, hi = _format_date(mindate), _format_date(maxdate)
        if lo or hi:  # NCBI needs both ends
            lo = lo or EARLIEST.strftime(_DATE)
            hi = hi or (date.today() + timedelta(days=1)).strftime(_DATE)
        params = self._params(term=query, usehistory="y", retmax=retmax,
                              datetype="edat" if lo else None, mindate=lo, maxdate=hi)
        return self._call("esearch", params, lambda body: parse_esearch(body, query, lo, hi))

    def efetch(self, search: SearchResult, retstart: int, retmax: int) -> bytes:
        """Records [retstart, retstart + retmax) of `search` as PubMed XML (raw bytes)."""
        params = self._params(WebEnv=search.webenv, query_key=search.query_key, retstart=retstart,
                              retmax=retmax, retmode="xml")
        expected = max(0, min(retmax, search.count - retstart, self.cap - retstart))
        return self._call("efetch", params, lambda body: check_efetch(body, expected))

    def efetch_ids(self, pmids: Sequence[str]) -> bytes:
        """The records of these PMIDs as PubMed XML (raw bytes); a long list is POSTed."""
        params = self._params(id=",".join(pmids), retmode="xml")
        return self._call("efetch", params, lambda body: check_efetch(body, len(pmids)))

    def _call(self, stage: str, params: dict[str, str], check: Callable[[bytes], object]):
        url = f"{self.base_url}{stage}.fcgi"
        shown = self.redact(f"{url}?{urlencode({k: v for k, v in params.items() if k != 'api_key'})}")
        s, last, retry_after, status = self.settings, "nothing", None, 0
        for attempt in range(s.max_retries + 1):
            if attempt:
                self._pause(stage, attempt, retry_after, last)
            retry_after, status, looked_up = None, 0, False
            try:
                with self._limiter.slot():
                    if len(urlencode(params)) > MAX_GET_CHARS:
                        response = self._http.post(url, data=params)
                    else:
                        response = self._http.get(url, params=params)
            except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
                raise EutilsError(self.redact(f"{stage}: cannot send to {shown}: {exc}. Check LITMINE_EUTILS_URL.")) from None
            except httpx.TimeoutException as exc:
                last = f"no answer within {s.http_timeout:g} s ({type(exc).__name__})"
                continue
            except httpx.TransportError as exc:
                dns = unresolved_host(exc)
                if dns is not None and dns.errno not in _DNS_MAY_PASS:
                    raise EutilsError(self.redact(
                        f"{stage}: cannot look up the host name {httpx.URL(url).host!r} of {shown} ({dns}): "
                        "NCBI was not reached. Is this machine offline, or is the name wrong? Check the "
                        f"network connection, and LITMINE_EUTILS_URL (now {s.eutils_url!r}). "
                        "Not retried: asking again will not change a name that does not resolve.")) from None
                last = f"connection failed ({type(exc).__name__}: {exc})"
                looked_up = dns is not None
                continue
            status, body = response.status_code, response.content
            error = re.search(rb"<ERROR>(.*?)</ERROR>", body, re.S)  # NCBI's own words, if any
            last = f"HTTP {status} {(error.group(0) if error else body)[:200].decode('utf-8', 'replace')!r}"
            if status == 429 or status >= 500:
                retry_after = _seconds(response.headers.get("Retry-After"))
                continue
            try:
                if status != 200:
                    if b"Unable to obtain query" in body:
                        raise WebEnvExpired(body[:200].decode("utf-8", "replace"))
                    raise _Fail()
                return check(body)
            except WebEnvExpired:
                raise WebEnvExpired(self.redact(f"{stage}: {shown}: NCBI no longer holds this search ({last})")) from None
            except _Retry as exc:
                last += f": {exc}"
            except _Fail as exc:
                why = f" ({exc})" if str(exc) else ""
                raise EutilsError(self.redact(
                    f"{stage}: {shown} was refused: {last}{why}. Check the query and parameters: "
                    "this is no passing failure, so it was not retried.")) from None
        if looked_up:  # the resolver's "try again later", every time: not NCBI's doing
            todo = (f"The host name {httpx.URL(url).host!r} could not be looked up: check this machine's "
                    f"network connection and DNS, and LITMINE_EUTILS_URL (now {s.eutils_url!r}).")
        elif status == 429:
            todo = ("NCBI's rate limit was hit: is another process using the same API key or IP? "
                    "Lower LITMINE_REQUESTS_PER_SECOND (split the rate between processes) or set NCBI_API_KEY.")
        else:
            todo = ("NCBI may be down or overloaded: run again later (NCBI asks for large jobs at weekends "
                    "or 9 pm-5 am US Eastern), raise LITMINE_MAX_RETRIES / LITMINE_HTTP_TIMEOUT, "
                    "or check LITMINE_EUTILS_URL.")
        raise EutilsError(self.redact(f"{stage}: {shown} failed {s.max_retries + 1} times; last answer: {last}. {todo}"))

    def _pause(self, stage: str, attempt: int, retry_after: float | None, last: str) -> None:
        # Exponential backoff with jitter (AWS Architecture Blog, "Exponential Backoff And Jitter").
        delay = self.settings.backoff_base * 2 ** (attempt - 1) * random.uniform(1.0, 1.25)
        if retry_after is not None:
            delay = max(delay, min(retry_after, 120.0))
        log.warning("%s: retry %d in %.2f s after %s", stage, attempt, delay, self.redact(last))
        time.sleep(delay)

    def renew(self, original: SearchResult, failed: SearchResult) -> SearchResult:
        """A fresh search for `original` after `failed` (its latest copy) expired; one per search."""
        key = (original.webenv, original.query_key)
        with self._renew_lock:
            current = self._renewed.get(key)
            if current is not None and current.webenv != failed.webenv:
                return current  # another batch searched again already
            fresh = self.esearch(original.query, mindate=original.mindate, maxdate=original.maxdate)
            if fresh.count != original.count:
                log.warning("search %r now has %d records (was %d): records near batch edges may be "
                            "fetched twice or missed", original.query, fresh.count, original.count)
            self._renewed[key] = fresh
            return fresh



def _seconds(value: str | None) -> float | None:
    """Retry-After in seconds (NCBI sends a number of seconds; an HTTP date is ignored)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _windows(client: EutilsClient, root: SearchResult, lo: date, hi: date, allow_partial: bool) -> Iterator[SearchResult]:
    """Searches that tile [lo, hi] (inclusive, newest first), each within PubMed's cap."""
    if root.count == 0:
        return
    if root.count <= client.cap:
        yield root
        return
    if lo >= hi:
        msg = (f"esearch: {root.count:,} records of {root.query!r} have the Entrez date {lo:{_DATE}}, "
               f"more than the {client.cap:,} that PubMed lets one search page through")
        if not allow_partial:
            raise EutilsError(msg + "; narrow the query (e.g. AND a journal or publication type), or "
                              f"accept only the first {client.cap:,} of them (allow_partial=True).")
        log.warning("%s; fetching the first %d only (allow_partial)", msg, client.cap)
        yield root
        return
    mid = lo + (hi - lo) // 2
    for a, b in ((mid + timedelta(days=1), hi), (lo, mid)):  # ranges are inclusive: no overlap
        window = client.esearch(root.query, mindate=a, maxdate=b, retmax=client.cap)
        yield from _windows(client, window, a, b, allow_partial)


def plan_search(client: EutilsClient, query: str, *, max_results: int | None = None,
                mindate: date | str | None = None, maxdate: date | str | None = None,
                allow_partial: bool = False) -> list[FetchBatch]:
    """The efetch batches that fetch every record of `query` (at most `max_results`).

    Each batch is independent (the flow may run them in any order, at once). A search over
    PubMed's cap is split into Entrez-date windows; a single day over the cap fails (or, with
    `allow_partial`, yields its first `cap` records and a warning).
    """
    if max_results is not None and max_results <= 0:
        return []
    # retmax=cap: the answer lists the PMIDs of each batch, so a rerun can skip those stored.
    first = client.esearch(query, mindate=mindate, maxdate=maxdate, retmax=client.cap)
    wanted = first.count if max_results is None else min(first.count, max_results)
    log.info("esearch %r: %d records, fetching %d", query, first.count, wanted)
    if wanted == 0:
        return []
    searches: Iterator[SearchResult] = iter([first])
    if wanted > client.cap:
        lo = datetime.strptime(first.mindate, _DATE).date() if first.mindate else EARLIEST
        hi = datetime.strptime(first.maxdate, _DATE).date() if first.maxdate else date.today() + timedelta(days=1)
        root = first if first.mindate else client.esearch(query, mindate=lo, maxdate=hi)
        if root.count < first.count:
            log.warning("%d records of %r have no Entrez date in %s-%s and are not fetched",
                        first.count - root.count, query, lo, hi)
        searches = _windows(client, root, lo, hi, allow_partial)
    size, batches, left = client.settings.fetch_batch_size, [], wanted
    for search in searches:
        n = min(search.count, client.cap, left)
        batches += [FetchBatch(query, search.webenv, search.query_key, start, min(size, n - start),
                               search.count, search.mindate, search.maxdate,
                               search.ids[start:start + min(size, n - start)])
                    for start in range(0, n, size)]
        left -= n
        if left <= 0:
            break
    return batches


def fetch_batch(client: EutilsClient, batch: FetchBatch) -> bytes:
    """The PubMed XML of one batch; searches again (same window, same retstart) if it expired."""
    if batch.by_id:
        return client.efetch_ids(batch.pmids)
    original = batch.search
    search = client._renewed.get((original.webenv, original.query_key), original)
    for attempt in range(MAX_RESEARCHES + 1):
        try:
            return client.efetch(search, batch.retstart, batch.retmax)
        except WebEnvExpired as exc:
            if attempt == MAX_RESEARCHES:
                raise EutilsError(f"{exc}; searched again {MAX_RESEARCHES} times and NCBI forgot it each "
                                  "time: run again later.") from None
            log.warning("efetch: WebEnv expired, searching %r again", batch.query)
            search = client.renew(original, search)
    raise AssertionError("unreachable")


def skip_stored(batch: FetchBatch, stored: Collection[str]) -> FetchBatch | None:
    """What of `batch` is left to fetch: None when all its PMIDs are `stored`, by id when some are.

    A batch whose PMIDs esearch did not list is fetched whole.
    """
    missing = tuple(p for p in batch.pmids if p not in stored)
    if not batch.pmids or len(missing) == len(batch.pmids):
        return batch
    return replace(batch, pmids=missing, retmax=len(missing), by_id=True) if missing else None


_RECORDS = ("PubmedArticle", "PubmedBookArticle")


def _pmid(el: etree._Element) -> str:
    return (el.findtext("MedlineCitation/PMID") or el.findtext("BookDocument/PMID") or "").strip()


def pmids_of(xml: bytes) -> list[str]:
    """The PMIDs of the records in a PubMed XML document, in order."""
    return [_pmid(el) for el in _parse_xml(xml) if el.tag in _RECORDS]


def iter_fetch(query: str, *, settings: Settings | None = None, max_results: int | None = None) -> Iterator[bytes]:
    """Search PubMed and yield the records' PubMed XML batch by batch, each PMID once."""
    seen: set[str] = set()
    with EutilsClient(settings) as client:
        for batch in plan_search(client, query, max_results=max_results):
            xml = fetch_batch(client, batch)
            root, dropped = _parse_xml(xml), 0
            for el in [el for el in root if el.tag in _RECORDS]:
                if _pmid(el) in seen:
                    root.remove(el)
                    dropped += 1
                seen.add(_pmid(el))
            yield etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8") if dropped else xml


# -- Prefect tasks ----------------------------------------------------------------------------
_CLIENTS: dict[tuple, EutilsClient] = {}
_CLIENTS_LOCK = threading.Lock()


def shared_client(settings: Settings | None = None) -> EutilsClient:
    """This process's client for `settings`: one connection pool for every task thread."""
    s = settings or get_settings()
    key = (s.eutils_url, s.ncbi_api_key.get_secret_value() if s.ncbi_api_key else "", s.ncbi_email,
           s.tool, s.rate, s.http_timeout, s.max_retries, s.backoff_base, s.fetch_batch_size)
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = EutilsClient(s)
        return _CLIENTS[key]


@task(name="search-pubmed", cache_policy=NO_CACHE, retries=0)
def search_pubmed(query: str, max_results: int | None = None, mindate: str | None = None,
                  maxdate: str | None = None, settings: Settings | None = None) -> list[FetchBatch]:
    """Plan the efetch batches of a PubMed query (retries happen per request, not here)."""
    return plan_search(shared_client(settings), query, max_results=max_results, mindate=mindate, maxdate=maxdate)


@task(name="fetch-articles", cache_policy=NO_CACHE, retries=0)
def fetch_articles(batch: FetchBatch, settings: Settings | None = None) -> bytes:
    """The PubMed XML of one batch."""
    return fetch_batch(shared_client(settings), batch)
