"""The vector index of semantic search: built from the store, used above a size, its lag scanned
exactly, and never an error when it cannot be used.

Real DuckDB files, real usearch indexes, vectors from a tiny random encoder (tests/support).
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from litmine.tasks.records import Article, Deletion
from litmine.tasks.semantic import vector_index
from litmine.tasks.semantic.embeddings import Embedder, embed_store
from litmine.tasks.semantic.nearest import nearest
from litmine.tasks.store.access import open_store
from litmine.tasks.store.database import Batch
from tests.support.tiny_models import build_tiny_encoder

WORDS = ("cisplatin hearing loss children aspirin asthma bronchospasm malaria vaccine infants "
         "statin myalgia smoking pregnancy nicotine retinopathy diabetes insulin kidney dialysis "
         "heart stroke warfarin bleeding tumour chemotherapy liver hepatitis antibiotic sepsis "
         "fever depression anxiety sleep obesity exercise diet vitamin fracture arthritis opioid "
         "pain").split()
LEVEL = "abstract"


def articles(n: int, start: int = 1000, seed: int = 0) -> list[Article]:
    rng = random.Random(seed)
    return [Article(str(start + i), " ".join(rng.sample(WORDS, 4)).capitalize() + ".",
                    " ".join(rng.sample(WORDS, 8)) + ".") for i in range(n)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Embedder:
    return Embedder(str(build_tiny_encoder(tmp_path_factory.mktemp("enc"), max_length=32)),
                    device="cpu")


def load(store, batch: list[Article]) -> None:
    store.load_batch(Batch(articles=batch), model="none", run_id="load")


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, tiny) -> Path:
    """300 embedded abstracts and their index (closed: copy it, or open it read-only)."""
    db = tmp_path_factory.mktemp("indexed") / "v.duckdb"
    with open_store(db) as store:
        load(store, articles(300))
        embed_store(store, tiny, LEVEL, "r1")
        done = vector_index.update_indexes(store.con, db, levels=[LEVEL], min_vectors=0)
    assert [(d["level"], d["vectors"], d["added"], d["rebuilt"]) for d in done] == [
        (LEVEL, 300, 300, True)]
    return db


def copy_of(db: Path, to: Path) -> Path:
    target = to / db.name
    shutil.copy(db, target)
    shutil.copytree(vector_index.vectors_dir(db), vector_index.vectors_dir(target))
    return target


def rank(con, tiny, text_or_vector, **kw):
    vector = tiny.embed([text_or_vector])[0] if isinstance(text_or_vector, str) else text_or_vector
    return nearest(con, vector, table=f"embeddings_{tiny.dim}", model=tiny.model_name, level=LEVEL,
                   k=10, stored=kw.pop("stored", 300), **kw)


def top(ranked) -> list[tuple[str, float]]:
    return [(h.pmid, round(h.score, 6)) for h in ranked.hits]


QUERIES = [" ".join(random.Random(i).sample(WORDS, 3)) for i in range(12)]


def test_the_index_lives_beside_the_database(indexed, tiny):
    path = vector_index.index_path(indexed, f"embeddings_{tiny.dim}", tiny.model_name, LEVEL)
    assert path.parent == indexed.with_name("v.vectors") and path.suffix == ".usearch"
    info = vector_index.read_info(path)
    assert (info.vectors, info.level, info.dim, info.file_bytes) == (300, LEVEL, tiny.dim,
                                                                      path.stat().st_size)
    assert info.watermark == 300  # the largest vector_key: keys 1..300 from the sequence


def test_search_through_the_index_finds_what_the_exact_scan_finds(indexed, tiny):
    with open_store(indexed, "read") as store:
        for query in QUERIES:
            exact = rank(store.con, tiny, query, exact=True)
            found = rank(store.con, tiny, query, min_vectors=0)
            assert exact.note is None
            assert found.note == f"searched the vector index of 300 {LEVEL} vectors"
            assert top(found) == top(exact), query  # same hits, same scores, same order
        # Below the threshold: the exact scan, and nothing to say.
        assert rank(store.con, tiny, QUERIES[0], min_vectors=301).note is None


def test_the_index_lag_is_scanned_and_gone_rows_are_dropped(indexed, tiny, tmp_path):
    db = copy_of(indexed, tmp_path)
    with open_store(db) as store:
        new = articles(20, start=5000, seed=1)
        load(store, new)
        revised = Article("1003", "Hepatitis vaccine in dialysis.", "Kidney dialysis patients.")
        load(store, [revised])
        embed_store(store, tiny, LEVEL, "r2")  # the 20 new and the revised one
        store.apply_deletion(Deletion(("1007",)), "r3")
        con, stored = store.con, 319

        found = rank(con, tiny, f"{new[4].title} {new[4].abstract}", min_vectors=0, stored=stored)
        assert found.hits[0].pmid == "5004" and found.hits[0].score == pytest.approx(1, abs=1e-5)
        assert found.note.startswith(f"searched the vector index of 300 {LEVEL} vectors and, "
                                     "exactly, the 21 embedded since it was built; 2 of its "
                                     "vectors gone since (deleted or embedded again)")
        deleted = articles(300)[7]
        for text in (f"{deleted.title} {deleted.abstract}", f"{revised.title} {revised.abstract}",
                     *QUERIES):
            found = rank(con, tiny, text, min_vectors=0, stored=stored)
            assert "1007" not in [h.pmid for h in found.hits]
            assert [h.pmid for h in found.hits].count("1003") <= 1
            assert top(found) == top(rank(con, tiny, text, exact=True, stored=stored))

        done = vector_index.update_indexes(con, db, levels=[LEVEL])  # what `embed` runs at its end
        assert [(d["vectors"], d["added"], d["removed"], d["rebuilt"]) for d in done] == [
            (319, 21, 2, False)]
        assert rank(con, tiny, QUERIES[0], min_vectors=0, stored=319).note == (
            f"searched the vector index of 319 {LEVEL} vectors")


def test_a_stale_index_is_not_asked_and_is_rebuilt(indexed, tiny, tmp_path):
    """Past half of its vectors gone, search scans; past REBUILD_FRACTION, a writer rebuilds."""
    db = copy_of(indexed, tmp_path)
    with open_store(db) as store:
        store.apply_deletion(Deletion(tuple(str(1000 + i) for i in range(0, 300, 2))), "r")
        store.apply_deletion(Deletion(tuple(str(1001 + i) for i in range(0, 100, 2))), "r")
        found = rank(store.con, tiny, QUERIES[0], min_vectors=0, stored=100)
        assert "out of date (200 of its 300 vectors are gone); searched exactly" in found.note
        assert top(found) == top(rank(store.con, tiny, QUERIES[0], exact=True, stored=100))
        done = vector_index.update_indexes(store.con, db, levels=[LEVEL])
        assert [(d["vectors"], d["removed"], d["rebuilt"]) for d in done] == [(100, 200, True)]


def damage_truncate(path: Path, db: Path) -> str:
    path.write_bytes(path.read_bytes()[:1000])
    return f"v.vectors/{path.name} is 1000 bytes, "


def damage_garbage(path: Path, db: Path) -> str:
    path.write_bytes(random.Random(0).randbytes(path.stat().st_size))
    return "cannot be read"


def damage_missing(path: Path, db: Path) -> str:
    path.unlink()
    return "does not exist"


def damage_json(path: Path, db: Path) -> str:
    vector_index.info_path(path).write_text("{not json")
    return "is missing, unreadable or of another litmine"


def damage_other_database(path: Path, db: Path) -> str:
    info = vector_index.info_path(path)
    info.write_text(json.dumps(json.loads(info.read_text()) | {"database_id": "another"}))
    return "was built from another database file"


@pytest.mark.parametrize("damage", [damage_truncate, damage_garbage, damage_missing, damage_json,
                                    damage_other_database], ids=lambda f: f.__name__[7:])
def test_an_unusable_index_falls_back_to_the_exact_scan(indexed, tiny, tmp_path, damage):
    db = copy_of(indexed, tmp_path)
    reason = damage(vector_index.index_path(db, f"embeddings_{tiny.dim}", tiny.model_name, LEVEL),
                    db)
    with open_store(db, "read") as store:
        found = rank(store.con, tiny, QUERIES[1], min_vectors=0)
        assert found.note.startswith("no usable vector index (") and reason in found.note
        assert found.note.endswith(f"searched all 300 {LEVEL} vectors exactly. `litmine index "
                                   f"--db {db}` builds it")
        assert top(found) == top(rank(store.con, tiny, QUERIES[1], exact=True))
    with open_store(db) as store:  # a writer builds it afresh
        done = vector_index.update_indexes(store.con, db, levels=[LEVEL])
        assert [(d["vectors"], d["rebuilt"]) for d in done] == [(300, True)]
        assert rank(store.con, tiny, QUERIES[1], min_vectors=0).note.startswith(
            "searched the vector index")


def test_a_snapshot_reads_its_databases_index():
    assert vector_index.vectors_dir(Path("d/lit.snapshot.duckdb")) == Path("d/lit.vectors")
    assert vector_index.vectors_dir(Path("d/lit.duckdb")) == Path("d/lit.vectors")
    assert vector_index.model_slug("/home/me/models/my model") != vector_index.model_slug(
        "/home/you/models/my model")
