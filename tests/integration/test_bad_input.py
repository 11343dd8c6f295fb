"""Bad input never sinks a run: every bad record becomes a `rejects` row (source, PMID if known,
reason) counted in the run report, every good one is stored; bad arguments and parameters are
refused up front with one clear line.

The input is built from real records of the bundled sample (data/sample/pubmedsample18n0001.xml.gz)
and a real NCBI update file cut in half (tests/fixtures/pubmed/pubmed26n1334.xml.gz).
"""

from __future__ import annotations

import gzip
import re
import sys
import zlib
from pathlib import Path
from xml.sax.saxutils import escape

import duckdb
import pytest

from litmine.errors import LitmineError
from litmine.tasks.sources.pubmed_xml import iter_pubmed_xml
from litmine.tasks.records import Article

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "pubmedsample18n0001.xml.gz"
UPDATE_FILE = ROOT / "tests" / "fixtures" / "pubmed" / "pubmed26n1334.xml.gz"
HEAD = (b'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD '
        b'PubMedArticle, 1st January 2018//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_180101.dtd">\n'
        b"<PubmedArticleSet>\n")
LONG = 100_000


def real_records(n: int) -> list[bytes]:
    """The first `n` sample records that have an abstract, as XML bytes."""
    text = gzip.decompress(SAMPLE.read_bytes())
    records = re.findall(rb"<PubmedArticle>.*?</PubmedArticle>", text, re.S)
    return [r for r in records if b"<AbstractText" in r][:n]


def parse_one(record: bytes) -> Article:
    [article] = iter_pubmed_xml(HEAD + record + b"</PubmedArticleSet>")
    return article


def with_abstract(record: bytes, abstract_xml: bytes) -> bytes:
    return re.sub(rb"<Abstract>.*?</Abstract>", lambda _: abstract_xml, record, count=1, flags=re.S)


