"""Watches and their watermark, crashed-run bookkeeping and the runs list, on a real DuckDB file."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from litmine.errors import LitmineError
from litmine.tasks.store.access import open_store
from litmine.tasks.sources.watches import (
    OVERLAP_DAYS,
    add_watch,
    get_watches,
    list_runs,
    mark_crashed_runs,
    plan_window,
    record_refresh,
    remove_watch,
)


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "w.duckdb") as s:
        yield s


def test_a_new_watch_has_no_watermark_and_is_listed_by_name(store):
    add_watch(store.con, "zinc", "zinc AND anemia")
    watch = add_watch(store.con, "aspirin-asthma", "  aspirin AND asthma ", model="/models/x")
    assert (watch.name, watch.query, watch.model, watch.watermark) == ("aspirin-asthma", "aspirin AND asthma", "/models/x", None)
    assert [w.name for w in get_watches(store.con)] == ["aspirin-asthma", "zinc"]
    assert [w.name for w in get_watches(store.con, ["zinc", "zinc"])] == ["zinc"]


@pytest.mark.parametrize(
    ("name", "query", "message"),
    [
        ("two words", "aspirin", "not a usable name"),
        ("", "aspirin", "not a usable name"),
        ("-x", "aspirin", "not a usable name"),
        ("ok", "   ", "needs a PubMed query"),
    ],
)
def test_bad_watches_are_refused(store, name, query, message):
    with pytest.raises(LitmineError, match=message):
        add_watch(store.con, name, query)


def test_a_name_is_saved_once(store):
    add_watch(store.con, "w", "aspirin")
    with pytest.raises(LitmineError, match="exists already.*'aspirin'.*litmine watch remove w"):
        add_watch(store.con, "w", "ibuprofen")


def test_unknown_names_list_the_known_ones(store):
    add_watch(store.con, "w", "aspirin")
    with pytest.raises(LitmineError, match=r"no watch named 'nope' \(watches: w\)"):
        get_watches(store.con, ["w", "nope"])
    with pytest.raises(LitmineError, match="watch remove: no watch named 'nope'"):
        remove_watch(store.con, "nope")


def test_no_watch_table_means_no_watches(store):
    assert get_watches(store.con) == []


@pytest.mark.parametrize(
    ("watermark", "today", "window_start", "next_watermark"),
    [
        (None, date(2026, 3, 10), None, date(2026, 3, 10) - timedelta(days=OVERLAP_DAYS)),
        (date(2026, 3, 9), date(2026, 3, 10), date(2026, 3, 9), date(2026, 3, 9)),
        (date(2026, 2, 28), date(2026, 3, 1), date(2026, 2, 28), date(2026, 2, 28)),
    ],
)
def test_the_window_starts_at_the_watermark_and_the_next_one_overlaps_a_day(watermark, today, window_start, next_watermark):
    assert plan_window(watermark, today) == (window_start, next_watermark)


def test_recording_a_refresh_moves_only_that_watch(store):
    add_watch(store.con, "a", "aspirin")
    add_watch(store.con, "b", "ibuprofen")
    record_refresh(store.con, "a", date(2026, 3, 9), "run-1", "everything", 61)
    a, b = get_watches(store.con)
    assert (a.watermark, a.last_run_id, a.last_records) == (date(2026, 3, 9), "run-1", 61)
    assert (b.watermark, b.last_run_id) == (None, None)
    remove_watch(store.con, "a")
    assert [w.name for w in get_watches(store.con)] == ["b"]


def test_runs_of_dead_processes_are_marked_crashed(store):
    old = store.begin_run("mine", {"query": "aspirin"}, model="m")  # records no pid
    cutoff = datetime.now(timezone.utc)
    ours = store.begin_run("mine", {"query": "aspirin"}, model="m")
    mine_too = store.begin_run("refresh", {"watch": "w", "pid": 4242}, model="m")
    other = store.begin_run("refresh", {"watch": "w", "pid": 999999}, model="m")
    done = store.begin_run("mine", {"query": "x"}, model="m")
    store.finish_run(done, "completed", {"articles": 3}, {})
    assert sorted(mark_crashed_runs(store.con, cutoff, pid=4242)) == sorted([old, other])
    assert mark_crashed_runs(store.con, None, pid=4242) == []
    status = dict(store.con.execute("SELECT run_id, status FROM runs").fetchall())
    assert status == {old: "crashed", ours: "running", mine_too: "running", other: "crashed",
                      done: "completed"}


def test_runs_are_listed_newest_first_with_a_summary(tmp_path):
    db = tmp_path / "r.duckdb"
    with open_store(db) as store:
        first = store.begin_run("mine", {"query": "aspirin"}, model="/m/tiny")
        store.finish_run(first, "completed", {"articles": 5, "pairs": 2, "sentences": 9}, {"ner": 1.0})
        second = store.begin_run("refresh", {"watch": "w"}, model="/m/tiny")
        store.finish_run(second, "failed", {"articles": 0}, {}, error="esearch: boom")
        third = store.begin_run("refresh", {"files": "/data/pubmed"}, model="/m/tiny")
    runs = list_runs(db)
    assert [r["run_id"] for r in runs] == [third, second, first]
    assert [(r["flow"], r["status"], r["source"]) for r in runs] == [
        ("refresh", "running", "files /data/pubmed"), ("refresh", "failed", "watch w"),
        ("mine", "completed", "query aspirin")]
    assert runs[2]["summary"] == "articles=5 pairs=2" and runs[2]["seconds"] >= 0
    assert runs[0]["seconds"] is None and runs[1]["error"] == "esearch: boom"
    assert [r["run_id"] for r in list_runs(db, limit=1, flow="mine")] == [first]
