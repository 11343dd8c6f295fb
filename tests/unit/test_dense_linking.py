"""The linker's dense level (`litmine.tasks.linking.dense`) with the bundled all-MiniLM-L6-v2:
a Disease mention no name matched takes its nearest lexicon name's ID."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from litmine.errors import LitmineError
from litmine.settings import get_settings
from litmine.tasks.linking import normalise
from litmine.tasks.linking.dense import DenseLevel
from litmine.tasks.linking.lexicon import Lexicon
from litmine.tasks.linking.normalise import Linker

NAMES = [
    ("Disease", "Gastrointestinal Hemorrhage", "D006471"),
    ("Disease", "Kidney Diseases", "D007674"),
    ("Disease", "Hypertension", "D006973"),
    ("Disease", "Breast Neoplasms", "D001943"),
    ("Chemical", "Cisplatin", "D002945"),
]


def _lexicon() -> Lexicon:
    lex = Lexicon()
    lex.add_source("mesh:test")
    for type_, name, cid in NAMES:
        lex.add(type_, name, cid, "mesh:test")
    return lex


@pytest.fixture(scope="module")
def dense_linker(tmp_path_factory):
    linker = Linker(_lexicon())
    linker.attach_dense(DenseLevel("all-MiniLM-L6-v2", threshold=0.7,
                                   cache_dir=tmp_path_factory.mktemp("cache"), cache_key="k" * 64))
    return linker


def test_a_mention_no_name_matches_takes_its_nearest_names_id(dense_linker):
    link = dense_linker.link("gastrointestinal bleeding", "Disease")
    assert (link.concept_id, link.method, link.matched) == (
        "D006471", "dense", "Gastrointestinal Hemorrhage")
    assert 0.7 <= link.score < 1
    assert dense_linker.link("high blood pressure", "Disease").concept_id == "D006973"
    # "GI" is further from "Gastrointestinal" than the threshold
    assert dense_linker.link("GI bleeding", "Disease").status == "below-threshold"
    # an exact name never reaches the level
    assert dense_linker.link("Hypertension", "Disease").method == "exact"


def test_below_the_threshold_the_reason_names_the_nearest_name():
    linker = Linker(_lexicon())
    linker.attach_dense(DenseLevel("all-MiniLM-L6-v2", threshold=0.99))
    link = linker.link("GI bleeding", "Disease")
    assert link.concept_id == "" and link.status == "below-threshold"
    assert "nearest 'Gastrointestinal Hemorrhage' by all-MiniLM-L6-v2" in link.reason


def test_other_types_and_short_words_do_not_reach_the_dense_level(dense_linker):
    assert dense_linker.link("platinum drug", "Chemical").method != "dense"
    short = dense_linker.link("gi", "Disease")
    assert short.concept_id == "" and short.status == "short-lowercase"


def test_without_the_level_nothing_changes():
    link = Linker(_lexicon()).link("high blood pressure", "Disease")
    assert link.concept_id == "" and link.method == "none"


def test_the_names_matrix_is_cached_and_a_broken_cache_rebuilt(tmp_path):
    first = Linker(_lexicon())
    first.attach_dense(DenseLevel("all-MiniLM-L6-v2", threshold=0.6, cache_dir=tmp_path,
                                  cache_key="a" * 64))
    assert first.link("renal disease", "Disease").concept_id == "D007674"
    (cached,) = tmp_path.glob("dense-*-Disease-v*.npy")
    matrix = np.load(cached)
    assert matrix.dtype == np.float16 and matrix.shape == (4, 384)
    np.save(cached, np.zeros((4, 384), np.float16))  # a cache that says nothing is near
    second = Linker(_lexicon())
    second.attach_dense(DenseLevel("all-MiniLM-L6-v2", threshold=0.6, cache_dir=tmp_path,
                                   cache_key="a" * 64))
    assert second.link("renal disease", "Disease").concept_id == ""  # read, not rebuilt
    cached.write_bytes(b"not an array")
    third = Linker(_lexicon())
    third.attach_dense(DenseLevel("all-MiniLM-L6-v2", threshold=0.6, cache_dir=tmp_path,
                                  cache_key="a" * 64))
    assert third.link("renal disease", "Disease").concept_id == "D007674"


def test_a_linker_with_the_level_pickles_without_its_encoder(dense_linker):
    dense_linker.link("high blood pressure", "Disease")  # encoder and index loaded
    copy = pickle.loads(pickle.dumps(dense_linker))
    assert copy.dense._embedder is None and copy.dense._index == {}
    assert copy.link("gastrointestinal bleeding", "Disease").concept_id == "D006471"


def test_load_linker_attaches_the_settings_encoder(tmp_path, monkeypatch):
    """Off by default; `LITMINE_DENSE_LINKER` names the encoder, and a run records it."""
    from litmine.flows.pipeline import relation_step

    path = _lexicon().save(tmp_path / "lex.tsv.gz")
    monkeypatch.setenv("LITMINE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LITMINE_DENSE_LINKER", raising=False)
    monkeypatch.setattr(normalise, "_LINKERS", {})
    get_settings(fresh=True)
    try:
        assert normalise.load_linker(path).dense is None
        assert relation_step(True, str(path), "", typed_relation_model="").dense_linker is None
        monkeypatch.setattr(normalise, "_LINKERS", {})
        monkeypatch.setenv("LITMINE_DENSE_LINKER", "all-MiniLM-L6-v2")
        get_settings(fresh=True)
        linker = normalise.load_linker(path)
        assert linker.dense is not None and linker.dense.encoder == "all-MiniLM-L6-v2"
        assert linker.link("renal disease", "Disease").method == "dense"
        assert list((tmp_path / "cache").glob("dense-*-Disease-v*.npy"))
        step = relation_step(True, str(path), "", typed_relation_model="")
        assert step.parameters()["dense_linker"] == "all-MiniLM-L6-v2"
        # an encoder directory that is not there fails before the run, naming the setting
        monkeypatch.setenv("LITMINE_DENSE_LINKER", str(tmp_path / "no-such-encoder"))
        get_settings(fresh=True)
        with pytest.raises(LitmineError, match="no-such-encoder.*LITMINE_DENSE_LINKER.*none"):
            relation_step(True, str(path), "", typed_relation_model="")
    finally:
        monkeypatch.delenv("LITMINE_CACHE_DIR")
        monkeypatch.delenv("LITMINE_DENSE_LINKER", raising=False)
        get_settings(fresh=True)
