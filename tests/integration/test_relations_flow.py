"""Lexicon build, CID training and evaluation through the real CLI; the mine-batch step into a
real DuckDB file; the encoder classifier trained and loaded from disk (tiny model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from litmine.tasks.sources.pubtator import gold_to_mentions, read_pubtator
from litmine.tasks.text.sentences import split_article

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TRAIN = FIXTURES / "corpora" / "bc5cdr_train_sample.pubtator"
DEV = FIXTURES / "corpora" / "bc5cdr_dev_sample.pubtator"
LEX = FIXTURES / "lexicon"


def _litmine(*args: str, timeout: int = 600, **extra_env: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **extra_env)
    return subprocess.run([sys.executable, "-m", "litmine.cli", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout)


def _batch_inputs(path: Path):
    """Articles, pipeline sentences and gold mentions without IDs, as NER hands them on."""
    docs, _ = read_pubtator(path)
    articles = [d.to_article() for d in docs]
    sentences = [s for a in articles for s in split_article(a)]
    mentions = [m.__class__(m.pmid, m.start, m.end, m.text, m.type) for d in docs
                for m in gold_to_mentions(d)]
    return articles, sentences, mentions


@pytest.fixture(scope="module")
def built(tmp_path_factory, prefect_harness):
    """A lexicon and a linear CID model built by the CLI from the fixtures (training is a flow run)."""
    from prefect.settings import PREFECT_API_URL

    root = tmp_path_factory.mktemp("relations")
    lexicon, model = root / "lexicon.tsv.gz", root / "cid"
    done = _litmine("lexicon", "build", "--corpus", TRAIN, "--mesh", LEX / "desc_sample.xml",
                    "--mesh", LEX / "supp_sample.xml", "--ctd", LEX / "CTD_chemicals_sample.tsv",
                    "--exclude", DEV, "--out", lexicon)
    assert done.returncode == 0, done.stderr
    assert "lexicon:" in done.stdout and lexicon.is_file()
    done = _litmine("train", "--task", "relations", "--train", TRAIN, "--dev", DEV, "--out", model,
                    PREFECT_API_URL=PREFECT_API_URL.value())
    assert done.returncode == 0, done.stderr
    assert "threshold" in done.stdout
    assert "for flow 'train-relations'" in done.stderr and "Completed()" in done.stderr
    return lexicon, model


def test_cli_reports_bad_inputs_in_one_line(tmp_path):
    done = _litmine("lexicon", "build", "--mesh", tmp_path / "missing.xml",
                    "--out", tmp_path / "x.tsv.gz")
    assert done.returncode == 1
    message = " ".join(done.stderr.split())  # rich wraps long lines
    assert "does not exist" in message and "Traceback" not in message


def test_model_card_names_the_command(built):
    _, model = built
    card = (model / "README.md").read_text(encoding="utf-8")
    assert "litmine train --task relations --train" in card
    record = json.loads((model / "training.json").read_text())
    assert record["data"]["train_documents"] == 20
    assert record["threshold"] == json.loads((model / "relation.json").read_text())["threshold"]


def test_evaluate_relations_end_to_end(built, tiny_ner_model, tmp_path):
    lexicon, model = built
    out = tmp_path / "scores.json"
    done = _litmine("evaluate-relations", "--gold", DEV, "--model", tiny_ner_model,
                    "--lexicon", lexicon, "--relation-model", model, "--json", out)
    assert done.returncode == 0, done.stderr
    assert "| gold_entities | concepts | Chemical |" in done.stdout
    report = json.loads(out.read_text())
    assert set(report) >= {"gold_ids", "gold_entities", "end_to_end"}
    assert report["documents"] == 6
    gold_cid = report["gold_ids"]["cid"]["per_type"]["CID"]
    assert gold_cid["n_gold"] == 11
    # the lexicon was built without the dev documents, yet links most of their concepts
    assert report["gold_entities"]["concepts"]["micro"]["tp"] > 0
    # reach: the gold CID pairs whose two IDs the setting's mentions carry bound its recall
    for setting in ("gold_entities", "end_to_end"):
        reach, cid = report[setting]["cid_reach"], report[setting]["cid"]["per_type"]["CID"]
        assert reach["gold"] == 11 and cid["tp"] <= reach["reachable"] <= 11


def test_evaluate_with_relations_prints_concept_and_cid_tables_on_stdout(built, tiny_ner_model, tmp_path):
    """`evaluate --relations`: the scores are results (stdout and --json), not a log line."""
    from prefect.settings import PREFECT_API_URL

    lexicon, model = built
    out = tmp_path / "scores.json"
    done = _litmine("evaluate", "--gold", DEV, "--model", tiny_ner_model, "--relations",
                    "--lexicon", lexicon, "--relation-model", model, "--json", out,
                    PREFECT_API_URL=PREFECT_API_URL.value())
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())["relations"]
    lines = [" ".join(line.replace("│", " ").split()) for line in done.stdout.splitlines()]
    assert "Concept-level scores (MeSH IDs, per document)" in lines
    assert "CID relation scores (BioCreative V CDR, per document)" in lines
    for setting, level, kind in [("gold_entities", "concepts", "Chemical"), ("end_to_end", "concepts", "Disease"),
                                 ("gold_ids", "cid", "CID"), ("gold_entities", "cid", "CID"),
                                 ("end_to_end", "cid", "CID")]:
        c = report[setting][level]["per_type"][kind]
        row = f"{setting} {kind} {c['n_gold']} {c['n_predicted']} {c['tp']} {c['fp']} {c['fn']}"
        assert any(line.startswith(row) for line in lines), (row, done.stdout)
    assert "relation scoring, seconds: load_lexicon" in done.stdout
    assert set(report["seconds"]) >= {"load_lexicon", "load_relation_model", "gold_entities", "gold_ids"}
    assert "| gold_entities | concepts |" not in done.stderr  # no longer a log line instead


def test_batch_step_fills_ids_relations_and_tables(built, tmp_path):
    import duckdb

    from litmine.tasks.linking.normalise import load_linker
    from litmine.tasks.relations.registry import load_relation_model
    from litmine.tasks.relations.relate import candidate_pairs, relate_articles
    from litmine.tasks.store.access import open_store
    from litmine.tasks.store.database import Batch

    lexicon, model = built
    articles, sentences, mentions = _batch_inputs(TRAIN)
    batch = relate_articles(articles, sentences, mentions, linker=load_linker(lexicon),
                            relation_model=load_relation_model(model))
    linked = [m for m in batch.mentions if m.concept_id]
    assert len(linked) > 0.8 * len(mentions)  # training documents are in the lexicon
    assert len(batch.links) == len(batch.mentions)
    assert batch.abbreviations and batch.relations
    pairs = candidate_pairs(batch.candidates)
    assert {p.relation for p in pairs} == {"CID", "none"}
    db = tmp_path / "litmine.duckdb"
    with open_store(db) as store:
        columns = [r[0] for r in store.con.execute("DESCRIBE pairs").fetchall()]
        assert columns[-5:] == ["chemical_id", "disease_id", "relation", "score", "evidence"]
        store.load_batch(Batch(articles=articles, sentences=sentences, mentions=batch.mentions,
                               pairs=pairs, abbreviations=batch.abbreviations),
                         model="ner-model", run_id="run-1")
    con = duckdb.connect(str(db), read_only=True)
    n_cid, top = con.execute("SELECT count(*), max(score) FROM pairs WHERE relation = 'CID'").fetchone()
    assert n_cid == len(batch.relations) and top <= 1.0
    assert con.execute("SELECT count(*) FROM abbreviations").fetchone()[0] == len(batch.abbreviations)
    con.close()


def test_encoder_classifier_trains_and_loads(tmp_path):
    from tests.conftest import build_tiny_bert

    from litmine.tasks.relations.candidates import document_candidates
    from litmine.tasks.relations.encoder import RelationModel
    from litmine.tasks.relations.registry import load_relation_model, train_relations

    base = build_tiny_bert(tmp_path / "tiny", labels=["none", "CID"])
    out = tmp_path / "cid-encoder"
    result = train_relations([TRAIN], [DEV], base, out, 1, method="encoder", batch_size=8,
                             max_train_docs=4, max_dev_docs=2, progress=False)
    assert result["best_epoch"] == 1 and (out / "model.safetensors").is_file()
    model = load_relation_model(out)
    assert isinstance(model, RelationModel)
    doc = read_pubtator(DEV)[0][0]
    cands = model.predict(document_candidates(doc), doc.title)
    assert cands and all(0.0 <= c.score <= 1.0 for c in cands)
    assert {c.method for c in cands} == {"cid-classifier"}
    assert all(c.relation == "" for c in cands if not c.evidence)


def test_stacked_model_trains_through_the_cli_and_scores_whole_documents(built, tmp_path):
    """`train-relations --method stacked` (tiny encoder): both members, the combination and
    the card on disk; loaded by path, it scores a batch as `mine` runs it and is evaluated."""
    from tests.conftest import build_tiny_bert

    from litmine.errors import ModelError
    from litmine.tasks.linking.lexicon import Lexicon
    from litmine.tasks.linking.normalise import Linker
    from litmine.tasks.relations.candidates import document_candidates
    from litmine.tasks.relations.registry import load_relation_model
    from litmine.tasks.relations.relate import relate_articles
    from litmine.tasks.relations.stacked import StackedRelationModel

    lexicon, _ = built
    base = build_tiny_bert(tmp_path / "tiny")
    out = tmp_path / "cid-stacked"
    done = _litmine("train-relations", "--method", "stacked", "--train", TRAIN, "--dev", DEV,
                    "--base-model", base, "--epochs", "2", "--mesh-tree",
                    LEX / "mesh_tree_sample.tsv", "--out", out, "--device", "cpu")
    assert done.returncode == 0, done.stderr
    assert f"saved {out}" in done.stdout
    config = json.loads((out / "relation.json").read_text())
    assert config["kind"] == "stacked" and len(config["weights"]) == 2
    for name in ("linear/weights.json.gz", "linear/mesh_tree.tsv.gz", "document/docre.json",
                 "document/pair_head.safetensors", "training.json"):
        assert (out / name).is_file(), name
    record = json.loads((out / "training.json").read_text())
    assert record["data"]["held_out_documents"] == 4 and record["data"]["fit_documents"] == 16
    assert 1 <= record["document"]["best_epoch"] <= 2
    assert "litmine train-relations --method stacked" in (out / "README.md").read_text()

    model = load_relation_model(out)
    assert isinstance(model, StackedRelationModel) and model.tree is not None
    docs, _ = read_pubtator(DEV)
    articles, sentences, mentions = _batch_inputs(DEV)
    # The fixtures' small lexicon links most of these mentions by the fuzzy level only: at the
    # default threshold (0.9) one candidate pair is left, at 0.8 enough to see every kind.
    linker = Linker(Lexicon.load(lexicon), fuzzy_threshold=0.8)
    batch = relate_articles(articles, sentences, mentions, linker=linker, relation_model=model)
    assert batch.candidates and {c.method for c in batch.candidates} == {"cid-stacked"}
    assert all(0.0 <= c.score <= 1.0 for c in batch.candidates)
    # candidates without a shared sentence are scored too (whole-document reading)
    assert any(c.score > 0 for c in batch.candidates if not c.evidence)
    with pytest.raises(ModelError, match="reads the whole document"):
        model.predict(document_candidates(docs[0]), docs[0].title)
    # a concept past the encoder's token limit: that pair is the linear member's alone
    from litmine.tasks.records import Mention, Sentence
    from litmine.tasks.relations.candidates import build_candidates

    title = "Aspirin and ulcers."
    text = title + " " + "word " * 4500 + "Aspirin causes hypotension."
    far = text.rindex("Aspirin")
    sentences = [Sentence("9", 0, 0, len(title), title),
                 Sentence("9", 1, len(title) + 1, len(text), text[len(title) + 1:])]
    mentions = [Mention("9", 0, 7, "Aspirin", "Chemical", sentence_index=0, concept_id="D001241"),
                Mention("9", 12, 18, "ulcers", "Disease", sentence_index=0, concept_id="D014456"),
                Mention("9", far, far + 7, "Aspirin", "Chemical", sentence_index=1,
                        concept_id="D001241"),
                Mention("9", far + 15, far + 26, "hypotension", "Disease", sentence_index=1,
                        concept_id="D007022")]
    cands = model.predict(build_candidates("9", text, sentences, mentions), title, text=text,
                          mentions=mentions)
    assert {c.disease_id: c.method for c in cands} == {"D014456": "cid-stacked",
                                                       "D007022": "cid-linear"}

    scores = tmp_path / "scores.json"
    done = _litmine("evaluate-relations", "--gold", DEV, "--model", "none", "--lexicon", lexicon,
                    "--relation-model", out, "--json", scores)
    assert done.returncode == 0, done.stderr
    report = json.loads(scores.read_text())
    assert report["gold_ids"]["cid"]["per_type"]["CID"]["n_gold"] == 11


def test_train_relations_rejects_an_unknown_method(tmp_path):
    done = _litmine("train-relations", "--method", "bert", "--train", TRAIN, "--dev", DEV,
                    "--out", tmp_path / "x")
    assert done.returncode != 0
    message = " ".join((done.stdout + done.stderr).split())
    assert "bert" in message and "Traceback" not in message


def test_evaluation_runs_one_ner_pass_for_the_shared_document_member():
    """The shipped stacked model's document member reads the NER pass's token states: in
    `evaluate --relations` one pass of its NER model over all documents serves both gold
    settings, where the whole-encoder member encoded each document in each setting."""
    from litmine.settings import DEFAULT_LEXICON, DEFAULT_RELATION_MODEL
    from litmine.tasks.ner.engine import load_tagger
    from litmine.tasks.relations.evaluation import evaluate_relations
    from litmine.tasks.relations.registry import load_relation_model
    from litmine.tasks.relations.shared import SharedRelationModel

    model = load_relation_model(DEFAULT_RELATION_MODEL)  # the shipped stacked model (cached)
    assert isinstance(model.document, SharedRelationModel)
    tagger = load_tagger(model.document.ner_model, device="cpu", dtype="fp32")
    passes: list[int] = []
    batches = tagger.stats.batches
    hook = tagger._model.register_forward_hook(lambda *_: passes.append(1))
    try:
        report = evaluate_relations([DEV], lexicon=DEFAULT_LEXICON,
                                    relation_model=DEFAULT_RELATION_MODEL)
    finally:
        hook.remove()
    docs, _ = read_pubtator(DEV)
    assert report["documents"] == len(docs) == 6
    assert report["gold_ids"]["cid"]["micro"]["f1"] > 0
    # the batches of one pass over the 6 documents' sentences, not one pass per document
    assert 0 < len(passes) == tagger.stats.batches - batches < len(docs)
