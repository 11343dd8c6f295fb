"""The `evaluate` flow: strict mention-level scores of a NER model (or of exported predictions)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.utilities.annotations import quote
from rich.console import Console

from litmine.errors import LitmineError
from litmine.flows.pipeline import choose_ner_dtype
from litmine.tasks.loading import relation_dtype
from litmine.settings import get_settings
from litmine.tasks.linking.concept_scores import score_concepts
from litmine.tasks.ner.evaluation import tag_documents
from litmine.tasks.relations.evaluation import (cid_reach, evaluate_relations, format_report,
                                               format_tables, format_typed_errors,
                                               has_typed_relations, score_relations,
                                               score_typed_setting)
from litmine.tasks.relations.typed_gold import (canonical_mentions, concept_entity_types,
                                                gold_relations)
from litmine.tasks.scoring import evaluate_predictions, format_errors, format_markdown, format_table
from litmine.tasks.sources.pubtator import build_type_map, gold_to_mentions, iter_pubtator, map_type, read_pubtator
from litmine.tasks.text.abbreviations import fix_with_abbreviations
from litmine.tasks.training.corpus import read_corpus

__all__ = ["evaluate", "evaluate_predictions", "read_predictions"]


def read_predictions(paths: list[str], type_map: list[str] | None = None) -> list:
    """Predicted mentions from PubTator files (what `litmine export --format pubtator` writes),
    with the same type mapping as the gold."""
    mapping = build_type_map(type_map)
    return [replace(m, type=map_type(m.type, mapping)) for path in paths
            for doc in iter_pubtator(path) for m in gold_to_mentions(doc)]


@flow(name="evaluate", log_prints=True)
def evaluate(
    gold: list[str],
    model: str | None = None,
    predicted: list[str] | None = None,
    types: list[str] | None = None,
    type_map: list[str] | None = None,
    json_out: str | None = None,
    errors_out: str | None = None,
    device: str = "auto",
    dtype: str | None = None,
    max_batch_tokens: int = 8192,
    stride: int = 32,
    abbreviations: bool = True,
    relations: bool = False,
    lexicon: str | None = None,
    relation_model: str | None = None,
    typed_relation_model: str | None = None,
    show: bool = True,
) -> dict:
    """Score a model on gold PubTator documents through the mining pipeline's own path.

    Each gold document's ``title + " " + abstract`` is split into sentences and tagged by the
    model (or, with `predicted`, mentions are read from PubTator files instead). Scores are
    strict: (pmid, start, end, type) must match. Default `types`: the gold types the model
    predicts. Writes the scores as JSON (`json_out`) and the FP/FN listing (`errors_out`; with
    `relations` on BioRED-format gold, then each relation error and its cause per setting).

    As in `mine`, a model's mentions are made consistent with the documents' abbreviation
    definitions (`abbreviations`). With `relations`, the same mentions are also linked to MeSH
    (`lexicon`) and their concept pairs scored by the CID model (`relation_model`) and, when the
    gold has BioRED's relation types, the typed model (`typed_relation_model`, "" for none);
    concept-level and relation scores are reported beside the gold-entity settings (or, with
    `predicted`, the concept IDs and relation lines of the predicted files are scored). `dtype`: the
    NER weights' dtype, as in `mine` (default $LITMINE_DTYPE, "auto"), which decides the relation
    encoders' as in `mine` (`relation_dtype`); the report records both.
    """
    logger = get_run_logger()
    if predicted and model:
        raise LitmineError("evaluate: give either a model or predicted files, not both")
    corpus = read_corpus(gold, types=types, type_map=type_map)
    docs = corpus.evaluation_documents()
    if not docs:
        raise LitmineError(f"evaluate: no documents in {gold}; are these PubTator files?")
    relation_dtype_name = None  # predicted files: no model runs
    if predicted:
        mentions = read_predictions(predicted, type_map)
        source, model_types = ", ".join(predicted), None
    else:
        source = model or get_settings().model
        ner_dtype = choose_ner_dtype(dtype, device, logger)
        dtype, relation_dtype_name = ner_dtype.name, relation_dtype(ner_dtype).name
        mentions, model_types = tag_documents(quote(docs), source, device=device, dtype=dtype,
                                              max_batch_tokens=max_batch_tokens, stride=stride)
        if abbreviations:
            mentions = fix_with_abbreviations([d.to_article() for d in docs], mentions)
    scored_types = types
    if scored_types is None and model_types is not None:
        scored_types = sorted(set(corpus.types) & set(model_types)) or list(corpus.types)
        if skipped := sorted(set(corpus.types) - set(model_types)):
            logger.info("not scored: gold types the model does not predict: %s", skipped)
    scores = evaluate_predictions(docs, mentions, types=scored_types)
    report = scores.as_dict() | {"model": source, "gold": list(gold)}
    if not predicted:
        report["dtype"] = dtype
    if show:
        Console().print(format_table(scores, title=f"{source} on {', '.join(gold)}"))
    logger.info("strict micro F1 %.2f over %d documents (%s)", 100 * (scores.f1 or 0),
                scores.n_documents, ", ".join(scores.scored_types))
    if errors_out:
        texts = {d.pmid: d.text for d in docs}
        Path(errors_out).write_text(format_errors(scores, texts), encoding="utf-8")
    markdown = (f"# NER evaluation\n\nModel: `{source}`\n\nGold: {', '.join(gold)}\n\n"
                f"{format_markdown(scores)}")
    if relations:
        concept_types = _concept_types(corpus.documents, scored_types or corpus.types)
        report["relations"] = _relation_scores(gold, corpus.documents, mentions, predicted, type_map,
                                               concept_types, lexicon, relation_model, device,
                                               typed_relation_model, relation_dtype_name,
                                               errors=bool(errors_out))
        if errors_out and (listing := format_typed_errors(report["relations"])):
            with open(errors_out, "a", encoding="utf-8") as handle:
                handle.write(listing)
        markdown += "\n\n## Concepts and CID relations\n\n" + format_report(report["relations"])
        if show:  # on stdout like the mention table (print() would go to the run's log)
            for table in format_tables(report["relations"]):
                Console().print(table)
            if seconds := report["relations"].get("seconds"):
                Console().print("relation scoring, seconds: "
                                + ", ".join(f"{k} {v:g}" for k, v in seconds.items()), highlight=False)
    if json_out:
        Path(json_out).write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    create_markdown_artifact(key="ner-evaluation", markdown=markdown,
                             description="litmine evaluate: strict mention-level scores")
    return report


def _concept_types(docs: list, types) -> list[str]:
    """The scored types whose gold mentions carry concept IDs (a corpus that links no Species
    cannot score Species concepts); all of `types` if none does."""
    linked = {m.type for d in docs for m in d.mentions if m.concept_id not in ("", "-", "-1")}
    return [t for t in types if t in linked] or list(types)


def _relation_scores(gold: list[str], gold_docs: list, mentions: list, predicted: list[str] | None,
                     type_map: list[str] | None, concept_types: list[str], lexicon: str | None,
                     relation_model: str | None, device: str,
                     typed_relation_model: str | None = None,
                     relation_dtype_name: str | None = None, errors: bool = False) -> dict:
    """Concept and CID scores: of the predicted files' IDs and CID lines, or of `mentions`
    linked and related end to end (with the gold-entity settings, for attribution). `gold_docs`
    are the gold's PubTator documents with litmine's types; concepts of `concept_types` are scored."""
    settings = get_settings()
    lexicon = lexicon or str(settings.lexicon)
    relation_model = relation_model or str(settings.relation_model)
    if typed_relation_model is None:
        typed_relation_model = str(settings.typed_relation_model)
    if predicted:
        pred_docs = [d for path in predicted for d in read_pubtator(path)[0]]
        linked = read_predictions(predicted, type_map)
        triples = [(d.pmid, a, b) for d in pred_docs for t, a, b in d.relations if t == "CID"]
        files = {"concepts": score_concepts(gold_docs, linked, types=concept_types).as_dict(),
                 "cid": score_relations(gold_docs, triples).as_dict(),
                 "cid_reach": cid_reach(gold_docs, linked)}
        if has_typed_relations(gold_docs):
            typed = {d.pmid: [(a, b, t, d.novel(k)) for k, (t, a, b) in enumerate(d.relations)
                              if t != "CID"] for d in pred_docs}
            gold_mentions = {d.pmid: canonical_mentions(d) for d in gold_docs}
            files |= score_typed_setting(
                typed, {d.pmid: gold_relations(d) for d in gold_docs},
                {pmid: concept_entity_types(ms) for pmid, ms in gold_mentions.items()}, linked,
                gold_mentions if errors else None)
        return {"gold": list(gold), "documents": len(gold_docs), "predicted_files": files}
    return evaluate_relations(gold, predicted_mentions=mentions, lexicon=lexicon,
                              relation_model=relation_model, device=device, documents=gold_docs,
                              concept_types=concept_types,
                              typed_relation_model=typed_relation_model or None,
                              dtype=relation_dtype_name or "fp32", errors=errors)
