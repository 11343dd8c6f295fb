"""A run's bookkeeping (tasks/store/runs.py) and the report queries (tasks/store/reports.py)."""

import json

import pytest

from litmine.tasks.records import Pair, Reject
from litmine.tasks.store.access import open_store
from litmine.tasks.store.database import Batch
from litmine.tasks.store.reports import new_pairs, run_rejects, top_pairs, top_relations
from litmine.tasks.store.runs import recorded_run


def run_row(store, run_id):
    status, counts, timings, error = store.con.execute(
        "SELECT status, counts, timings, error FROM runs WHERE run_id = ?", [run_id]).fetchone()
    return status, json.loads(counts or "null"), json.loads(timings or "null"), error


def test_a_run_that_ends_is_completed_with_its_counts_and_timings(tmp_path):
    with open_store(tmp_path / "r.duckdb") as store:
        with recorded_run(store, "mine", {"query": "q"}, model="m", run_id="r1") as run:
            assert run_row(store, "r1")[0] == "running"
            run.counts["articles"] += 3
            run.timings["ner"] += 0.12345
        assert run_row(store, "r1") == ("completed", {"articles": 3}, {"ner": 0.123}, None)


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_a_run_that_raises_is_failed_with_the_error_and_raises_it_again(tmp_path, error):
    with open_store(tmp_path / "r.duckdb") as store:
        with pytest.raises(type(error)):
            with recorded_run(store, "refresh", {}) as run:
                run.counts["articles"] = 1
                raise error
        status, counts, timings, message = run_row(store, run.run_id)
        assert (status, counts, timings, message) == ("failed", {"articles": 1}, {}, str(error))


def test_report_queries_read_one_run(tmp_path):
    cid = Pair("1", "cisplatin", "nephrotoxicity", 1, (0,), method="cid-linear", chemical_id="D002945",
               disease_id="D007674", relation="CID", score=0.91234)
    with open_store(tmp_path / "r.duckdb") as store:
        store.load_batch(Batch(pairs=[Pair("1", "lithium", "tremor", 2, (0, 1))]), model="m", run_id="old")
        store.load_batch(Batch(pairs=[Pair("2", "lithium", "tremor", 1, (0,)),
                                      Pair("2", "cisplatin", "nephrotoxicity", 1, (0,)), cid],
                               rejects=[Reject(source="f.xml", pmid="9", reason="no abstract")]),
                         model="m", run_id="new")
        assert top_pairs(store.con, "new") == [("cisplatin", "nephrotoxicity", 1, 1),
                                                ("lithium", "tremor", 1, 1)]
        assert top_relations(store.con, "new") == [("D002945", "D007674", "cisplatin", "nephrotoxicity",
                                                    1, 0.912)]
        assert new_pairs(store.con, "new") == [("cisplatin", "nephrotoxicity", 2)]
        assert run_rejects(store.con, "new") == [("f.xml", "9", "no abstract")]
        assert run_rejects(store.con, "old") == []
