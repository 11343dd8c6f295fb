"""User data shown through Rich keeps its brackets: chemical names (`benzo[a]pyrene`), PubMed field
tags (`all[sb]`) and paths are not read as markup, in tables, error lines and progress bars."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from litmine.tasks.store.access import open_store

BRACKETED = ("benzo[a]pyrene", "[bis(4-fluorophenyl)methoxy]", "all[sb]")


def litmine_main(run_litmine, *args: str) -> tuple[int, str]:
    """(exit status, stdout + stderr with spaces and line breaks dropped: rich wraps long cells
    and titles)."""
    code, out, err = run_litmine(*args)
    return code, "".join((out + err).split())


@pytest.fixture
def db(tmp_path) -> Path:
    """A real litmine database in a folder whose name has brackets, with a bracketed model name."""
    path = tmp_path / "run[a]" / "litmine.duckdb"
    with open_store(path, "write") as store:
        store.con.execute("INSERT INTO entities (pmid, model, text, type) VALUES "
                          "('1', 'tagger[v2]', 'benzo[a]pyrene', 'Chemical')")
    return path


def test_sql_table_shows_bracketed_values_and_headers(run_litmine, db):
    code, output = litmine_main(
        run_litmine, "sql", "--db", str(db),
        "SELECT 'benzo[a]pyrene' AS chem, '[bis(4-fluorophenyl)methoxy]' AS rest, "
        "'all[sb]' AS \"tag[x]\", NULL AS nothing")
    assert code == 0
    for text in (*BRACKETED, "tag[x]"):
        assert text in output


def test_info_shows_bracketed_paths_and_model_names(run_litmine, db):
    code, output = litmine_main(run_litmine, "info", "--db", str(db))
    assert code == 0
    assert "run[a]/litmine.duckdb" in output  # the table's title
    assert "tagger[v2](1entities)" in output  # the models line


def test_error_lines_keep_pubmed_field_tags(run_litmine, db):
    code, _ = litmine_main(run_litmine, "watch", "add", "everything", "--query", "all[sb]",
                           "--db", str(db))
    assert code == 0
    code, output = litmine_main(run_litmine, "watch", "add", "everything", "--query", "x",
                                "--db", str(db))
    assert code == 1 and "(query'all[sb]')" in output  # the error handler's line
    code, output = litmine_main(run_litmine, "sql", "--db", str(db),
                                "SELECT 1 FROM \"benzo[a]pyrene\"")
    assert code == 1 and "benzo[a]pyrene" in output


def test_progress_description_keeps_brackets():
    from litmine.commands.options import progress_bar
    from litmine.progress import report_progress

    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=120)
    with progress_bar(True, "mining benzo[a]pyrene AND all[sb]", on=terminal) as bar:
        report_progress(total=4)
        report_progress(advance=2)
        bar.bar.progress.refresh()
    assert "mining benzo[a]pyrene AND all[sb]" in screen.getvalue()


def test_evaluation_table_keeps_bracketed_paths_and_types():
    from litmine.tasks.scoring import Span, format_table, score_spans

    gold = [Span("1", 0, 14, "Chemical[x]", "benzo[a]pyrene")]
    scores = score_spans(gold, gold)
    screen = io.StringIO()
    Console(file=screen, width=200).print(format_table(scores, title="models/ner[v2] on dev[a].txt"))
    assert "models/ner[v2] on dev[a].txt" in screen.getvalue()
    assert "Chemical[x]" in screen.getvalue()
