"""`litmine embed / search / classify / ask / summarize` end to end on a real DuckDB file with real
Prefect flow runs (the session harness), the bundled MiniLM and tiny random models from disk;
and `mine(..., embed=True)`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from litmine.errors import LitmineError
from litmine.tasks.sources.pubmed_xml import iter_pubmed_xml
from litmine.tasks.records import Article
from litmine.tasks.text.sentences import split_articles
from litmine.tasks.store.database import Batch
from litmine.tasks.store.access import open_store
from tests.support.tiny_models import build_tiny_gpt2, build_tiny_qa

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "fixtures" / "pubmed" / "pubmedsample18n0001.xml.gz"
#: Ten abstracts of the NLM sample on unrelated subjects (two RCTs, a case report, a review).
PMIDS = ["9861576", "10972993", "9575322", "11442735", "17059514", "28647898", "12742519",
         "11567133", "14991249", "11237011"]


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    articles = [a for a in iter_pubmed_xml(SAMPLE) if isinstance(a, Article) and a.pmid in PMIDS]
    assert len(articles) == len(PMIDS)
    path = tmp_path_factory.mktemp("search") / "s.duckdb"
    with open_store(path) as store:
        store.load_batch(Batch(articles=articles, sentences=split_articles.fn(articles)),
                         model="none", run_id="load")
    return path


def rows(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def invoke(*args: str):
    from litmine.cli import app

    result = CliRunner().invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.stdout  # notes (an index update, a fallback) go to stderr


def test_search_before_embed_says_how_to_embed(db):
    """The real entry point (no flow runs: search needs no Prefect API): one message, exit 1."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    result = subprocess.run([sys.executable, "-m", "litmine.cli", "search", "heart", "--db",
                             str(db), "--mode", "semantic"], env=env, text=True,
                            capture_output=True, timeout=300)
    assert result.returncode == 1
    message = " ".join(result.stderr.split())  # rich wraps long lines
    assert message.startswith(f"error: search: {db} has no abstract embeddings; make them with "
                              f"`litmine embed --db {db}`")
    assert "Traceback" not in result.stderr


