"""A local E-utilities server (PubMed esearch + efetch) over a corpus of real PubMed XML records.

It speaks the part of NCBI's protocol litmine uses, with NCBI's own response shapes (taken from
recorded responses: Biopython's Tests/Entrez/esearch*.xml, hawc's efetch cassettes):

- ``esearch.fcgi``: ``term`` ("all[sb]" = everything; otherwise words matched in title/abstract,
  AND within a group, " OR " between groups), ``usehistory=y`` -> WebEnv/QueryKey, ``retstart`` /
  ``retmax``, ``datetype=edat`` + ``mindate``/``maxdate`` (the record's Entrez date), and PubMed's
  cap: past record ``cap`` (9,999) a search cannot be paged (NCBI's error text).
- ``efetch.fcgi``: ``WebEnv`` + ``query_key`` + ``retstart``/``retmax``, or ``id=...``; GET or POST;
  a ``<PubmedArticleSet>`` in search order. A session serves only its first ``cap`` records: a
  page that straddles the cap is clamped silently, one that starts past it is HTTP 400 (as
  measured against NCBI by bmlib, doc "publications -- how far a PubMed history session can be
  walked", 2026-08-20).
- NCBI's rate limit: more than ``rate`` requests (``rate_with_key`` with an api_key) arriving in
  any 1-second window are answered 429 with NCBI's JSON body and a Retry-After header.
- Faults for the next N requests (`fail_next`): see `FAULTS`.

Every request is logged (`requests()`); the corpus can change at runtime (`add_records`).
Standalone: ``python -m tests.support.eutils_server --port 8765 --corpus FILE.xml[.gz] ...``
"""

from __future__ import annotations

import argparse
import calendar
import gzip
import json
import re
import secrets
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

PREFIX = "/entrez/eutils/"
ESEARCH_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD esearch '
    '20060628//EN" "https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">\n'
)
EFETCH_HEAD = (  # as efetch sent it on 2024-09-05 (hawc cassettes)
    '<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st '
    'January 2024//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_240101.dtd">\n'
)
EFETCH_ERROR_HEAD = (  # NCBI's own typo "eEfetchResult" included
    '<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eEfetchResult PUBLIC "-//NLM//DTD efetch '
    '20131226//EN" "https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20131226/efetch.dtd">\n'
)
#: Fault kinds for `fail_next`: HTTP errors with an HTML body, NCBI's 429, a TCP reset, an answer
#: that comes after `stall_seconds`, a 200 body cut in half, an <ERROR> in a 200 body (a
#: backend failure), and the error of an expired WebEnv.
FAULTS = ("500", "502", "503", "429", "reset", "stall", "truncate", "error", "expired")
_RECORD = re.compile(r"<(PubmedArticle|PubmedBookArticle)>.*?</\1>", re.S)
_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


@dataclass(frozen=True)
class Record:
    """One PubMed record: its XML element verbatim, its Entrez date and its searchable words."""

    pmid: str
    xml: str
    entry_date: date
    words: frozenset[str]


@dataclass
class LoggedRequest:
    """One request as the server saw it (api_key kept, so tests can check it was sent)."""

    method: str
    endpoint: str  # "esearch", "efetch", ...
    params: dict[str, str]
    time: float  # time.monotonic() at arrival
    client: str
    status: int = 0
    fault: str = ""


@dataclass
class _Fault:
    kind: str
    remaining: int
    endpoint: str | None


@dataclass
class _Answer:
    status: int
    body: bytes = b""
    ctype: str = "text/xml; charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)
    action: str = ""  # "reset" | "stall"


def _date_of(el: ET.Element | None) -> date | None:
    try:
        return date(int(el.findtext("Year")), int(el.findtext("Month") or 1), int(el.findtext("Day") or 1))
    except (AttributeError, TypeError, ValueError):
        return None


def parse_records(text: str) -> list[Record]:
    """The PubmedArticle/PubmedBookArticle records of a PubMed XML document, verbatim."""
    records = []
    for match in _RECORD.finditer(text):
        el = ET.fromstring(match.group(0))
        pmid = el.findtext("MedlineCitation/PMID") or el.findtext("BookDocument/PMID") or ""
        # Entrez date (EDAT) = PubStatus "entrez"; older records may only have "pubmed".
        found = [_date_of(el.find(f".//PubMedPubDate[@PubStatus='{s}']")) for s in ("entrez", "pubmed")]
        found.append(_date_of(el.find(".//DateCompleted")))
        edat = next((d for d in found if d), date(1900, 1, 1))
        text_parts = [
            "".join(t.itertext())
            for path in (".//ArticleTitle", ".//BookTitle", ".//AbstractText")
            for t in el.iterfind(path)
        ]
        words = frozenset(re.findall(r"\w+", " ".join(text_parts).lower()))
        records.append(Record(pmid.strip(), match.group(0), edat, words))
    return records


