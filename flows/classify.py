"""Study-type flows: `classify` stored abstracts, `train_classifier` on PublicationType labels,
and `evaluate_classifier` (macro-F1 per type on a held-out split, trained vs zero-shot)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from litmine.errors import LitmineError
from litmine.model_packages import output_path
from litmine.tasks.semantic.classify import (LABELS, NLIClassifier, TrainedClassifier, classify_by_embedding,
                                    labelled_articles, score_labels, split_heldout,
                                    store_predictions)
from litmine.tasks.semantic.embeddings import load_embedder
from litmine.tasks.store.access import database_path, open_store
from litmine.tasks.store.runs import recorded_run
from litmine.tasks.training.study_types import train_study_classifier

METHODS = ("embedding", "nli", "trained")
#: Where `litmine train-classifier` saves its model unless told otherwise.
DEFAULT_CLASSIFIER_DIR = output_path("litmine-study-type-minilm-l6")


def load_method(method: str, model: str | None, device: str = "auto"):
    """(model name, predict(texts) -> predictions) for a method, or a LitmineError."""
    if method == "embedding":
        embedder = load_embedder(model, device=device)
        return embedder.model_name, lambda texts: classify_by_embedding(embedder, texts)
    if method in ("nli", "trained") and not model:
        example = ("facebook/bart-large-mnli" if method == "nli"
                   else f"{DEFAULT_CLASSIFIER_DIR} (made by `litmine train-classifier`)")
        raise LitmineError(f"classify: --method {method} needs --model, e.g. {example}")
    if method == "nli":
        nli = NLIClassifier(model, device=device)
        return nli.model_name, nli.classify
    if method == "trained":
        trained = TrainedClassifier(model, device=device)
        return trained.model_name, trained.classify
    raise LitmineError(f"classify: unknown method {method!r}; use one of {', '.join(METHODS)}")


@task(name="classify-abstracts", cache_policy=NO_CACHE)
def classify_chunk(predict, texts: list[str]) -> list:
    """Prefect task: predict the study types of a chunk of abstracts."""
    return predict(texts)


@flow(name="classify", log_prints=True)
def classify(db: str | None = None, method: str = "embedding", model: str | None = None,
             device: str = "auto", chunk: int = 256) -> dict:
    """Classify every stored abstract by study type and store the labels in `classifications`."""
    logger = get_run_logger()
    db_path = database_path(db, "classify")
    name, predict = load_method(method, model, device)
    with open_store(db_path) as store, \
            recorded_run(store, "classify", {"db": str(db_path), "method": method, "model": name},
                         model=name, run_id=str(flow_run.id) if flow_run.id else None) as run:
        counts = run.counts
        examples = labelled_articles(store.con)
        store.release()  # not held while abstracts are classified
        for i in range(0, len(examples), chunk):
            part = examples[i:i + chunk]
            predictions = classify_chunk(predict, [e.text for e in part])
            store_predictions(store.con, [e.pmid for e in part], predictions, model=name,
                              method=method, run_id=run.run_id)
            store.release()
            counts.update(p.label for p in predictions)
    run_id = run.run_id
    logger.info("classified %d abstracts with %s (%s): %s", sum(counts.values()), name, method,
                dict(counts))
    return {"run_id": run_id, "db": str(db_path), "model": name, "method": method,
            "classified": sum(counts.values()), "labels": dict(counts)}


def score_methods(test: list, methods: dict[str, tuple[str, str | None]],
                  device: str = "auto") -> dict:
    """Scores of each named method (name -> (method, model)) on the test examples."""
    gold = [e.label for e in test]
    results = {}
    for title, (method, model) in methods.items():
        name, predict = load_method(method, model, device)
        predicted = [p.label for p in predict([e.text for e in test])]
        results[title] = score_labels(gold, predicted) | {"model": name, "method": method}
    return results


def comparison_markdown(results: dict, gold_counts: dict) -> str:
    """A table of F1 per study type (rows) for each method (columns), then macro-F1."""
    names = list(results)
    labels = [label for label in LABELS
              if label in gold_counts or any(label in r["per_label"] for r in results.values())]
    lines = ["| study type | test n | " + " | ".join(f"F1 {n}" for n in names) + " |",
             "|---|---:|" + "---:|" * len(names)]
    for label in labels:
        cells = [f"{100 * r['per_label'][label]['f1']:.1f}" if label in r["per_label"] else "-"
                 for r in results.values()]
        lines.append(f"| {label} | {gold_counts.get(label, 0)} | " + " | ".join(cells) + " |")
    lines.append("| **macro-F1** | " + str(sum(gold_counts.values())) + " | "
                 + " | ".join(f"**{100 * r['macro_f1']:.1f}**" for r in results.values()) + " |")
    lines.append("| macro-F1, types in the test split | | " + " | ".join(
        f"{100 * r['macro_f1_gold_types']:.1f}" for r in results.values()) + " |")
    lines.append("| accuracy | | " + " | ".join(f"{100 * r['accuracy']:.1f}"
                                                 for r in results.values()) + " |")
    return "\n".join(lines)


def heldout_split(examples: list, model_dir: str | None, test_fraction: float, seed: int):
    """The held-out split a trained model recorded (split.json), else a fresh stratified one."""
    record = Path(model_dir) / "split.json" if model_dir else None
    if record is not None and record.is_file():
        saved = json.loads(record.read_text())
        test_pmids = set(saved["test_pmids"])
        return ([e for e in examples if e.pmid not in test_pmids],
                [e for e in examples if e.pmid in test_pmids])
    return split_heldout(examples, test_fraction, seed)


@flow(name="evaluate-classifier", log_prints=True)
def evaluate_classifier(db: str | None = None, model: str | None = None,
                        nli_model: str | None = None, embed_model: str | None = None,
                        test_fraction: float = 0.3, seed: int = 13, device: str = "auto",
                        json_out: str | None = None) -> dict:
    """Macro-F1 per study type on the held-out split: trained model (if given) vs zero-shot."""
    logger = get_run_logger()
    with open_store(database_path(db, "classify"), "read", stage="classify") as store:
        examples = labelled_articles(store.con)
    _, test = heldout_split(examples, model, test_fraction, seed)
    if not test:
        raise LitmineError(f"evaluate-classifier: no held-out abstracts ({len(examples)} "
                           "labelled in the database); store more articles first")
    methods = {"zero-shot (embedding)": ("embedding", embed_model)}
    if nli_model:
        methods["zero-shot (NLI)"] = ("nli", nli_model)
    if model:
        methods["trained"] = ("trained", model)
    results = score_methods(test, methods, device)
    gold_counts = dict(Counter(e.label for e in test))
    table = comparison_markdown(results, gold_counts)
    report = {"n_test": len(test), "n_labelled": len(examples), "test_counts": gold_counts,
              "results": results, "table": table}
    if json_out:
        Path(json_out).write_text(json.dumps(report, indent=1))
    create_markdown_artifact(key="study-type-evaluation", markdown=f"# Study types\n\n{table}",
                             description="litmine evaluate-classifier: held-out F1 per type")
    logger.info("held-out macro-F1: %s", {k: round(100 * v["macro_f1"], 1)
                                          for k, v in results.items()})
    return report


@flow(name="train-classifier", log_prints=True)
def train_classifier(db: str | None = None, out_dir: str = str(DEFAULT_CLASSIFIER_DIR),
                     base_model: str | None = None, epochs: int | None = None, lr: float = 1e-4,
                     batch_size: int = 16, max_length: int = 256, test_fraction: float = 0.3,
                     seed: int = 13, device: str = "auto", limit: int | None = None) -> dict:
    """Fine-tune a study-type classifier on stored articles' PublicationType labels, then score it
    and the zero-shot baseline on the held-out split (written to `out_dir`/evaluation.json)."""
    logger = get_run_logger()
    with open_store(database_path(db, "classify"), "read", stage="classify") as store:
        examples = labelled_articles(store.con, limit=limit)
    train, test = split_heldout(examples, test_fraction, seed)
    logger.info("%d labelled abstracts: %d train, %d held out; train labels %s", len(examples),
                len(train), len(test), dict(Counter(e.label for e in train)))
    record = train_study_classifier(train, out_dir, base_model=base_model, epochs=epochs, lr=lr,
                                    batch_size=batch_size, max_length=max_length, seed=seed,
                                    device=device, log=logger.info)
    Path(out_dir, "split.json").write_text(json.dumps(
        {"test_fraction": test_fraction, "seed": seed, "test_pmids": [e.pmid for e in test]}))
    report = evaluate_classifier(db=db, model=out_dir, embed_model=base_model,
                                 test_fraction=test_fraction, seed=seed, device=device,
                                 json_out=str(Path(out_dir, "evaluation.json")))
    return {"out_dir": out_dir, "training": {k: v for k, v in record.items()
                                             if k != "train_pmids"}} | report
