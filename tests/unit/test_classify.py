"""Study types: labels from publication types, the held-out split, scores, the three methods,
fine-tuning, and the `classifications` table. Real models from disk, real DuckDB files."""

from __future__ import annotations

import json

import duckdb
import pytest

from litmine.errors import LitmineError, ModelError
from litmine.tasks.semantic.classify import (LABELS, Example, NLIClassifier, Prediction, TrainedClassifier,
                                    classify_by_embedding, labelled_articles, score_labels,
                                    split_heldout, store_predictions, study_type_of)
from litmine.tasks.training.study_types import default_epochs, train_study_classifier
from litmine.tasks.semantic.embeddings import load_embedder
from litmine.tasks.records import Article
from litmine.tasks.store.database import Batch
from litmine.tasks.store.access import open_store
from tests.support.tiny_models import (NLI_LABELS, build_tiny_encoder,
                                       build_tiny_sequence_classifier)


@pytest.mark.parametrize("types, expected", [
    (("Journal Article",), "other"),
    ((), "other"),
    (("Journal Article", "Review"), "review"),
    (("Journal Article", "Review", "Systematic Review"), "systematic review"),
    (("Meta-Analysis", "Review", "Systematic Review"), "meta-analysis"),
    (("Clinical Trial", "Randomized Controlled Trial", "Multicenter Study"),
     "randomized controlled trial"),
    (("Clinical Trial, Phase II", "Journal Article"), "clinical trial"),
    (("Observational Study",), "observational study"),
    (("Case Reports", "Review"), "case report"),  # "case report and review of the literature"
    (("Comparative Study", "Research Support, Non-U.S. Gov't"), "other"),
])
def test_study_type_of_publication_types(types, expected):
    assert study_type_of(types) == expected


def examples(counts: dict[str, int]) -> list[Example]:
    out, pmid = [], 1000
    for label, n in counts.items():
        for _ in range(n):
            pmid += 1
            out.append(Example(str(pmid), f"text {pmid}", label))
    return out


def test_split_is_stratified_deterministic_and_disjoint():
    data = examples({"other": 40, "review": 10, "case report": 3, "meta-analysis": 1})
    train, test = split_heldout(data, 0.3, seed=13)
    assert {e.pmid for e in train}.isdisjoint({e.pmid for e in test})
    assert len(train) + len(test) == len(data)
    test_counts = {label: sum(e.label == label for e in test) for label in LABELS}
    assert test_counts["other"] == 12 and test_counts["review"] == 3
    assert test_counts["case report"] == 1  # round(0.9) = 1: at least one when there are two
    assert test_counts["meta-analysis"] == 0  # a single example stays in training
    assert split_heldout(list(reversed(data)), 0.3, seed=13) == (train, test)
    assert split_heldout(data, 0.3, seed=14)[1] != test
    with pytest.raises(LitmineError, match="between 0 and 1"):
        split_heldout(data, 1.0)


@pytest.mark.parametrize("gold, predicted, macro, accuracy", [
    (["review", "other", "other"], ["review", "other", "other"], 1.0, 1.0),
    # review: P 1/2 R 1 F 2/3; other: P 1 R 1/2 F 2/3
    (["review", "other", "other"], ["review", "review", "other"], 2 / 3, 2 / 3),
    # a type predicted but never true counts as F1 0 in the macro average
    (["other", "other"], ["other", "case report"], (2 / 3 + 0) / 2, 0.5),
    ([], [], 0.0, 0.0),
])
def test_score_labels(gold, predicted, macro, accuracy):
    scores = score_labels(gold, predicted)
    assert scores["macro_f1"] == pytest.approx(macro)
    assert scores["accuracy"] == pytest.approx(accuracy)
    gold_types = [v["f1"] for v in scores["per_label"].values() if v["support"]]
    assert scores["macro_f1_gold_types"] == pytest.approx(
        sum(gold_types) / len(gold_types) if gold_types else 0.0)
    assert sum(v["support"] for v in scores["per_label"].values()) == len(gold)


@pytest.mark.parametrize("text, expected", [
    ("We report the case of a 45-year-old man who presented with a rare duodenal polyp.",
     "case report"),
    ("Patients were randomly assigned to doxycycline or placebo in a double-blind trial.",
     "randomized controlled trial"),
    ("We pooled the odds ratios of 14 published studies in a meta-analysis.", "meta-analysis"),
])
def test_zero_shot_by_label_descriptions(text, expected):
    prediction = classify_by_embedding(load_embedder(device="cpu"), [text])[0]
    assert prediction.label == expected
    assert -1 <= prediction.score <= 1