def load_records(*paths: str | Path) -> list[Record]:
    """The records of PubMed XML files (.xml or .xml.gz)."""
    out = []
    for path in paths:
        raw = Path(path).read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        out.extend(parse_records(raw.decode("utf-8")))
    return out


def matches(term: str, record: Record) -> bool:
    """Whether `record` matches a simple PubMed term (see module docstring)."""
    term = term.strip()
    if term.lower() in ("", "all[sb]", "all"):
        return True
    for group in re.split(r"\s+OR\s+", term):
        words = re.findall(r"\w+", re.sub(r"\[[^\]]*\]|\bAND\b", " ", group).lower())
        if words and all(w in record.words for w in words):
            return True
    return False


def busiest_second(times: list[float], width: float = 1.0) -> int:
    """The largest number of `times` that fall in any window (t - width, t]."""
    times, best, lo = sorted(times), 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def _parse_date(text: str, last: bool) -> date:
    """A PubMed date "YYYY", "YYYY/MM" or "YYYY/MM/DD"; a partial one as its first or last day."""
    parts = [int(p) for p in re.split(r"[/-]", text.strip())]
    year, month = parts[0], parts[1] if len(parts) > 1 else (12 if last else 1)
    day = parts[2] if len(parts) > 2 else (calendar.monthrange(year, month)[1] if last else 1)
    return date(year, month, day)


