"""Concept-level normalisation, CID and BioRED typed relation scores on gold PubTator documents.

`evaluate_relations` scores with gold entities and gold IDs (the relation models alone), gold
entities with predicted IDs, and end to end from raw text; `score_relations` is BioCreative V
CDR's document-level CID score; typed relations (when the gold has BioRED's relation types) get
BioCreative VIII's pair, pair+type and pair+type+novelty scores
(`litmine.tasks.relations.typed_gold`); `format_report` makes the markdown table.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from litmine.settings import DEFAULT_LEXICON, DEFAULT_RELATION_MODEL
from litmine.tasks.linking.concept_ids import mention_concept_ids
from litmine.tasks.linking.concept_scores import score_concepts
from litmine.tasks.linking.normalise import load_linker
from litmine.tasks.ner.engine import load_tagger
from litmine.tasks.records import Mention
from litmine.tasks.relations.candidates import Candidate, document_candidates
from litmine.tasks.relations.registry import load_relation_model, load_typed_model
from litmine.tasks.relations.relate import RelationBatch, relate_articles
from litmine.tasks.relations.shared import pass_states
from litmine.tasks.relations.typed import RELATION_TYPES
from litmine.tasks.relations.typed_errors import format_relation_errors, list_relation_errors
from litmine.tasks.relations.typed_gold import (canonical_mentions, concept_entity_types,
                                                gold_relations, score_by_entity_pair,
                                                score_relations as score_typed)
from litmine.tasks.scoring import Span, concept_key, pct, score_spans
from litmine.tasks.sources.pubtator import gold_to_mentions, read_pubtator
from litmine.tasks.text.sentences import split_article


def relation_spans(pmid: str, pairs: Iterable[tuple[str, str]]) -> list:
    """Scoring spans for (chemical ID, disease ID) pairs of a document (type "CID")."""
    return [Span(pmid, -1, -1, "CID", f"{c} -> {d}", f"{c}|{d}") for c, d in pairs]


def score_relations(gold_docs: Sequence, predicted: Iterable[tuple[str, str, str]]):
    """BioCreative V CDR CID scores: sets of (pmid, chemical MeSH, disease MeSH).

    `predicted`: (pmid, chemical_id, disease_id) triples. Returns
    `litmine.tasks.scoring.Scores` (level "relation", one type "CID").
    """
    gold = [s for d in gold_docs for s in
            relation_spans(d.pmid, [(a, b) for t, a, b in d.relations if t == "CID"])]
    by_doc: dict[str, list] = defaultdict(list)
    for pmid, c, d in predicted:
        by_doc[pmid].append((c, d))
    pred = [s for pmid, pairs in by_doc.items() for s in relation_spans(pmid, pairs)]
    return score_spans(gold, pred, types=["CID"], pmids=[d.pmid for d in gold_docs],
                       key=concept_key, level="relation")


def cid_reach(gold_docs: Sequence, mentions: Iterable[Mention]) -> dict[str, int]:
    """How many gold CID relations `mentions` could reach: "gold", and "reachable", those whose
    chemical ID a Chemical mention and disease ID a Disease mention of the document carry (the
    most a CID model can recall after NER and linking)."""
    found: set[tuple[str, str, str]] = set()
    for m in mentions:
        found.update((m.pmid, m.type, cid) for cid in mention_concept_ids(m.type, m.concept_id))
    gold = {(d.pmid, a, b) for d in gold_docs for t, a, b in d.relations if t == "CID"}
    return {"gold": len(gold),
            "reachable": sum((p, "Chemical", a) in found and (p, "Disease", b) in found
                             for p, a, b in gold)}


def _predicted_triples(candidates: Sequence[Candidate]) -> list[tuple[str, str, str]]:
    return [c.key for c in candidates if c.relation == "CID"]


def has_typed_relations(docs: Sequence) -> bool:
    """Whether gold documents carry BioRED relation types (not only BC5CDR's CID)."""
    return any(t in RELATION_TYPES for d in docs for t, _, _ in d.relations)


def typed_triples(relations) -> dict[str, list[tuple[str, str, str, str]]]:
    """`Relation` rows as `score_typed` takes them: pmid -> (id1, id2, type, novelty)."""
    out: dict[str, list] = defaultdict(list)
    for r in relations:
        out[r.pmid].append((r.id1, r.id2, r.relation, r.novel))
    return out


def score_typed_setting(predicted: dict[str, list], gold: dict[str, Any],
                        gold_types: dict[str, dict], mentions: Iterable[Mention],
                        gold_mentions: Mapping[str, Sequence[Mention]] | None = None
                        ) -> dict[str, Any]:
    """A setting's BioRED scores: "typed" (`score_typed`) and "typed_by_entity_pair"
    (`score_by_entity_pair`, with the gold pairs that `mentions`' IDs could reach); with
    `gold_mentions` (pmid -> the gold documents' mentions), also "typed_errors"
    (`list_relation_errors`: each error and its cause)."""
    found: dict[str, dict[str, str]] = defaultdict(dict)
    by_pmid: dict[str, list[Mention]] = defaultdict(list)
    for m in mentions:
        by_pmid[m.pmid].append(m)
    for pmid, ms in by_pmid.items():
        found[pmid] = concept_entity_types(ms)
    out = {"typed": score_typed(predicted, gold),
           "typed_by_entity_pair": score_by_entity_pair(predicted, gold, gold_types, found)}
    if gold_mentions is not None:
        out["typed_errors"] = list_relation_errors(predicted, gold, gold_mentions, by_pmid)
    return out


def format_typed_errors(report: dict[str, Any]) -> str:
    """Each setting's "typed_errors" as text (`format_relation_errors`), "" when none has them."""
    return "".join("\n" + format_relation_errors(report[setting]["typed_errors"],
                                                  f"BioRED relations, {setting}: {what}")
                   for setting, what in SETTINGS.items()
                   if "typed_errors" in report.get(setting, {}))


def evaluate_relations(gold: Sequence[str | Path], *, ner_model: str | None = None,
                       lexicon: str | Path = DEFAULT_LEXICON,
                       relation_model: str | Path = DEFAULT_RELATION_MODEL,
                       typed_relation_model: str | Path | None = None,
                       predicted_mentions: Sequence[Mention] | None = None,
                       device: str = "cpu", max_documents: int | None = None,
                       documents: Sequence | None = None,
                       concept_types: Sequence[str] | None = None,
                       dtype: str = "fp32", errors: bool = False) -> dict[str, Any]:
    """Concept-level and CID scores on gold PubTator documents.

    Three settings, so that errors can be attributed: "gold_ids" (gold entities with gold IDs:
    the classifier alone, CID only), "gold_entities" (gold spans and types, predicted IDs), and
    "end_to_end" (mentions from `ner_model`, or `predicted_mentions`, then abbreviations,
    normalisation and relations). Returns a JSON-ready dict of Scores.as_dict() per setting.
    `documents`: the gold documents already read (types mapped to litmine's, e.g. by
    `litmine evaluate`), instead of reading `gold` as it is; `concept_types`: the types whose
    concepts are scored (default: score_concepts's, Chemical and Disease).
    `typed_relation_model`: scores BioRED's typed relations too ("typed" in each setting) when
    the gold documents have them; with `errors`, each setting also lists its relation errors
    and their causes ("typed_errors": `list_relation_errors`). `dtype`: the relation encoders'
    weights (as `mine` runs them: `litmine.tasks.loading.relation_dtype`), recorded as "dtype".
    """
    docs = list(documents if documents is not None else
                [d for path in gold for d in read_pubtator(path)[0]])[:max_documents]
    by_type = {"types": tuple(concept_types)} if concept_types else {}
    articles = [d.to_article() for d in docs]
    sentences = [s for a in articles for s in split_article(a)]
    timings: dict[str, float] = {}
    t = time.perf_counter()
    linker = load_linker(lexicon)
    timings["load_lexicon"] = time.perf_counter() - t
    t = time.perf_counter()
    model = load_relation_model(relation_model, device=device, dtype=dtype)
    timings["load_relation_model"] = time.perf_counter() - t
    typed = None
    if typed_relation_model and has_typed_relations(docs):
        t = time.perf_counter()
        typed = load_typed_model(typed_relation_model, device=device, dtype=dtype)
        timings["load_typed_relation_model"] = time.perf_counter() - t
    report: dict[str, Any] = {"gold": [str(g) for g in gold], "documents": len(docs),
                              "lexicon": str(lexicon), "relation_model": str(relation_model),
                              "typed_relation_model": str(typed_relation_model) if typed else None,
                              "typed_thresholds": ({"given": typed.given_threshold,
                                                    "tagged": typed.threshold} if typed else None),
                              "dtype": getattr(model, "dtype", None)}
    gold_typed = {d.pmid: gold_relations(d) for d in docs} if typed is not None else {}
    canonical = {d.pmid: canonical_mentions(d) for d in docs}  # gold mentions, litmine's types
    gold_types = {pmid: concept_entity_types(ms) for pmid, ms in canonical.items()}
    gold_mentions = canonical if errors else None
    typed_gold_ids: dict[str, list] = {}

    # Gold entities with predicted IDs, then with gold IDs (the classifier on its own), one
    # document at a time: where every gold entity was linked, both mark the same text, and the
    # document model encodes it once (`DocumentRelationModel` keeps the last encoding).
    by_pmid: dict[str, list] = {}
    for s in sentences:
        by_pmid.setdefault(s.pmid, []).append(s)
    stripped = {d.pmid: [replace(m, concept_id="") for m in gold_to_mentions(d)] for d in docs}
    linker.link_many(sorted({(m.text, m.type) for ms in stripped.values() for m in ms}))
    batch, cands = RelationBatch(), []
    t = time.perf_counter()
    # Shared relation models read the states of their NER model's pass: one pass for all.
    states = pass_states(sentences, model, typed)
    timings["states"] = time.perf_counter() - t
    timings["gold_entities"] = timings["gold_ids"] = 0.0
    for d, article in zip(docs, articles):
        t = time.perf_counter()
        one = relate_articles([article], by_pmid.get(d.pmid, []), stripped[d.pmid], linker=linker,
                              relation_model=model, typed_model=typed, fix_mentions=False,
                              states=states)
        batch.mentions += one.mentions
        batch.links += one.links
        batch.candidates += one.candidates
        batch.typed_relations += one.typed_relations
        timings["gold_entities"] += time.perf_counter() - t
        t = time.perf_counter()
        context = {"states": states.get(d.pmid), "sentences": by_pmid.get(d.pmid, []),
                   "pmid": d.pmid}
        cands += model.predict(document_candidates(d), d.title, text=d.text,
                               mentions=gold_to_mentions(d), **context)
        if typed is not None:  # gold IDs are given IDs: `mine --entities given`'s threshold
            typed_gold_ids[d.pmid] = [(r.first[1], r.second[1], r.relation, r.novel) for r in
                                      typed.predict_document(d.text, canonical[d.pmid],
                                                             typed.given_threshold, **context)]
        timings["gold_ids"] += time.perf_counter() - t
    report["gold_entities"] = {
        "concepts": score_concepts(docs, batch.mentions, **by_type).as_dict(),
        "cid": score_relations(docs, _predicted_triples(batch.candidates)).as_dict(),
        "cid_reach": cid_reach(docs, batch.mentions),
        "link_methods": dict(Counter(l.method for l in batch.links))}
    report["gold_ids"] = {"cid": score_relations(docs, _predicted_triples(cands)).as_dict()}
    if typed is not None:
        report["gold_ids"] |= score_typed_setting(
            typed_gold_ids, gold_typed, gold_types,
            [m for ms in canonical.values() for m in ms], gold_mentions)
        report["gold_entities"] |= score_typed_setting(
            typed_triples(batch.typed_relations), gold_typed, gold_types, batch.mentions,
            gold_mentions)
    if ner_model or predicted_mentions is not None:
        t = time.perf_counter()
        if predicted_mentions is None:
            tagger = load_tagger(str(ner_model), device=device)
            predicted_mentions = tagger.tag(sentences)
        timings["ner"] = time.perf_counter() - t
        t = time.perf_counter()
        batch = relate_articles(articles, sentences, predicted_mentions, linker=linker,
                                relation_model=model, typed_model=typed, states=states)
        timings["end_to_end"] = time.perf_counter() - t
        if typed is not None:
            report.setdefault("end_to_end", {}).update(score_typed_setting(
                typed_triples(batch.typed_relations), gold_typed, gold_types, batch.mentions,
                gold_mentions))
        report["end_to_end"] = report.get("end_to_end", {}) | {
            "ner_model": str(ner_model) if ner_model else "predicted mentions",
            "concepts": score_concepts(docs, batch.mentions, **by_type).as_dict(),
            "cid": score_relations(docs, _predicted_triples(batch.candidates)).as_dict(),
            "cid_reach": cid_reach(docs, batch.mentions),
            "link_methods": dict(Counter(l.method for l in batch.links
                                         if l.method != "none" or l.reason))}
    report["seconds"] = {k: round(v, 1) for k, v in timings.items()}
    return report


def format_report(report: dict[str, Any]) -> str:
    """Markdown tables: concept P/R/F1 per type and CID P/R/F1 per setting."""
    lines = ["| setting | level | type | gold | pred | TP | FP | FN | P | R | F1 |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for setting in ("gold_ids", "gold_entities", "end_to_end", "predicted_files"):
        if setting not in report:
            continue
        for level in ("concepts", "cid"):
            scores = report[setting].get(level)
            if not scores:
                continue
            for t, c in sorted(scores["per_type"].items()):
                lines.append(f"| {setting} | {level} | {t} | {c['n_gold']} | {c['n_predicted']} "
                             f"| {c['tp']} | {c['fp']} | {c['fn']} | {pct(c['precision'])} | "
                             f"{pct(c['recall'])} | {pct(c['f1'])} |")
        for level, c in report[setting].get("typed", {}).items():
            lines.append(f"| {setting} | BioRED | {level} | {c['tp'] + c['fn']} | "
                         f"{c['tp'] + c['fp']} | {c['tp']} | {c['fp']} | {c['fn']} | "
                         f"{pct(c['precision'])} | {pct(c['recall'])} | {pct(c['f1'])} |")
    if reach := describe_cid_reach(report):
        lines += ["", reach + "."]
    rows = tabulate_entity_pairs(report)
    if rows:
        lines += ["", "| entities | setting | gold | reachable | pair F1 | +type F1 | +novelty F1 |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def describe_cid_reach(report: dict[str, Any]) -> str:
    """One line: each setting's share of gold CID relations its mentions could reach ("" when
    no setting has a `cid_reach` with gold relations)."""
    parts = [f"{setting} {pct(c['reachable'] / c['gold'])}% ({c['reachable']} of {c['gold']})"
             for setting in SETTINGS
             if (c := report.get(setting, {}).get("cid_reach")) and c["gold"]]
    return ("Gold CID relations whose two IDs the mentions carry: " + ", ".join(parts)
            if parts else "")


def tabulate_entity_pairs(report: dict[str, Any]) -> list[list[str]]:
    """Rows (entity-type pair, setting, gold pairs, reachable %, pair / +type / +novelty F1) of
    each setting's `typed_by_entity_pair`, most gold pairs first."""
    by_kind: dict[str, list] = defaultdict(list)
    for setting in SETTINGS:
        for kind, c in report.get(setting, {}).get("typed_by_entity_pair", {}).items():
            by_kind[kind].append((setting, c))
    rows = []
    for kind, entries in sorted(by_kind.items(), key=lambda kv: (-kv[1][0][1]["gold"], kv[0])):
        for setting, c in entries:
            reach = pct(c["reachable"] / c["gold"]) if c["gold"] else "–"
            rows.append([kind, setting, str(c["gold"]), reach,
                         *(pct(c[level]["f1"]) if c["gold"] else "–"
                           for level in ("pair", "pair+type", "pair+type+novelty"))])
    return rows


#: Settings of a report, in the order they are shown, and what each one attributes.
SETTINGS = {"gold_ids": "gold entities, gold IDs (the relation models alone)",
            "gold_entities": "gold entities, predicted IDs",
            "end_to_end": "predicted entities and IDs",
            "predicted_files": "the predicted files' IDs and relation lines"}


def format_tables(report: dict[str, Any]) -> list:
    """Rich Tables of `report`: concept P/R/F1 per type, then CID P/R/F1, one row per setting."""
    from rich import box
    from rich.table import Table

    tables = []
    for level, title in (("concepts", "Concept-level scores (MeSH IDs, per document)"),
                         ("cid", "CID relation scores (BioCreative V CDR, per document)")):
        # Compact enough for rich's 80 columns when stdout is a pipe (no header is cut).
        table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
        table.add_column("setting", no_wrap=True)
        for name in ("type", "gold", "pred", "TP", "FP", "FN", "P", "R", "F1"):
            table.add_column(name, justify="left" if name == "type" else "right", no_wrap=True)
        for setting in SETTINGS:
            scores = report.get(setting, {}).get(level)
            for t, c in sorted((scores or {}).get("per_type", {}).items()):
                table.add_row(setting, t, str(c["n_gold"]), str(c["n_predicted"]), str(c["tp"]),
                              str(c["fp"]), str(c["fn"]), pct(c["precision"]), pct(c["recall"]),
                              pct(c["f1"]))
        if table.row_count:
            table.caption = "; ".join(f"{k}: {v}" for k, v in SETTINGS.items() if level in report.get(k, {}))
            if level == "cid" and (reach := describe_cid_reach(report)):
                table.caption += ". " + reach
            tables.append(table)
    table = Table(title="BioRED relation scores (BioCreative VIII, per document)",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("setting", no_wrap=True)
    for name in ("level", "gold", "pred", "TP", "FP", "FN", "P", "R", "F1"):
        table.add_column(name, justify="left" if name == "level" else "right", no_wrap=True)
    for setting in SETTINGS:
        for level, c in report.get(setting, {}).get("typed", {}).items():
            table.add_row(setting, level, str(c["tp"] + c["fn"]), str(c["tp"] + c["fp"]),
                          str(c["tp"]), str(c["fp"]), str(c["fn"]), pct(c["precision"]),
                          pct(c["recall"]), pct(c["f1"]))
    if table.row_count:
        table.caption = "; ".join(f"{k}: {v}" for k, v in SETTINGS.items()
                                  if "typed" in report.get(k, {}))
        thresholds = report.get("typed_thresholds")
        if thresholds:
            table.caption += (f". Pairs kept at {thresholds['given']:.3g} with gold IDs, "
                              f"{thresholds['tagged']:.3g} with predicted ones")
        tables.append(table)
    rows = tabulate_entity_pairs(report)
    if rows:
        table = Table(title="BioRED relations by entity types (F1)", box=box.SIMPLE_HEAD,
                      pad_edge=False, collapse_padding=True)
        for name in ("entities", "setting", "gold", "reach", "pair", "+type", "+novelty"):
            table.add_column(name, justify="left" if name in ("entities", "setting") else "right",
                             no_wrap=True)
        for row in rows:
            table.add_row(*row)
        table.caption = ("reach: the gold pairs whose two concept IDs the setting's mentions "
                         "carry, the most its relation models can find")
        tables.append(table)
    return tables


def write_report(report: dict[str, Any], json_out: str | Path) -> Path:
    """Write `report` (from `evaluate_relations`) as JSON to `json_out`."""
    path = Path(json_out)
    path.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return path
