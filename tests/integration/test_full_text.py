"""Full text in PubTator format (issue 21) through `mine` and `export`: consecutive entries of a
PMID are one document whose passages are stored and exported back entry by entry, every passage
text and every offset as in the input; a non-consecutive duplicate is a reject, never a silent
drop. A real mine flow run (tiny NER model) into a real DuckDB file, then the real CLI export.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from litmine.flows.mine import mine

SOURCE = Path(__file__).resolve().parents[1] / "fixtures" / "fulltext" / "pmc_fulltext_sample.PubTator"


def _entries(text: str) -> list[tuple[str, str, str, list[list[str]]]]:
    """(PMID, t, a, mention lines split on tabs) of each entry of a PubTator text."""
    out = []
    for block in (b for b in text.split("\n\n") if b.strip()):
        lines = block.split("\n")
        pmid, _, title = lines[0].split("|", 2)
        abstract = lines[1].split("|", 2)[2]
        mentions = [line.split("\t") for line in lines[2:] if len(line.split("\t")) == 6]
        out.append((pmid, title, abstract, mentions))
    return out


def test_full_text_goes_through_mine_and_export_with_every_passage_and_offset(
        tmp_path, prefect_harness, busy_tiny_ner_model, run_litmine):
    db = tmp_path / "x.duckdb"
    result = mine(files=[str(SOURCE)], db=str(db), model=str(busy_tiny_ner_model), relations=False,
                  batch_size=2, device="cpu")
    assert result["articles"] == 3 and result["rejects"] == 1
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT pmid, stage FROM rejects").fetchall() == [("90000001", "parse")]
    assert con.execute("SELECT pmid, count(*) FROM passages GROUP BY pmid ORDER BY pmid").fetchall() == [
        ("90000001", 6), ("90000002", 2)]
    crossing = con.execute(
        "SELECT s.pmid, s.sentence_index FROM sentences s JOIN articles a USING (pmid) "
        "WHERE a.pmid IN (SELECT pmid FROM passages) AND NOT EXISTS (SELECT 1 FROM passages p "
        "WHERE p.pmid = s.pmid AND p.start_offset <= s.start_offset AND s.end_offset <= p.end_offset)"
    ).fetchall()
    n_entities = con.execute("SELECT count(*) FROM entities").fetchone()[0]
    con.close()
    assert crossing == []  # no sentence spans two passages
    assert n_entities > 0

    code, exported, err = run_litmine("export", "--db", str(db), "--format", "pubtator")
    assert code == 0, err
    given = _entries(SOURCE.read_text(encoding="utf-8"))[:-1]  # the duplicate was rejected
    back = _entries(exported)
    by_pmid = lambda entries: {p: [(t, a) for q, t, a, _ in entries if q == p] for p, *_ in entries}  # noqa: E731
    assert by_pmid(back) == by_pmid(given)  # every passage, in order, text for text
    n_mentions = 0
    for pmid, title, abstract, mentions in back:
        entry_text = title + " " + abstract
        for _, start, end, text, _, _ in mentions:
            assert entry_text[int(start):int(end)] == text  # offsets index their passage
            n_mentions += 1
    assert n_mentions == n_entities

    code, exported, err = run_litmine("export", "--db", str(db), "--format", "bioc-json")
    assert code == 0, err
    documents = {d["id"]: d for d in json.loads(exported)["documents"]}
    passages = documents["90000001"]["passages"]
    assert [p["text"] for p in passages] == [t + " " + a for q, t, a, _ in given if q == "90000001"]
    for p in passages:
        for ann in p["annotations"]:
            loc = ann["locations"][0]
            assert p["text"][loc["offset"] - p["offset"]:][:loc["length"]] == ann["text"]