class EutilsServer:
    """A real HTTP server on 127.0.0.1 serving E-utilities over `records`; a context manager."""

    def __init__(self, records=(), *, cap: int = 9999, rate: float = 3, rate_with_key: float = 10,
                 enforce_rate: bool = True, retry_after: str | None = "1", stall_seconds: float = 2.0,
                 host: str = "127.0.0.1", port: int = 0):
        self.cap, self.rate, self.rate_with_key = cap, rate, rate_with_key
        self.enforce_rate, self.retry_after, self.stall_seconds = enforce_rate, retry_after, stall_seconds
        self._lock = threading.RLock()
        self._records: dict[str, Record] = {}
        self._sessions: dict[str, list[list[str]]] = {}
        self._faults: list[_Fault] = []
        self._log: list[LoggedRequest] = []
        self._arrivals: dict[str, deque[float]] = {}
        self._stopping = threading.Event()
        self.add_records(records)
        self._httpd = ThreadingHTTPServer((host, port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.eutils = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL, as LITMINE_EUTILS_URL takes it: http://127.0.0.1:PORT/entrez/eutils/."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}{PREFIX}"

    def start(self) -> EutilsServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="eutils-server",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> EutilsServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- corpus, sessions, faults, log ----------------------------------------------------
    def add_records(self, records, entry_date: date | None = None) -> list[str]:
        """Add (or replace, by PMID) records: Record objects, XML text, or file paths."""
        items: list[Record] = []
        for item in records:
            if isinstance(item, Record):
                items.append(item)
            elif isinstance(item, Path) or (isinstance(item, str) and "<" not in item):
                items.extend(load_records(item))
            else:
                items.extend(parse_records(item))
        with self._lock:
            for rec in items:
                if entry_date is not None:
                    rec = Record(rec.pmid, rec.xml, entry_date, rec.words)
                self._records[rec.pmid] = rec
        return [r.pmid for r in items]

    def set_entry_dates(self, dates: dict[str, date]) -> None:
        """Give records another Entrez date (to shape EDAT windows in tests)."""
        with self._lock:
            for pmid, edat in dates.items():
                rec = self._records[pmid]
                self._records[pmid] = Record(rec.pmid, rec.xml, edat, rec.words)

    def remove_records(self, pmids) -> None:
        with self._lock:
            for pmid in pmids:
                self._records.pop(str(pmid), None)

    @property
    def pmids(self) -> list[str]:
        """All PMIDs in search order (newest Entrez date first, then highest PMID)."""
        return self._search("all[sb]", None, None)

    def expire_sessions(self) -> None:
        """Forget every WebEnv, as NCBI does after some hours."""
        with self._lock:
            self._sessions.clear()

    def fail_next(self, kind: str, times: int = 1, endpoint: str | None = None) -> None:
        """Answer the next `times` requests (to `endpoint`, or any) with fault `kind`."""
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULTS}")
        with self._lock:
            self._faults.append(_Fault(kind, times, endpoint))

    def requests(self, endpoint: str | None = None) -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self._log if endpoint is None or r.endpoint == endpoint]

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    # -- the protocol ---------------------------------------------------------------------
    def _search(self, term: str, mindate: date | None, maxdate: date | None) -> list[str]:
        with self._lock:
            hits = [r for r in self._records.values() if matches(term, r)
                    and (mindate is None or mindate <= r.entry_date <= maxdate)]
        hits.sort(key=lambda r: (r.entry_date, int(r.pmid) if r.pmid.isdigit() else 0), reverse=True)
        return [r.pmid for r in hits]

    def _take_fault(self, endpoint: str) -> str:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.endpoint in (None, endpoint):
                    fault.remaining -= 1
                    return fault.kind
        return ""

    def _over_rate(self, entry: LoggedRequest) -> _Answer | None:
        who = entry.params.get("api_key") or entry.client
        limit = self.rate_with_key if entry.params.get("api_key") else self.rate
        with self._lock:
            window = self._arrivals.setdefault(who, deque())
            while window and window[0] <= entry.time - 1.0:
                window.popleft()
            window.append(entry.time)
            count = len(window)
        if not self.enforce_rate or count <= limit:
            return None
        return self._too_many(who, count, limit)

    def _too_many(self, who: str, count: int, limit: float) -> _Answer:
        body = {"error": "API rate limit exceeded", "api-key": who, "count": str(count), "limit": str(int(limit))}
        headers = {"X-RateLimit-Limit": str(int(limit)), "X-RateLimit-Remaining": "0"}
        if self.retry_after is not None:
            headers["Retry-After"] = self.retry_after
        return _Answer(429, json.dumps(body, separators=(",", ":")).encode(), "application/json", headers)

    def answer(self, entry: LoggedRequest) -> _Answer:
        """The answer to one logged request (rate limit, then faults, then the endpoint)."""
        limited = self._over_rate(entry)
        if limited:
            return limited
        entry.fault = fault = self._take_fault(entry.endpoint)
        if fault in ("500", "502", "503"):
            code = int(fault)
            html = f"<html><head><title>{code} {_REASONS[code]}</title></head><body><h1>{_REASONS[code]}</h1></body></html>"
            return _Answer(code, html.encode(), "text/html")
        if fault == "429":
            return self._too_many(entry.params.get("api_key") or entry.client, 99, self.rate)
        if fault in ("reset", "stall"):
            return _Answer(0, action=fault)
        if fault in ("error", "expired"):
            text = "Unable to obtain query #1" if fault == "expired" else "Search Backend failed: Timeout"
            return self._error(entry.endpoint, text, 200)
        answer = self._endpoint(entry.endpoint, entry.params)
        if fault == "truncate" and answer.status == 200:
            answer.body = answer.body[: len(answer.body) // 2]
        return answer

    def _error(self, endpoint: str, text: str, status: int) -> _Answer:
        if endpoint == "efetch":
            body = f"{EFETCH_ERROR_HEAD}<eFetchResult>\n\t<ERROR>{escape(text)}</ERROR>\n</eFetchResult>\n"
        else:
            body = f"{ESEARCH_HEAD}<eSearchResult>\n\t<ERROR>{escape(text)}</ERROR>\n</eSearchResult>\n"
        return _Answer(status, body.encode())

    def _cap_error(self, endpoint: str) -> _Answer:
        text = (f"Search Backend failed: Exception:\n'retstart' cannot be larger than {self.cap - 1}. "
                f"For PubMed, ESearch can only retrieve the first {self.cap:,} records matching the "
                f"query. To obtain more than {self.cap:,} PubMed records, consider using EDirect that "
                "contains additional logic to batch PubMed search results automatically so that an "
                "arbitrary number can be retrieved. For details see https://www.ncbi.nlm.nih.gov/books/NBK25499/")
        return self._error(endpoint, text, 200 if endpoint == "esearch" else 400)

    def _endpoint(self, endpoint: str, p: dict[str, str]) -> _Answer:
        if endpoint not in ("esearch", "efetch"):
            return _Answer(404, b"<html><body>Not Found</body></html>", "text/html")
        if p.get("db", "pubmed") != "pubmed":
            return self._error(endpoint, f"Invalid db name specified: {p.get('db')}", 200)
        try:
            retstart, retmax = int(p.get("retstart", 0)), int(p.get("retmax", 20 if endpoint == "esearch" else self.cap))
        except ValueError:
            return self._error(endpoint, "Invalid retstart/retmax", 400)
        return (self._esearch if endpoint == "esearch" else self._efetch)(p, retstart, max(retmax, 0))

    def _esearch(self, p: dict[str, str], retstart: int, retmax: int) -> _Answer:
        term, mindate, maxdate = p.get("term", ""), None, None
        translation = escape(term)
        if p.get("mindate") and p.get("maxdate"):
            if p.get("datetype", "edat") != "edat":
                return self._error("esearch", "this test server only filters on datetype=edat", 200)
            mindate, maxdate = _parse_date(p["mindate"], False), _parse_date(p["maxdate"], True)
            translation += f" AND {p['mindate']}:{p['maxdate']}[Date - Entry]"
        ids = self._search(term, mindate, maxdate)
        if p.get("rettype") == "count":
            return _Answer(200, f"{ESEARCH_HEAD}<eSearchResult>\n\t<Count>{len(ids)}</Count>\n</eSearchResult>\n".encode())
        if retstart > self.cap - 1:
            return self._cap_error("esearch")
        page = ids[retstart: retstart + min(retmax, self.cap - retstart)]
        history = ""
        if p.get("usehistory") == "y":
            with self._lock:
                webenv = p.get("WebEnv") if p.get("WebEnv") in self._sessions else f"MCID_{secrets.token_hex(12)}"
                self._sessions.setdefault(webenv, []).append(ids)
                history = f"<QueryKey>{len(self._sessions[webenv])}</QueryKey><WebEnv>{webenv}</WebEnv>"
        id_list = "<IdList>\n" + "".join(f"<Id>{i}</Id>\n" for i in page) + "</IdList>" if page else "<IdList/>"
        tail = "" if ids else "<WarningList><OutputMessage>No items found.</OutputMessage></WarningList>"
        body = (f"{ESEARCH_HEAD}<eSearchResult><Count>{len(ids)}</Count><RetMax>{len(page)}</RetMax>"
                f"<RetStart>{retstart}</RetStart>{history}{id_list}<TranslationSet/>"
                f"<QueryTranslation>{translation}</QueryTranslation>{tail}</eSearchResult>\n")
        return _Answer(200, body.encode())

    def _efetch(self, p: dict[str, str], retstart: int, retmax: int) -> _Answer:
        if p.get("id"):
            ids = [i for i in re.split(r"[,\s]+", p["id"]) if i]
        elif p.get("WebEnv"):
            key = p.get("query_key", "1")
            with self._lock:
                session = self._sessions.get(p["WebEnv"], [])
                ids = session[int(key) - 1] if key.isdigit() and 0 < int(key) <= len(session) else None
            if ids is None:
                return self._error("efetch", f"Unable to obtain query #{key}", 200)
            if retstart > self.cap - 1:
                return self._cap_error("efetch")
            ids = ids[retstart: min(retstart + retmax, self.cap)]
        else:
            return self._error("efetch", "Empty id list - nothing todo", 200)
        with self._lock:
            found = [self._records[i].xml for i in ids if i in self._records]
        body = EFETCH_HEAD + "<PubmedArticleSet>\n" + "".join(x + "\n" for x in found) + "</PubmedArticleSet>\n"
        return _Answer(200, body.encode())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # drop idle keep-alive connections

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def log_message(self, format, *args) -> None:  # noqa: A002 - quiet; see server.requests()
        pass

    def _serve(self, method: str) -> None:
        server: EutilsServer = self.server.eutils  # type: ignore[attr-defined]
        arrived = time.monotonic()
        url = urlsplit(self.path)
        pairs = parse_qsl(url.query, keep_blank_values=True)
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            pairs += parse_qsl(self.rfile.read(length).decode("utf-8"), keep_blank_values=True)
        params: dict[str, str] = {}
        for key, value in pairs:  # repeated id=1&id=2 (as Biopython posts) -> "1,2"
            params[key] = f"{params[key]},{value}" if key == "id" and key in params else value
        endpoint = url.path[len(PREFIX):].removesuffix(".fcgi") if url.path.startswith(PREFIX) else url.path
        entry = LoggedRequest(method, endpoint, params, arrived, self.client_address[0])
        with server._lock:
            server._log.append(entry)
        answer = server.answer(entry)
        if answer.action == "reset":
            entry.status = -1
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if answer.action == "stall":
            server._stopping.wait(server.stall_seconds)
            answer = server._endpoint(endpoint, params)
        entry.status = answer.status
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.ctype)
            self.send_header("Content-Length", str(len(answer.body)))
            for key, value in answer.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(answer.body)
        except OSError:  # the client gave up (stall) or went away
            self.close_connection = True


def main(argv: list[str] | None = None) -> None:
    """Serve a corpus until interrupted (for trying the pipeline without NCBI)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--corpus", nargs="+", default=[], help="PubMed XML files (.xml or .xml.gz)")
    parser.add_argument("--cap", type=int, default=9999)
    parser.add_argument("--rate", type=float, default=3)
    parser.add_argument("--no-rate-limit", action="store_true")
    args = parser.parse_args(argv)
    server = EutilsServer(args.corpus, cap=args.cap, rate=args.rate, enforce_rate=not args.no_rate_limit,
                          host=args.host, port=args.port)
    print(f"{len(server.pmids)} records; LITMINE_EUTILS_URL={server.url}", flush=True)
    with server:
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