def test_keyword_search_before_embed(db):
    """With no vectors, the default (hybrid) search says so and ranks by BM25 alone."""
    from litmine.cli import app

    result = CliRunner().invoke(app, ["search", "claudication", "--db", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "has no abstract embeddings, so these are keyword (BM25) results only" in result.stderr
    hits = json.loads(result.stdout)
    assert [h["pmid"] for h in hits] == ["9575322"]  # the word is in its abstract only
    assert "claudication" not in hits[0]["title"].lower() and "claudication" in hits[0]["text"].lower()
    out = invoke("search", "alcohol drinking", "--mode", "keyword", "--db", str(db), "-k", "2")
    assert "(keyword)" in out and "BM25" in out


def test_search_mode_is_checked(db):
    from litmine.cli import app

    result = CliRunner().invoke(app, ["search", "heart", "--mode", "fuzzy", "--db", str(db)])
    assert result.exit_code == 2
    assert "Invalid value for '--mode'" in result.output and "'keyword'" in result.output
    with pytest.raises(LitmineError, match="--mode keyword ranks abstracts"):
        invoke("search", "heart", "--mode", "keyword", "--level", "sentence", "--db", str(db))


def test_embed_then_search_classify_ask_summarize(db, prefect_harness, tmp_path):
    out = invoke("embed", "--db", str(db))
    n_sentences = rows(db, "SELECT count(*) FROM sentences")[0][0]
    assert f"embedded 10 abstracts, {n_sentences} sentences" in out
    assert rows(db, "SELECT flow, status FROM runs WHERE flow = 'embed'") == [("embed", "completed")]
    assert "nothing to embed" in invoke("embed", "--db", str(db))  # no flow run, no model load

    hits = json.loads(invoke("search", "antidepressant drugs and the heart", "--db", str(db),
                             "--k", "3", "--format", "json", "--mode", "semantic"))
    assert [h["rank"] for h in hits] == [1, 2, 3] and hits[0]["pmid"] == "9861576"
    hits = json.loads(invoke("search", "antibiotic for gum disease", "--level", "sentence",
                             "--db", str(db), "--format", "json"))
    assert len(hits) == 10 and hits[0]["pmid"] == "11442735"
    assert "Crohn" in invoke("search", "diet for inflammatory bowel disease", "--db", str(db),
                             "-k", "1", "--mode", "semantic")
    out = invoke("search", "antidepressant drugs and the heart", "--db", str(db), "-k", "3")
    assert "(hybrid)" in out and "RRF" in out and "9861576" in out

    out = invoke("classify", "--db", str(db))
    assert "10 abstracts classified" in out
    assert rows(db, "SELECT count(*), count(DISTINCT pmid) FROM classifications "
                    "WHERE method = 'embedding'") == [(10, 10)]

    qa = build_tiny_qa(tmp_path / "qa", max_length=128)
    answers = json.loads(invoke("ask", "What reduced alcohol drinking?", "--qa-model", str(qa),
                                "--db", str(db), "--k", "2", "--format", "json"))
    assert len(answers) == 2
    texts = dict(rows(db, "SELECT pmid, title || ' ' || abstract FROM articles"))
    for answer in answers:
        assert texts[answer["pmid"]][answer["start"]:answer["end"]] == answer["text"]
        sentence_start = texts[answer["pmid"]].index(answer["sentence"])
        assert sentence_start <= answer["start"] < sentence_start + len(answer["sentence"])

    gpt2 = build_tiny_gpt2(tmp_path / "gpt2", max_length=128)
    out = invoke("summarize", "--pmid", "14991249", "--model", str(gpt2), "--db", str(db),
                 "--num-beams", "2", "--max-new-tokens", "12")
    assert "PMID 14991249" in out
    assert rows(db, "SELECT pmid, model, input_tokens > 20 FROM summaries") == [
        ("14991249", str(gpt2), True)]


def test_command_line_bad_input(db):
    with pytest.raises(LitmineError, match="the query is empty"):
        invoke("search", "  ", "--db", str(db))
    with pytest.raises(LitmineError, match="--qa-model with a SQuAD-style model"):
        invoke("ask", "What?", "--db", str(db))
    with pytest.raises(LitmineError, match="give --pmid .* or --query, not both or neither"):
        invoke("summarize", "--db", str(db))
    with pytest.raises(LitmineError, match="--method nli needs --model, e.g. facebook/bart-large-mnli"):
        invoke("classify", "--method", "nli", "--db", str(db))
    with pytest.raises(LitmineError, match="does not exist; run `litmine mine` first"):
        invoke("embed", "--db", str(db.parent / "missing.duckdb"))


def test_mine_can_embed_as_its_last_step(tmp_path, prefect_harness, tiny_ner_model, fixtures_dir):
    db = tmp_path / "m.duckdb"
    out = invoke("mine", "--files", str(fixtures_dir / "sentences" / "hard_mentions.PubTator"),
                 "--db", str(db), "--model", str(tiny_ner_model), "--embed", "--no-progress")
    n_articles, n_sentences = rows(db, "SELECT (SELECT count(*) FROM articles), "
                                       "(SELECT count(*) FROM sentences)")[0]
    assert n_articles > 0
    assert f"embedded_abstracts │ {n_articles} " in out
    assert f"embedded_sentences │ {n_sentences} " in out
    assert rows(db, "SELECT level, count(*) FROM embeddings GROUP BY ALL ORDER BY 1") == [
        ("abstract", n_articles), ("sentence", n_sentences)]


def test_train_then_evaluate_classifier(db, prefect_harness, tmp_path):
    from tests.support.tiny_models import build_tiny_encoder

    base = build_tiny_encoder(tmp_path / "base", max_length=64)
    model = tmp_path / "study-types"
    out = invoke("train", "--task", "classify", "--db", str(db), "--out", str(model),
                 "--base-model", str(base), "--epochs", "1", "--max-length", "48", "--device", "cpu")
    # 10 abstracts: 3 RCTs, 1 case report, 1 review, 5 other; 30% of each type with 2 or more.
    assert "held-out split: 3 abstracts" in out
    assert "| **macro-F1** | 3 |" in out and "F1 trained" in out and "F1 zero-shot (embedding)" in out
    split = json.loads((model / "split.json").read_text())
    training = json.loads((model / "training.json").read_text())
    assert len(split["test_pmids"]) == 3 and training["n_train"] == 7
    assert set(split["test_pmids"]).isdisjoint(training["train_pmids"])
    report = json.loads((model / "evaluation.json").read_text())
    assert set(report["results"]) == {"zero-shot (embedding)", "trained"}
    assert report["test_counts"] == {"randomized controlled trial": 1, "other": 2}

    scores = tmp_path / "scores.json"
    invoke("evaluate-classifier", "--db", str(db), "--model", str(model), "--embed-model",
           str(base), "--json", str(scores))
    again = json.loads(scores.read_text())
    assert again["results"]["trained"]["macro_f1"] == report["results"]["trained"]["macro_f1"]
    invoke("evaluate", "--task", "classify", "--db", str(db), "--model", str(model), "--json",
           str(scores))  # the same through `litmine evaluate`
    assert json.loads(scores.read_text())["results"]["trained"] == again["results"]["trained"]

    invoke("classify", "--method", "trained", "--model", str(model), "--db", str(db))
    labels = rows(db, "SELECT DISTINCT label FROM classifications WHERE method = 'trained'")
    assert {label for (label,) in labels} <= set(training["labels"])


def test_the_vector_index_of_embed_index_and_search(tmp_path, prefect_harness, monkeypatch):
    """`embed` keeps an index once a model has LITMINE_VECTOR_INDEX_MIN vectors, `index` builds
    one for a file embedded before, `search` says when it used one and `--exact` does not."""
    from litmine.cli import app
    from tests.support.tiny_models import build_tiny_encoder

    encoder = str(build_tiny_encoder(tmp_path / "enc", max_length=32))
    articles = [a for a in iter_pubmed_xml(SAMPLE) if isinstance(a, Article)]
    first, later = [a for a in articles if a.pmid in PMIDS], [a for a in articles if a.pmid not in PMIDS][:5]
    db = tmp_path / "v.duckdb"
    with open_store(db) as store:
        store.load_batch(Batch(articles=first, sentences=split_articles.fn(first)), model="none",
                         run_id="load")
    invoke("embed", "--db", str(db), "--model", encoder, "--level", "sentence")
    assert not (tmp_path / "v.vectors").exists()  # fewer vectors than the default threshold
    n = rows(db, "SELECT count(*) FROM embeddings")[0][0]
    out = invoke("index", "--db", str(db))
    assert f"indexed {n} sentence vectors of {encoder}" in " ".join(out.split())
    assert len(list((tmp_path / "v.vectors").glob("*-sentence.usearch"))) == 1

    monkeypatch.setenv("LITMINE_VECTOR_INDEX_MIN", "1")
    search = ["search", "antidepressant drugs and the heart", "--db", str(db), "--level",
              "sentence", "--format", "json"]
    indexed = CliRunner().invoke(app, search)
    exact = CliRunner().invoke(app, [*search, "--exact"])
    assert indexed.exit_code == exact.exit_code == 0, indexed.output + exact.output
    assert f"note: searched the vector index of {n} sentence vectors" in indexed.stderr
    assert "vector index" not in exact.stderr
    assert json.loads(indexed.stdout) == json.loads(exact.stdout) and len(json.loads(exact.stdout)) == 10

    with open_store(db) as store:  # newer sentences: `embed` adds them to the index at its end
        store.load_batch(Batch(articles=later, sentences=split_articles.fn(later)), model="none",
                         run_id="load2")
    out = invoke("embed", "--db", str(db), "--model", encoder, "--level", "sentence")
    n = rows(db, "SELECT count(*) FROM embeddings")[0][0]
    assert f"vector index up to date: {n:,} sentence vectors" in " ".join(out.split())
    again = CliRunner().invoke(app, search)
    assert f"note: searched the vector index of {n} sentence vectors\n" in again.stderr
    assert json.loads(again.stdout) == json.loads(CliRunner().invoke(app, [*search, "--exact"]).stdout)
