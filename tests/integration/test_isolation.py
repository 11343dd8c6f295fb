"""One bad document never sinks a run (issue 21): a per-document stage that raises on one
document rejects it, names it and its stage in `rejects`, and stores every other document exactly
as a run without it does. Real mine flow runs (tiny NER model, the shipped lexicon, the shipped
linear CID model) into real DuckDB files; the failure comes from the LITMINE_TEST_FAIL_DOCUMENT
hook, which makes the named stage raise on the named document, like LITMINE_TEST_CRASH_AT.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from litmine.errors import LitmineError
from litmine.flows.mine import mine
from litmine.settings import DEFAULT_LEXICON, get_settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SOURCE = FIXTURES / "corpora" / "bc5cdr_dev_sample.pubtator"
LINEAR = Path(__file__).resolve().parents[2] / "data" / "models" / "litmine-cid-bc5cdr" / "linear"
#: What a stored document is, run and time aside (the rows compared between runs).
TABLES = {
    "articles": "pmid, version, title, abstract",
    "sentences": "pmid, sentence_index, start_offset, end_offset, text",
    # NER scores to 4 places: a batch without the document pads differently (last-bit noise)
    "entities": "pmid, model, start_offset, end_offset, text, type, round(score, 4), concept_id, link_status",
    "pairs": "pmid, model, method, chemical, disease, chemical_id, disease_id, relation, score",
    "abbreviations": "pmid, short, long, short_start, long_start",
}


def _entries(path: Path) -> list[str]:
    return [e for e in path.read_text(encoding="utf-8").split("\n\n") if e.strip()]


def _stored(db: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"SELECT {cols} FROM {t} ORDER BY ALL").fetchall() for t, cols in TABLES.items()}
    finally:
        con.close()


def _mine(files, db, model, **kw) -> dict:
    return mine(files=[str(f) for f in files], db=str(db), model=str(model), batch_size=3,
                device="cpu", dtype="fp32", lexicon=str(DEFAULT_LEXICON), relation_model=str(LINEAR), **kw)


@pytest.fixture
def fail_document(monkeypatch):
    """fail_document("stage:PMID"): that stage raises on that document for the rest of the test."""
    def apply(spec: str) -> None:
        monkeypatch.setenv("LITMINE_TEST_FAIL_DOCUMENT", spec)
        get_settings(fresh=True)

    yield apply
    monkeypatch.undo()
    get_settings(fresh=True)


@pytest.fixture(scope="module")
def without_bad(tmp_path_factory, prefect_harness, tiny_ner_model):
    """The corpus without its second document, mined: what every other document looks like."""
    root = tmp_path_factory.mktemp("isolation")
    entries = _entries(SOURCE)
    bad = entries[1].split("|", 1)[0]
    rest = root / SOURCE.name
    rest.write_text("\n\n".join(e for i, e in enumerate(entries) if i != 1) + "\n\n", encoding="utf-8")
    db = root / "without.duckdb"
    _mine([rest], db, tiny_ner_model)
    return bad, _stored(db)


@pytest.mark.parametrize("stage", ["split", "ner", "abbreviations", "linking", "relations"])
def test_a_document_that_fails_a_stage_is_rejected_and_the_rest_stored_as_without_it(
        stage, without_bad, tmp_path, tiny_ner_model, fail_document):
    bad, expected = without_bad
    fail_document(f"{stage}:{bad}")
    db = tmp_path / "with.duckdb"
    result = _mine([SOURCE], db, tiny_ner_model)
    assert result["rejected_documents"] == 1
    assert result["articles"] == len(_entries(SOURCE)) - 1
    stored = _stored(db)
    for table in TABLES:  # the others exactly as without it; none of its rows
        assert stored[table] == expected[table], (table, set(stored[table]) ^ set(expected[table]))
    con = duckdb.connect(str(db), read_only=True)
    rejects = con.execute("SELECT source, pmid, stage, reason FROM rejects").fetchall()
    status, error = con.execute("SELECT status, error FROM runs").fetchone()
    con.close()
    assert rejects == [(str(SOURCE), bad, stage, f"{stage}: InjectedFault: test hook "
                        f"LITMINE_TEST_FAIL_DOCUMENT={stage}:{bad}; the document was not stored")]
    assert (status, error) == ("completed", None)


def test_the_cli_says_completed_with_rejected_documents_and_exits_0(without_bad, tmp_path, tiny_ner_model,
                                                                      fail_document, run_litmine):
    bad, expected = without_bad
    fail_document(f"pairs:{bad}")
    db = tmp_path / "cli.duckdb"
    code, out, err = run_litmine("mine", "--files", str(SOURCE), "--db", str(db), "--model", str(tiny_ner_model),
                                 "--batch-size", "3", "--device", "cpu", "--no-progress",
                                 "--lexicon", str(DEFAULT_LEXICON), "--relation-model", str(LINEAR))
    assert code == 0, err
    message = " ".join(err.split())
    assert "completed with 1 rejected document: each failed a stage and was not stored" in message
    assert "rejected_documents │ 1" in out
    stored = _stored(db)
    # no pairs stage ran for `bad` only when it had mentions: either way, none of its rows are kept
    assert all(row[0] != bad for rows in stored.values() for row in rows)


def test_a_stage_failing_on_every_document_stops_the_run(prefect_harness, tmp_path, tiny_ner_model,
                                                         fail_document):
    """A systematic failure (every document of a batch) is a broken stage, not bad documents:
    the run stops at once, naming the stage and the first error, and its runs row says failed."""
    fail_document("ner:*")
    db = tmp_path / "x.duckdb"
    with pytest.raises(LitmineError, match=r"ner: every one of the batch's 3 documents failed "
                       r"\(PMID \d+: InjectedFault: test hook"):
        mine(files=[str(SOURCE)], db=str(db), model=str(tiny_ner_model), batch_size=3,
             relations=False, device="cpu")
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT status FROM runs").fetchall() == [("failed",)]
    assert con.execute("SELECT count(*) FROM articles").fetchone() == (0,)
    con.close()