@pytest.fixture(scope="module")
def tiny_nli(tmp_path_factory):
    return build_tiny_sequence_classifier(tmp_path_factory.mktemp("nli"), NLI_LABELS, max_length=64)


def test_nli_zero_shot_scores_every_type(tiny_nli):
    nli = NLIClassifier(str(tiny_nli), device="cpu")
    assert nli.entailment_id == 2
    long_text = "Patients were randomly assigned to two arms. " * 20
    predictions = nli.classify(["A case report.", long_text])
    assert len(predictions) == 2
    assert all(p.label in LABELS and 1 / len(LABELS) <= p.score <= 1 for p in predictions)
    assert nli.truncated == len(LABELS)  # the long text, once per hypothesis


def test_models_that_are_not_nli_are_refused(tmp_path, tiny_ner_model):
    sentiment = build_tiny_sequence_classifier(tmp_path / "s", ["negative", "positive"], 64)
    with pytest.raises(ModelError, match=r"labels \['negative', 'positive'\], no 'entailment'"):
        NLIClassifier(str(sentiment), device="cpu")
    with pytest.raises(ModelError, match=r"BertForTokenClassification, not an NLI model"):
        NLIClassifier(str(tiny_ner_model), device="cpu")
    with pytest.raises(ModelError, match="no label names"):
        TrainedClassifier(str(build_tiny_sequence_classifier(tmp_path / "u", ["LABEL_0", "LABEL_1"],
                                                             64)), device="cpu")


def test_fine_tuning_saves_a_classifier_that_loads(tmp_path):
    base = build_tiny_encoder(tmp_path / "base", max_length=64)
    train = [Example(str(i), f"We report the case of patient {i}.", "case report") for i in range(4)]
    train += [Example(str(10 + i), f"Randomised trial number {i} of a drug " * 12,
                      "randomized controlled trial") for i in range(4)]
    train += [Example(str(20 + i), f"Cells were cultured {i}.", "other") for i in range(8)]
    record = train_study_classifier(train, tmp_path / "model", base_model=str(base), epochs=2,
                                    batch_size=4, max_length=32, device="cpu")
    assert record["labels"] == ["randomized controlled trial", "case report", "other"]
    assert record["truncated"] == 4 and len(record["epochs"]) == 2
    assert json.loads((tmp_path / "model" / "training.json").read_text())["n_train"] == 16
    classifier = TrainedClassifier(str(tmp_path / "model"), device="cpu")
    assert classifier.labels == record["labels"] and classifier.max_length == 32
    predictions = classifier.classify(["We report the case of a patient.", "x " * 100])
    assert {p.label for p in predictions} <= set(record["labels"])
    assert classifier.truncated == 1


@pytest.mark.parametrize("n_train, epochs", [(146, 20), (10, 20), (500, 6), (1000, 3),
                                              (30000, 3)])
def test_default_epochs_see_about_3000_examples(n_train, epochs):
    assert default_epochs(n_train) == epochs


def test_training_needs_two_types(tmp_path):
    with pytest.raises(LitmineError, match="at least two study types"):
        train_study_classifier([Example("1", "a", "other")], tmp_path / "m", device="cpu")


def test_labelled_articles_and_stored_predictions(tmp_path):
    db = tmp_path / "c.duckdb"
    articles = [Article("1", "A trial.", "Randomised.", publication_types=(
                    "Randomized Controlled Trial",)),
                Article("2", "A case.", "One patient.", publication_types=("Case Reports",)),
                Article("3", "No abstract.", "")]
    with open_store(db) as store:
        store.load_batch(Batch(articles=articles), model="none", run_id="load")
        found = labelled_articles(store.con)
        assert [(e.pmid, e.label, e.text) for e in found] == [
            ("1", "randomized controlled trial", "A trial. Randomised."),
            ("2", "case report", "A case. One patient.")]
        for _ in range(2):  # replaced, not duplicated
            store_predictions(store.con, ["1", "2"], [Prediction("review", 0.5),
                                                       Prediction("other", 0.25)],
                              model="m", method="embedding", run_id="r")
        store_predictions(store.con, ["1"], [Prediction("review", 0.9)], model="m", method="nli",
                          run_id="r")
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT pmid, method, label, score FROM classifications ORDER BY ALL"
                       ).fetchall() == [("1", "embedding", "review", 0.5), ("1", "nli", "review", 0.9),
                                        ("2", "embedding", "other", 0.25)]
    con.close()