def build_bad_file(path: Path) -> dict:
    """Write a PubMed XML file with one record of each kind of trouble; return what to expect."""
    r = real_records(12)
    pmid = [parse_one(x).pmid for x in r]
    original = [parse_one(x) for x in r]
    long_text = " ".join([original[6].abstract] * (LONG // len(original[6].abstract) + 1))[: LONG - 1] + "."
    unknown = b"<FutureElement2031 Kind=\"x\">not litmine's business</FutureElement2031>"
    items = [
        ("good", r[0]),
        ("malformed", r[1].replace(b"</ArticleTitle>", b"</ArticleTitel>", 1)),
        ("invalid utf-8", r[2].replace(b"<ArticleTitle>", b"<ArticleTitle>\xff\xfe", 1)),
        ("no pmid", re.sub(rb"<PMID[^>]*>\d+</PMID>", b"", r[3], count=1)),
        ("duplicate, first copy", r[4]),
        ("empty abstract", with_abstract(r[5], b"<Abstract><AbstractText/></Abstract>")),
        ("long abstract", with_abstract(r[6], b"<Abstract><AbstractText>" + escape(long_text).encode()
                                        + b"</AbstractText></Abstract>")),
        ("control characters", r[7].replace(b"<ArticleTitle>", b"<ArticleTitle>\x01&#x1F;\x7f", 1)
         .replace(b"</AbstractText>", b"\x0b&#8;</AbstractText>", 1)),
        ("unknown elements", re.sub(rb"(<MedlineCitation[^>]*>)", lambda m: m.group(1) + unknown, r[8], count=1)
         .replace(b"</ArticleTitle>", b"</ArticleTitle>" + unknown, 1)),
        ("nothing to mine", with_abstract(re.sub(rb"<ArticleTitle>.*?</ArticleTitle>", b"<ArticleTitle/>",
                                                 r[9], count=1, flags=re.S), b"")),
        ("good", r[10]),
        ("duplicate, second copy", r[4]),
        ("good", r[11]),
    ]
    path.write_bytes(HEAD + b"\n".join(x for _, x in items) + b"\n</PubmedArticleSet>\n")
    stored = {pmid[i]: original[i].text for i in (0, 4, 7, 8, 10, 11)}
    stored[pmid[5]] = original[5].title + " "
    stored[pmid[6]] = original[6].title + " " + long_text
    rejects = {(None, "malformed XML at line"), (pmid[2], "not valid UTF-8"), (None, "no PMID"),
               (pmid[4], "duplicate PMID"), (pmid[9], "no title and no abstract")}
    return {"stored": stored, "rejects": rejects, "long": pmid[6], "kinds": [k for k, _ in items]}


def build_cut_file(path: Path) -> dict[str, str]:
    """An update file cut at half its gzip bytes; returns the records whole before the cut."""
    cut = UPDATE_FILE.read_bytes()[: UPDATE_FILE.stat().st_size // 2]
    path.write_bytes(cut)
    prefix = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(cut)
    whole = re.findall(rb"<PubmedArticle>.*?</PubmedArticle>", prefix, re.S)
    articles = [a for a in iter_pubmed_xml(HEAD + b"".join(whole) + b"</PubmedArticleSet>")
                if isinstance(a, Article)]
    return {a.pmid: a.text for a in articles}


def read_artifact(flow_run_id: str) -> str:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    return "\n".join(a.data for a in artifacts)


@pytest.fixture
def model_env(monkeypatch, tiny_ner_model, prefect_harness):
    from litmine.settings import get_settings

    monkeypatch.setenv("LITMINE_MODEL", str(tiny_ner_model))
    get_settings(fresh=True)
    yield tiny_ner_model
    monkeypatch.undo()
    get_settings(fresh=True)


def test_bad_records_become_rejects_and_good_ones_are_stored(model_env, tmp_path):
    from litmine.flows.mine import mine

    bad, cut, db = tmp_path / "bad.xml", tmp_path / "pubmed26n1334.xml.gz", tmp_path / "x.duckdb"
    expected = build_bad_file(bad)
    before_cut = build_cut_file(cut)
    assert 5 < len(before_cut) < 30

    result = mine(files=[str(bad), str(cut)], db=str(db), batch_size=4, device="cpu")

    with duckdb.connect(str(db), read_only=True) as con:
        stored = dict(con.execute("SELECT pmid, title || ' ' || abstract FROM articles").fetchall())
        rejects = con.execute("SELECT source, pmid, reason FROM rejects ORDER BY ALL").fetchall()
        last_end = con.execute("SELECT max(end_offset) FROM sentences WHERE pmid = ?",
                               [expected["long"]]).fetchone()[0]
        [(status, counts)] = con.execute("SELECT status, counts FROM runs").fetchall()
    # Good records: all stored, with their text as it should read.
    assert stored == expected["stored"] | before_cut
    assert len(stored[expected["long"]].split(" ", 1)[1]) >= LONG - 200  # title + " " + 100,000 characters
    assert last_end == len(stored[expected["long"]])  # sentences reach the end of the long abstract
    # Bad records: one rejects row each, with source, PMID when it is known, and the reason.
    from_bad = {(pmid, next(r for _, r in expected["rejects"] if r in reason))
                for source, pmid, reason in rejects if source == str(bad)}
    assert from_bad == expected["rejects"]
    assert [(s, p) for s, p, reason in rejects if s == str(cut) and "truncated or corrupt" in reason] == [(str(cut), None)]
    assert len(rejects) == len(expected["rejects"]) + 1
    # ... and counted in the run report: the flow's counts, the runs row and the artifact.
    assert result["rejects"] == len(rejects) == 6
    # Rows written: the duplicate's two copies sat in different batches; the second replaced the first.
    assert result["articles"] == len(stored) + 1
    assert status == "completed" and '"rejects": 6' in counts
    assert "| rejects | 6 |" in read_artifact(result["run_id"])


def litmine_main(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """Run the `litmine` entry point in this process: (exit status, stderr + stdout)."""
    from litmine import cli

    monkeypatch.setattr(sys, "argv", ["litmine", *args])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    captured = capsys.readouterr()
    return exited.value.code, " ".join((captured.err + captured.out).split())  # rich wraps lines


@pytest.mark.parametrize("args, status, message", [
    (["--files", "{sample}", "--max-results", "0"], 2,
     "Invalid value for '--max-results': Input should be greater than or equal to 1"),
    (["--files", "{sample}", "--batch-size", "-1"], 2,
     "Invalid value for '--batch-size': Input should be greater than or equal to 1"),
    (["--files", "{sample}", "--batch-size", "many"], 2, "Invalid value for '--batch-size': Input should be a valid integer"),
    (["--files", "{sample}", "--no-such-option"], 2, "No such option: --no-such-option"),
    (["--query", "aspirin", "--files", "{sample}"], 1, "give exactly one of --query or --files"),
    ([], 1, "give exactly one of --query or --files"),
    (["--query", ""], 1, "mine: the query is empty; give a PubMed query"),
    (["--query", "  "], 1, "mine: the query is empty; give a PubMed query"),
    (["--files", "{tmp}/nope.xml"], 1, "input file {tmp}/nope.xml does not exist"),
    (["--files", "{tmp}"], 1, "{tmp} is a directory, not a file"),
], ids=["max-results-0", "batch-size-negative", "batch-size-word", "unknown-option", "query-and-files",
        "neither", "empty-query", "blank-query", "missing-file", "directory"])
def test_mine_arguments_are_checked_before_any_work(monkeypatch, capsys, tmp_path, args, status, message):
    args = [a.format(tmp=tmp_path, sample=SAMPLE) for a in args]
    code, output = litmine_main(monkeypatch, capsys, "mine", *args, "--db", str(tmp_path / "x.duckdb"))
    assert code == status and message.format(tmp=tmp_path) in output
    assert "Traceback" not in output and not (tmp_path / "x.duckdb").exists()


@pytest.mark.parametrize("command", [["sql", "SELECT 1"], ["info"], ["export"], ["watch", "list"],
                                     ["runs"], ["search", "aspirin"], ["watch", "add", "w", "-q", "x"]])
def test_a_directory_as_db_is_named_as_one(monkeypatch, capsys, tmp_path, command):
    code, output = litmine_main(monkeypatch, capsys, *command, "--db", str(tmp_path))
    assert code == 1 and f"{tmp_path} is a directory; pass a .duckdb file" in output
    assert "does not exist" not in output and "Traceback" not in output


@pytest.mark.parametrize("command", ["info", "export"])
def test_info_and_export_errors_name_their_own_command(monkeypatch, capsys, tmp_path, command):
    code, output = litmine_main(monkeypatch, capsys, command, "--db", str(tmp_path / "none.duckdb"))
    assert code == 1 and f"error: {command}: database {tmp_path / 'none.duckdb'} does not exist" in output
    assert "sql:" not in output


@pytest.mark.parametrize("make, message", [
    (lambda tmp: ["--files", str(SAMPLE), "--model", str(tmp)], "is not a model directory (no config.json)"),
    (lambda tmp: ["--files", str(SAMPLE), "--model", str(tmp / "no-such-model")], "does not exist"),
    (lambda tmp: ["--files", str(tmp / "paper.pdf")], "is neither PubMed XML, BioC (XML or JSON) nor PubTator"),
], ids=["model-without-config", "missing-model", "not-pubmed-xml"])
def test_a_bad_model_or_input_fails_the_run_in_one_line(model_env, monkeypatch, capsys, tmp_path, make, message):
    (tmp_path / "paper.pdf").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    code, output = litmine_main(monkeypatch, capsys, "mine", *make(tmp_path), "--db", str(tmp_path / "x.duckdb"),
                                "--no-progress", "--device", "cpu")
    assert code == 1 and message in output and "Traceback" not in output
    assert not (tmp_path / "x.duckdb").exists()  # failed before the database was touched


@pytest.mark.parametrize("kwargs, error, message", [
    ({}, LitmineError, "give exactly one of query or files"),
    ({"files": [str(SAMPLE)], "batch_size": 0}, LitmineError, "batch_size must be at least 1, got 0"),
    ({"query": "aspirin", "max_results": -5}, LitmineError, "max_results must be at least 1, got -5"),
    ({"files": [str(SAMPLE)], "batch_size": "many"}, Exception, "batch_size"),
], ids=["neither", "batch-size-0", "max-results-negative", "batch-size-word"])
def test_mine_flow_parameters_are_checked(model_env, tmp_path, kwargs, error, message):
    from litmine.flows.mine import mine

    with pytest.raises(error, match=re.escape(message)):
        mine(db=str(tmp_path / "x.duckdb"), **kwargs)
    assert not (tmp_path / "x.duckdb").exists()
